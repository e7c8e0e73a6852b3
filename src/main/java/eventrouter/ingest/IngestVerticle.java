package eventrouter.ingest;

import eventrouter.bus.Addresses;
import eventrouter.config.RouterConfig.HttpConfig;
import eventrouter.config.RouterConfig.IngestConfig;
import eventrouter.config.RouterConfig.SourceConfig;
import eventrouter.ingest.EventNormalizer.Outcome;
import eventrouter.log.EventLog;
import eventrouter.log.LogRecord;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SocketAddress;
import io.vertx.ext.web.AllowForwardHeaders;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.CorsHandler;
import io.vertx.ext.web.handler.StaticHandler;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Segment/RudderStack-compatible HTTP API, the {@code /v1/stream} WebSocket, the settings the browser SDKs load,
 * and the demo page. Several instances share the port; each one validates and normalises requests on its event loop
 * and answers only after the shared {@link EventLog} has acknowledged every event, and {@link Rejects} every event it
 * refused.
 */
public final class IngestVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(IngestVerticle.class);
  private static final Buffer SUCCESS = Buffer.buffer("{\"success\":true}");
  // Built once, so that writing them costs no encoding (HttpHeaders.createOptimized gives ASCII strings).
  private static final CharSequence APPLICATION_JSON = HttpHeaders.createOptimized("application/json");
  private static final CharSequence SUCCESS_LENGTH = HttpHeaders.createOptimized(Integer.toString(SUCCESS.length()));
  private static final String SOURCE = "eventrouter.source";
  private static final String WRITE_KEY_PARAM = "writeKey";
  private static final long SHUTDOWN_GRACE_SECONDS = 5;

  private final HttpConfig httpConfig;
  private final IngestConfig ingestConfig;
  private final Map<String, SourceConfig> sourcesByWriteKey;
  private final EventLog eventLog;
  private final Rejects rejects;
  private final RateLimiter rateLimiter;
  private final Consumer<Router> otherRoutes;
  private final Clock clock;
  private final StreamStats streamStats;
  private final RequestParser parser;
  private final EventNormalizer normalizer;
  private final SdkSettings sdkSettings;
  private HttpServer server;
  private MessageConsumer<JsonObject> pushes;

  /**
   * @param otherRoutes mounts the routes this HTTP server serves besides ingest (health, admin)
   * @param clock the source of {@code receivedAt}, which every real-time window and timer is measured from
   */
  public IngestVerticle(HttpConfig httpConfig, IngestConfig ingestConfig, Map<String, SourceConfig> sourcesByWriteKey,
      EventLog eventLog, Rejects rejects, RateLimiter rateLimiter, Consumer<Router> otherRoutes, Clock clock,
      StreamStats streamStats) {
    this.httpConfig = httpConfig;
    this.ingestConfig = ingestConfig;
    this.sourcesByWriteKey = sourcesByWriteKey;
    this.eventLog = eventLog;
    this.rejects = rejects;
    this.rateLimiter = rateLimiter;
    this.otherRoutes = otherRoutes;
    this.clock = clock;
    this.streamStats = streamStats;
    this.parser = new RequestParser(ingestConfig.maxBatchEvents());
    this.normalizer = new EventNormalizer(ingestConfig.maxEventBytes());
    this.sdkSettings = new SdkSettings(sourcesByWriteKey::get);
  }

  @Override
  public Future<?> start() {
    Router router = Router.router(vertx);
    // Behind a trusted proxy, the client's address (context.ip, the per-IP rules) is the one it forwards.
    router.allowForward(AllowForwardHeaders.valueOf(httpConfig.forwardedHeaders().toUpperCase(Locale.ROOT)
        .replace('-', '_')));
    CorsHandler cors = Origins.corsHandler(sourcesByWriteKey.values());
    // Without an Origin (every SDK but a browser's) the CorsHandler has nothing to do, so it runs only with one.
    for (String path : List.of("/v1/*", "/beacon/*", "/pixel/*", "/sourceConfig", "/sourceConfig/")) {
      router.route(path).handler(ctx -> corsWhenOrigin(ctx, cors));
    }
    // Cheap refusals first, before the body is read: an unknown key in Basic auth or the query string, an origin the
    // source does not allow.
    router.post("/v1/*").handler(this::admit);
    router.post("/beacon/*").handler(this::admit);
    for (EventType type : EventType.values()) {
      mountIngest(router, "/v1/" + type.wireName(), type);
      // Segment's analytics-next posts each call to its type's initial: /v1/t, /v1/i, /v1/p, /v1/s, /v1/g, /v1/a.
      mountIngest(router, "/v1/" + type.wireName().charAt(0), type);
    }
    // /v1/b: analytics-next's batching strategy and Segment's mobile SDKs; /beacon/v1/batch: RudderStack's beacon.
    for (String batchPath : List.of("/v1/batch", "/v1/import", "/v1/b", "/beacon/v1/batch")) {
      mountIngest(router, batchPath, null);
    }
    // RudderStack's AMP analytics: a GET whose query string is the event.
    router.get("/pixel/v1/track").handler(ctx -> pixel(ctx, EventType.TRACK));
    router.get("/pixel/v1/page").handler(ctx -> pixel(ctx, EventType.PAGE));
    router.get("/v1/projects/:writeKey/settings").handler(this::segmentSettings);
    router.get("/sourceConfig").handler(this::rudderStackConfig);
    router.get("/sourceConfig/").handler(this::rudderStackConfig);
    StreamEndpoint stream = new StreamEndpoint(context, ingestConfig.stream(), ingestConfig.maxRequestBytes(),
        sourcesByWriteKey, parser, normalizer, eventLog, rejects, rateLimiter, clock, streamStats);
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
        // RequestBodies gunzips, so that a body that is not the gzip it claims gets a 400 rather than a dropped
        // connection.
        .setDecompressionSupported(false)
        .setTcpNoDelay(true)
        // A keep-alive connection with nothing on it for two minutes is closed (clients open another). WebSockets
        // stay open: the router pings them, and closes one itself after stream.idleTimeoutMs without a pong.
        .setIdleTimeout((int) Math.max(120, ingestConfig.stream().idleTimeoutMs() / 1000 + 30))
        // StreamEndpoint refuses a message over the limit with close code 1009 as its frames arrive; these only
        // keep Netty from ever buffering more.
        .setMaxWebSocketFrameSize(ingestConfig.maxRequestBytes())
        .setMaxWebSocketMessageSize(2 * ingestConfig.maxRequestBytes());
    pushes = vertx.eventBus().<JsonObject>consumer(Addresses.WEBSOCKET_PUSH, message -> stream.push(message.body()));
    return pushes.completion()
        .compose(v -> vertx.createHttpServer(options).requestHandler(router).listen())
        .onSuccess(s -> server = s);
  }

  /**
   * Stops taking connections and lets the requests under way finish (at most {@link #SHUTDOWN_GRACE_SECONDS}), so
   * that scaling ingest down, or stopping the node, fails no request that was already being answered.
   */
  @Override
  public Future<?> stop() {
    return (server == null ? Future.succeededFuture() : server.shutdown(SHUTDOWN_GRACE_SECONDS, TimeUnit.SECONDS))
        .transform(ar -> pushes.unregister());
  }

  private void mountIngest(Router router, String path, EventType type) {
    // Segment's Java SDK posts to /v1/import/, with the trailing slash.
    for (String variant : List.of(path, path + "/")) {
      router.post(variant).handler(ctx -> ingest(ctx, type));
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
   * A key in Basic auth or the query string, and the origin its source allows: both are checked before the body is
   * read, so a request that fails them costs nothing more. A key only in the body is checked once it is read.
   */
  private void admit(RoutingContext ctx) {
    String writeKey = writeKeyBeforeBody(ctx.request());
    if (writeKey != null) {
      SourceConfig source = sourceFor(writeKey);
      checkOrigin(ctx, source);
      ctx.put(SOURCE, source);
    }
    ctx.next();
  }

  /**
   * Where a request puts its write key, in the order that wins when several disagree: Basic auth (every SDK but
   * Segment's mobile and Java ones), then the query string (RudderStack's beacon), then the body's {@code writeKey}.
   */
  private static String writeKeyBeforeBody(HttpServerRequest request) {
    String header = request.getHeader(HttpHeaders.AUTHORIZATION);
    if (header != null) {
      return writeKeyFromBasicAuth(header);
    }
    String query = request.getParam(WRITE_KEY_PARAM);
    return query == null || query.isEmpty() ? null : query;
  }

  private static void checkOrigin(RoutingContext ctx, SourceConfig source) {
    String origin = ctx.request().getHeader(HttpHeaders.ORIGIN);
    if (!Origins.allows(source, origin)) {
      throw Origins.refused(source, origin);
    }
  }

  private void ingest(RoutingContext ctx, EventType type) {
    RequestBodies.read(vertx, ctx.request(), ingestConfig.maxRequestBytes(), ingestConfig.bodyTimeoutMs())
        .compose(bytes -> store(ctx, type, bytes))
        .onSuccess(rejected -> respond(ctx, type, rejected))
        .onFailure(ctx::fail);
  }

  /**
   * A pixel request (RudderStack's AMP analytics): the query string is the event, a dotted name a nested field
   * ({@code context.library.name=…}), as rudder-server reads it. Stored as a POST's event would be; answered with a
   * 1×1 GIF, which is all an {@code <amp-analytics>} or {@code <img>} tag can take.
   */
  private void pixel(RoutingContext ctx, EventType type) {
    Future.succeededFuture(ctx.request().params())
        .compose(params -> {
          String writeKey = params.get(WRITE_KEY_PARAM);
          SourceConfig source = sourceFor(writeKey == null ? "" : writeKey);
          checkOrigin(ctx, source);
          ctx.put(SOURCE, source);
          return store(ctx, type, PixelEvents.fromQuery(params, WRITE_KEY_PARAM));
        })
        .onSuccess(rejected -> {
          if (rejected.isEmpty()) {
            ctx.response().putHeader(HttpHeaders.CONTENT_TYPE, "image/gif")
                .putHeader(HttpHeaders.CACHE_CONTROL, "no-cache, no-store, must-revalidate").end(PixelEvents.GIF);
          } else {
            respond(ctx, type, rejected);
          }
        })
        .onFailure(ctx::fail);
  }

  /**
   * Normalises every event, then appends the valid ones to the event log and the refused ones to the rejects, both
   * at once.
   *
   * @return the refused events, once everything is durable
   */
  private Future<List<Rejects.Reject>> store(RoutingContext ctx, EventType type, byte[] bytes) {
    ParsedBody body = type == null ? parser.parseBatch(bytes) : parser.parseSingle(bytes);
    SourceConfig source = ctx.get(SOURCE);
    if (source == null) {
      source = sourceFor(writeKeyFromBody(body.writeKey()));
      checkOrigin(ctx, source);
    }
    SocketAddress remote = ctx.request().remoteAddress();
    Instant receivedAt = clock.instant();
    List<Outcome> outcomes = normalizer.normalizeEach(body, type, bytes, source.id(), receivedAt,
        remote == null ? null : remote.hostAddress());
    List<LogRecord> records = new ArrayList<>(outcomes.size());
    List<Rejects.Reject> refused = new ArrayList<>(0);
    for (Outcome outcome : outcomes) {
      if (outcome.error() == null) {
        records.add(outcome.record());
      } else {
        refused.add(rejects.reject(source.id(), receivedAt, ctx.request().path(), body, outcome));
      }
    }
    long retryAfter = rateLimiter.tryAcquire(source, records.size());
    if (retryAfter > 0) {
      throw IngestException.rateLimited("source " + source.id() + " is over its rate limit of "
          + source.rateLimit().eventsPerSecond() + " events/s; retry after " + retryAfter + " s", retryAfter);
    }
    Future<Void> events = eventLog.append(context, records);
    Future<Void> kept = refused.isEmpty() ? Future.succeededFuture() : rejects.append(context, refused);
    return Future.all(events, kept).<List<Rejects.Reject>>map(refused).recover(error -> {
      LOG.warn("answering 503: {}", error.getMessage());
      return Future.failedFuture(IngestException.unavailable("could not make the events durable, nothing was"
          + " acknowledged; retry later (" + error.getMessage() + ")"));
    });
  }

  /**
   * 200 once everything is durable. A batch names its refused events beside the success; a single event that was
   * refused gets its refusal (400 or 413, naming the field), though it is kept too.
   */
  private static void respond(RoutingContext ctx, EventType type, List<Rejects.Reject> refused) {
    if (refused.isEmpty()) {
      // Nothing else sets these two, so they are added rather than set (set looks for an old value first), and
      // with the length given Vert.x need not work it out.
      ctx.response().headers().add(HttpHeaders.CONTENT_TYPE, APPLICATION_JSON).add(HttpHeaders.CONTENT_LENGTH,
          SUCCESS_LENGTH);
      ctx.response().end(SUCCESS);
    } else if (type != null && refused.size() == 1 && refused.get(0).index() == null) {
      IngestException error = refused.get(0).error();
      respondError(ctx, error.status(), error.getMessage(), 0);
    } else {
      JsonArray rejected = new JsonArray();
      refused.forEach(reject -> rejected.add(reject.toJson()));
      ctx.response().putHeader(HttpHeaders.CONTENT_TYPE, APPLICATION_JSON)
          .end(new JsonObject().put("success", true).put("rejected", rejected).toBuffer());
    }
  }

  private void segmentSettings(RoutingContext ctx) {
    String writeKey = ctx.pathParam("writeKey");
    checkOriginOfKey(ctx, writeKey);
    JsonObject settings = sdkSettings.segment(ctx.request(), writeKey);
    ctx.response().putHeader(HttpHeaders.CONTENT_TYPE, APPLICATION_JSON).end(settings.toBuffer());
  }

  private void rudderStackConfig(RoutingContext ctx) {
    String writeKey = writeKeyBeforeBody(ctx.request());
    checkOriginOfKey(ctx, writeKey);
    JsonObject config = sdkSettings.rudderStack(writeKey);
    ctx.response().putHeader(HttpHeaders.CONTENT_TYPE, APPLICATION_JSON).end(config.toBuffer());
  }

  /** Settings are refused to a page its source does not allow, as its events would be; an unknown key is 4xx below. */
  private void checkOriginOfKey(RoutingContext ctx, String writeKey) {
    SourceConfig source = writeKey == null ? null : sourcesByWriteKey.get(writeKey);
    if (source != null) {
      checkOrigin(ctx, source);
    }
  }

  private SourceConfig sourceFor(String writeKey) {
    SourceConfig source = sourcesByWriteKey.get(writeKey);
    if (source == null) {
      throw IngestException.unauthorized("Invalid write key: no source has this key");
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
      throw IngestException.unauthorized("Invalid write key: none was sent; send it as the Basic auth username, the"
          + " writeKey query parameter or the body's writeKey field");
    }
    return key;
  }

  private void renderFailure(RoutingContext ctx) {
    Throwable failure = ctx.failure();
    if (failure instanceof IngestException refused) {
      respondError(ctx, refused.status(), refused.getMessage(), refused.retryAfterSeconds());
    } else if (ctx.statusCode() == 403 && failure != null && ctx.request().headers().contains(HttpHeaders.ORIGIN)) {
      // The CorsHandler refuses this way an Origin it cannot parse, or one that no source allows.
      respondError(ctx, 403, "the Origin header \"" + ctx.request().getHeader(HttpHeaders.ORIGIN)
          + "\" is not an origin (scheme://host[:port]) that a source allows", 0);
    } else if (ctx.request().version() != HttpVersion.HTTP_2 && ctx.request().getHeader(HttpHeaders.HOST) == null) {
      // Vert.x Web cannot route an HTTP/1.1 request without a Host header; it is the client's mistake.
      respondError(ctx, 400, "the Host header is missing: every HTTP/1.1 request must have one", 0);
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
    if (status == 408) {
      ctx.response().putHeader(HttpHeaders.CONNECTION, "close"); // the sender stalled: do not wait on it any more
    }
    ctx.response()
        .setStatusCode(status)
        .putHeader(HttpHeaders.CONTENT_TYPE, APPLICATION_JSON)
        .end(new JsonObject().put("success", false).put("error", message).toBuffer());
  }
}
