package eventrouter.ingest;

import eventrouter.bus.Addresses;
import eventrouter.config.RouterConfig.HttpConfig;
import eventrouter.config.RouterConfig.IngestConfig;
import eventrouter.config.RouterConfig.SourceConfig;
import eventrouter.log.EventLog;
import eventrouter.log.LogRecord;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SocketAddress;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.CorsHandler;
import io.vertx.ext.web.handler.StaticHandler;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Segment/RudderStack-compatible HTTP API, the {@code /v1/stream} WebSocket and the demo page. Several instances share the port; each one validates and normalises
 * requests on its event loop and answers only after the shared {@link EventLog} has acknowledged every event.
 */
public final class IngestVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(IngestVerticle.class);
  private static final Buffer SUCCESS = Buffer.buffer("{\"success\":true}");
  // Built once, so that writing them costs no encoding (HttpHeaders.createOptimized gives ASCII strings).
  private static final CharSequence APPLICATION_JSON = HttpHeaders.createOptimized("application/json");
  private static final CharSequence SUCCESS_LENGTH = HttpHeaders.createOptimized(Integer.toString(SUCCESS.length()));
  private static final String SOURCE = "eventrouter.source";
  private static final List<String> ACCEPTED_CONTENT_TYPES = List.of("application/json", "text/plain");

  private final HttpConfig httpConfig;
  private final IngestConfig ingestConfig;
  private final Map<String, SourceConfig> sourcesByWriteKey;
  private final EventLog eventLog;
  private final RateLimiter rateLimiter;
  private final Consumer<Router> otherRoutes;
  private final Clock clock;
  private final StreamStats streamStats;
  private final RequestParser parser;
  private final EventNormalizer normalizer;
  private HttpServer server;
  private MessageConsumer<JsonObject> pushes;

  /**
   * @param otherRoutes mounts the routes this HTTP server serves besides ingest (health, admin)
   * @param clock the source of {@code receivedAt}, which every real-time window and timer is measured from
   */
  public IngestVerticle(HttpConfig httpConfig, IngestConfig ingestConfig, Map<String, SourceConfig> sourcesByWriteKey,
      EventLog eventLog, RateLimiter rateLimiter, Consumer<Router> otherRoutes, Clock clock, StreamStats streamStats) {
    this.httpConfig = httpConfig;
    this.ingestConfig = ingestConfig;
    this.sourcesByWriteKey = sourcesByWriteKey;
    this.eventLog = eventLog;
    this.rateLimiter = rateLimiter;
    this.otherRoutes = otherRoutes;
    this.clock = clock;
    this.streamStats = streamStats;
    this.parser = new RequestParser(ingestConfig.maxBatchEvents());
    this.normalizer = new EventNormalizer(ingestConfig.maxEventBytes());
  }

  @Override
  public Future<?> start() {
    Router router = Router.router(vertx);
    CorsHandler cors = CorsHandler.create()
        .allowedMethod(HttpMethod.POST)
        .allowedHeaders(Set.of("Authorization", "Content-Type", "Content-Encoding"));
    // Without an Origin (every SDK but a browser's) the CorsHandler has nothing to do, so it runs only with one.
    router.route("/v1/*").handler(ctx -> corsWhenOrigin(ctx, cors));
    // Cheap refusals first, before the body is read. Vert.x Web wants body handlers ahead of user handlers on one
    // route, so these checks are a route of their own that every ingest request passes through.
    router.post("/v1/*").handler(this::admit);
    BodyHandler body = BodyHandler.create(false).setBodyLimit(ingestConfig.maxRequestBytes());
    for (EventType type : EventType.values()) {
      mountIngest(router, "/v1/" + type.wireName(), body, type);
    }
    mountIngest(router, "/v1/batch", body, null);
    mountIngest(router, "/v1/import", body, null);
    StreamEndpoint stream = new StreamEndpoint(context, ingestConfig.stream(), ingestConfig.maxRequestBytes(),
        sourcesByWriteKey, parser, normalizer,
        eventLog, rateLimiter, clock, streamStats);
    router.get("/v1/stream").handler(stream::upgrade);
    // Vert.x Web matches "/demo" for "/demo/" too: redirect only the bare path, or the redirect would loop.
    router.get("/demo").handler(ctx -> {
      if (ctx.request().path().equals("/demo")) {
        ctx.redirect("/demo/");
      } else {
        ctx.next();
      }
    });
    router.route("/demo/*").handler(StaticHandler.create("webroot/demo"));
    otherRoutes.accept(router);
    router.route().failureHandler(this::renderFailure);

    HttpServerOptions options = new HttpServerOptions()
        .setHost(httpConfig.host())
        .setPort(httpConfig.port())
        .setDecompressionSupported(true) // RudderStack's Node SDK gzips by default
        .setTcpNoDelay(true)
        // StreamEndpoint refuses a message over the limit with close code 1009 as its frames arrive; these only
        // keep Netty from ever buffering more.
        .setMaxWebSocketFrameSize(ingestConfig.maxRequestBytes())
        .setMaxWebSocketMessageSize(2 * ingestConfig.maxRequestBytes());
    pushes = vertx.eventBus().<JsonObject>consumer(Addresses.WEBSOCKET_PUSH, message -> stream.push(message.body()));
    return pushes.completion()
        .compose(v -> vertx.createHttpServer(options).requestHandler(router).listen())
        .onSuccess(s -> server = s);
  }

  @Override
  public Future<?> stop() {
    return (server == null ? Future.succeededFuture() : server.close()).transform(ar -> pushes.unregister());
  }

  private void mountIngest(Router router, String path, BodyHandler body, EventType type) {
    // Segment's Java SDK posts to /v1/import/, with the trailing slash.
    for (String variant : List.of(path, path + "/")) {
      router.post(variant).handler(body).handler(ctx -> ingest(ctx, type));
    }
  }

  private static void corsWhenOrigin(RoutingContext ctx, CorsHandler cors) {
    if (ctx.request().headers().contains(HttpHeaders.ORIGIN)) {
      cors.handle(ctx);
    } else {
      ctx.next(); // what the CorsHandler does without an Origin too
    }
  }

  /**
   * The content type, then a key in Basic auth: both are checked before the body is read, so a request that fails
   * them costs nothing more.
   */
  private void admit(RoutingContext ctx) {
    checkContentType(ctx.request().getHeader(HttpHeaders.CONTENT_TYPE));
    String header = ctx.request().getHeader(HttpHeaders.AUTHORIZATION);
    if (header != null) {
      ctx.put(SOURCE, sourceFor(writeKeyFromBasicAuth(header)));
    }
    ctx.next();
  }

  static void checkContentType(String contentType) {
    if (contentType != null && (contentType.equals("application/json") || contentType.equals("text/plain"))) {
      return; // what SDKs send; the rest is parsed below
    }
    String mediaType = contentType == null ? "" : contentType.split(";", 2)[0].trim().toLowerCase();
    // text/plain is what browser SDKs send to avoid a CORS preflight; the body is JSON all the same.
    if (!ACCEPTED_CONTENT_TYPES.contains(mediaType)) {
      throw IngestException.unsupportedMediaType("Content-Type must be application/json (got "
          + (contentType == null ? "none" : "\"" + contentType + "\"") + ")");
    }
  }

  private void ingest(RoutingContext ctx, EventType type) {
    byte[] bytes = ctx.body().buffer().getBytes();
    ParsedBody body = type == null ? parser.parseBatch(bytes) : parser.parseSingle(bytes);
    SourceConfig source = ctx.get(SOURCE);
    if (source == null) {
      source = sourceFor(writeKeyFromBody(body.writeKey()));
    }
    SocketAddress remote = ctx.request().remoteAddress();
    List<LogRecord> records = normalizer.normalize(body, type, bytes, source.id(), clock.instant(),
        remote == null ? null : remote.hostAddress());
    long retryAfter = rateLimiter.tryAcquire(source, records.size());
    if (retryAfter > 0) {
      throw IngestException.rateLimited("source " + source.id() + " is over its rate limit of "
          + source.rateLimit().eventsPerSecond() + " events/s; retry after " + retryAfter + " s", retryAfter);
    }
    eventLog.append(context, records)
        .onSuccess(v -> {
          // Nothing else sets these two, so they are added rather than set (set looks for an old value first), and
          // with the length given Vert.x need not work it out.
          ctx.response().headers().add(HttpHeaders.CONTENT_TYPE, APPLICATION_JSON).add(HttpHeaders.CONTENT_LENGTH,
              SUCCESS_LENGTH);
          ctx.response().end(SUCCESS);
        })
        .onFailure(error -> {
          LOG.warn("answering 503: {}", error.getMessage());
          respondError(ctx, 503, "could not make the events durable, nothing was acknowledged; retry later ("
              + error.getMessage() + ")", 0);
        });
  }

  private SourceConfig sourceFor(String writeKey) {
    SourceConfig source = sourcesByWriteKey.get(writeKey);
    if (source == null) {
      throw IngestException.unauthorized("unknown write key");
    }
    return source;
  }

  /**
   * The scheme, then the credentials after the first run of whitespace; the key is what precedes the decoded
   * credentials' first colon. (This is what splitting on {@code \\s+} did, without a regular expression.)
   */
  static String writeKeyFromBasicAuth(String header) {
    String trimmed = header.trim();
    int schemeEnd = 0;
    while (schemeEnd < trimmed.length() && !isRegexWhitespace(trimmed.charAt(schemeEnd))) {
      schemeEnd++;
    }
    int credentials = schemeEnd;
    while (credentials < trimmed.length() && isRegexWhitespace(trimmed.charAt(credentials))) {
      credentials++;
    }
    if (schemeEnd == 5 && credentials < trimmed.length() && trimmed.regionMatches(true, 0, "Basic", 0, 5)) {
      try {
        String decoded = new String(Base64.getDecoder().decode(trimmed.substring(credentials)),
            StandardCharsets.UTF_8);
        int colon = decoded.indexOf(':');
        String key = colon < 0 ? decoded : decoded.substring(0, colon);
        if (!key.isEmpty()) {
          return key;
        }
      } catch (IllegalArgumentException malformedBase64) {
        // reported below, like any other unusable header
      }
    }
    throw IngestException.unauthorized("Authorization header must be Basic base64(\"<writeKey>:\")");
  }

  /** {@code \\s} of java.util.regex: space, tab, line feed, vertical tab, form feed, carriage return. */
  private static boolean isRegexWhitespace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\u000B' || c == '\f' || c == '\r';
  }

  private static String writeKeyFromBody(String key) {
    if (key == null || key.isEmpty()) {
      throw IngestException.unauthorized("write key is missing: send it as the Basic auth username or as the body's"
          + " writeKey field");
    }
    return key;
  }

  private void renderFailure(RoutingContext ctx) {
    Throwable failure = ctx.failure();
    if (failure instanceof IngestException refused) {
      respondError(ctx, refused.status(), refused.getMessage(), refused.retryAfterSeconds());
    } else if (ctx.statusCode() == 413) {
      respondError(ctx, 413, "request body exceeds " + ingestConfig.maxRequestBytes()
          + " bytes (measured after gzip decompression), the limit per request", 0);
    } else if (ctx.statusCode() == 403 && failure != null && ctx.request().headers().contains(HttpHeaders.ORIGIN)) {
      // The CorsHandler refuses an Origin it cannot parse this way.
      respondError(ctx, 403, "the Origin header \"" + ctx.request().getHeader(HttpHeaders.ORIGIN)
          + "\" is not an origin (scheme://host[:port])", 0);
    } else if (failure == null && ctx.statusCode() >= 400 && ctx.statusCode() < 500) {
      respondError(ctx, ctx.statusCode(), ctx.response().getStatusMessage(), 0);
    } else {
      LOG.error("unexpected failure on {} {}", ctx.request().method(), ctx.request().path(), failure);
      respondError(ctx, 500, "internal error; nothing from this request was acknowledged", 0);
    }
  }

  private static void respondError(RoutingContext ctx, int status, String message, long retryAfterSeconds) {
    if (ctx.response().ended()) {
      return;
    }
    if (retryAfterSeconds > 0) {
      ctx.response().putHeader(HttpHeaders.RETRY_AFTER, Long.toString(retryAfterSeconds));
    }
    ctx.response()
        .setStatusCode(status)
        .putHeader(HttpHeaders.CONTENT_TYPE, APPLICATION_JSON)
        .end(new JsonObject().put("success", false).put("error", message).toBuffer());
  }
}
