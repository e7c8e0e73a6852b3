package eventrouter.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import eventrouter.config.RouterConfig.SourceConfig;
import eventrouter.config.RouterConfig.StreamConfig;
import eventrouter.ingest.EventNormalizer.Outcome;
import eventrouter.log.EventLog;
import eventrouter.log.LogRecord;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.WebSocketFrame;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /v1/stream}: events in over a WebSocket, validated exactly as over HTTP, acknowledged once durable (the
 * same ack point), and frames pushed back to the user's open sockets. One per ingest instance, on its event loop.
 */
final class StreamEndpoint {
  private static final Logger LOG = LoggerFactory.getLogger(StreamEndpoint.class);
  private static final ObjectMapper MAPPER = RequestParser.MAPPER;
  static final short POLICY_VIOLATION = 1008;
  static final short TRY_AGAIN_LATER = 1013;
  static final short GOING_AWAY = 1001;
  static final short MESSAGE_TOO_BIG = 1009;
  private static final String STREAM_PATH = "/v1/stream";
  /** A close frame's reason is at most 123 bytes. */
  private static final int MAX_CLOSE_REASON = 120;

  private final Context context;
  private final StreamConfig config;
  private final int maxFrameBytes;
  private final Map<String, SourceConfig> sourcesByWriteKey;
  private final RequestParser parser;
  private final EventNormalizer normalizer;
  private final EventLog eventLog;
  private final Rejects rejects;
  private final RateLimiter rateLimiter;
  private final Clock clock;
  private final StreamStats stats;
  /** Open sockets by every userId and anonymousId their events named. */
  private final Map<String, Set<Connection>> byUserId = new HashMap<>();

  /** @param maxFrameBytes the largest message, as for an HTTP request body */
  StreamEndpoint(Context context, StreamConfig config, int maxFrameBytes, Map<String, SourceConfig> sourcesByWriteKey,
      RequestParser parser, EventNormalizer normalizer, EventLog eventLog, Rejects rejects, RateLimiter rateLimiter,
      Clock clock, StreamStats stats) {
    this.context = context;
    this.config = config;
    this.maxFrameBytes = maxFrameBytes;
    this.sourcesByWriteKey = sourcesByWriteKey;
    this.parser = parser;
    this.normalizer = normalizer;
    this.eventLog = eventLog;
    this.rejects = rejects;
    this.rateLimiter = rateLimiter;
    this.clock = clock;
    this.stats = stats;
  }

  /** The upgrade request: a write key may come as {@code ?writeKey=}, in Basic auth, or in a first hello frame. */
  void upgrade(RoutingContext ctx) {
    String writeKey = ctx.request().getParam("writeKey");
    String authorization = ctx.request().getHeader(HttpHeaders.AUTHORIZATION);
    String ip = ctx.request().remoteAddress() == null ? null : ctx.request().remoteAddress().hostAddress();
    String origin = ctx.request().getHeader(HttpHeaders.ORIGIN);
    ctx.request().toWebSocket().onSuccess(ws -> {
      Connection connection = new Connection(ws, ip, origin);
      String key = writeKey;
      if (key == null && authorization != null) {
        try {
          key = IngestVerticle.writeKeyFromBasicAuth(authorization);
        } catch (IngestException refused) {
          ws.close(POLICY_VIOLATION, refused.getMessage());
          return;
        }
      }
      if (key != null && !connection.authenticate(key)) {
        return;
      }
      connection.listen();
    }).onFailure(error -> LOG.debug("WebSocket upgrade failed: {}", error.getMessage()));
  }

  /** A frame for a user from the event bus: written to each of its sockets held here; without one, dropped. */
  void push(JsonObject message) {
    Set<Connection> targets = new LinkedHashSet<>();
    for (Object id : message.getJsonArray("ids", new JsonArray())) {
      if (id instanceof String userId) {
        targets.addAll(byUserId.getOrDefault(userId, Set.of()));
      }
    }
    if (targets.isEmpty()) {
      return;
    }
    String frame = message.getJsonObject("frame").encode();
    for (Connection target : targets) {
      // A socket that does not read its frames is not buffered for without bound: its push is dropped.
      boolean writable = !target.ws.writeQueueFull();
      if (writable) {
        target.ws.writeTextMessage(frame);
      }
      stats.pushed(writable);
    }
  }

  private static String abbreviateReason(String reason) {
    return reason.length() <= MAX_CLOSE_REASON ? reason : reason.substring(0, MAX_CLOSE_REASON - 3) + "...";
  }

  private final class Connection {
    private final ServerWebSocket ws;
    private final String ip;
    /** The page's origin when a browser opened the socket; its source must allow it. */
    private final String origin;
    private final Set<String> userIds = new HashSet<>();
    private SourceConfig source;
    private int unacked;
    private boolean paused;
    private long lastHeardAt;
    private long heartbeat = -1;
    private long messageBytes;

    Connection(ServerWebSocket ws, String ip, String origin) {
      this.ws = ws;
      this.ip = ip;
      this.origin = origin;
      this.lastHeardAt = System.nanoTime();
    }

    /** @return false when the socket was closed for the key */
    boolean authenticate(String writeKey) {
      SourceConfig found = sourcesByWriteKey.get(writeKey);
      if (found == null) {
        ws.close(POLICY_VIOLATION, "Invalid write key");
        return false;
      }
      if (!Origins.allows(found, origin)) {
        ws.close(POLICY_VIOLATION, abbreviateReason(Origins.refused(found, origin).getMessage()));
        return false;
      }
      if (!stats.tryOpen(found.id(), config.maxConnectionsPerKey())) {
        ws.close(TRY_AGAIN_LATER, "too many connections for this write key (limit " + config.maxConnectionsPerKey()
            + " per node)");
        return false;
      }
      source = found;
      return true;
    }

    void listen() {
      ws.frameHandler(this::measure);
      ws.textMessageHandler(this::onMessage);
      ws.binaryMessageHandler(buffer -> onMessage(buffer.toString(StandardCharsets.UTF_8)));
      ws.pongHandler(pong -> lastHeardAt = System.nanoTime());
      ws.exceptionHandler(error -> LOG.debug("WebSocket error: {}", error.getMessage()));
      ws.closeHandler(v -> closed());
      heartbeat = context.owner().setPeriodic(config.pingIntervalMs(), id -> beat());
    }

    /** Counts a message's bytes frame by frame, so an oversize one is refused before it is all read. */
    private void measure(WebSocketFrame frame) {
      if (!frame.isText() && !frame.isBinary() && !frame.isContinuation()) {
        return;
      }
      messageBytes += frame.binaryData().length();
      if (messageBytes > maxFrameBytes) {
        messageBytes = 0;
        ws.close(MESSAGE_TOO_BIG, "message exceeds " + maxFrameBytes + " bytes, the limit per frame");
      } else if (frame.isFinal()) {
        messageBytes = 0;
      }
    }

    private void beat() {
      if ((System.nanoTime() - lastHeardAt) / 1_000_000 > config.idleTimeoutMs()) {
        ws.close(GOING_AWAY, "idle for more than " + config.idleTimeoutMs() + " ms");
      } else {
        ws.writePing(Buffer.buffer("ping"));
      }
    }

    private void closed() {
      context.owner().cancelTimer(heartbeat);
      for (String userId : userIds) {
        Set<Connection> sockets = byUserId.get(userId);
        if (sockets != null && sockets.remove(this) && sockets.isEmpty()) {
          byUserId.remove(userId);
        }
      }
      if (source != null) {
        stats.closed(source.id());
      }
    }

    private void onMessage(String text) {
      lastHeardAt = System.nanoTime();
      byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
      if (source == null) {
        hello(bytes);
        return;
      }
      ParsedBody body;
      Instant receivedAt;
      List<Outcome> outcomes;
      try {
        body = parser.parseFrame(bytes);
        receivedAt = clock.instant();
        outcomes = normalizer.normalizeEach(body, null, bytes, source.id(), receivedAt, ip);
      } catch (IngestException refused) {
        send(new JsonObject().put("type", "error").putNull("index").put("error", refused.getMessage()));
        return;
      }
      List<LogRecord> records = new ArrayList<>();
      List<Rejects.Reject> refused = new ArrayList<>(0);
      for (Outcome outcome : outcomes) {
        if (outcome.error() != null) {
          refused.add(rejects.reject(source.id(), receivedAt, STREAM_PATH, body, outcome));
        } else {
          records.add(outcome.record());
          belongsTo(outcome);
        }
      }
      if (!refused.isEmpty()) {
        // The error frames go once the refused events are kept, as an HTTP answer would.
        rejects.append(context, refused)
            .onFailure(error -> LOG.warn("could not keep {} refused stream events: {}", refused.size(),
                error.getMessage()))
            .onComplete(ar -> refused.forEach(reject -> sendError(reject.index() == null ? 0 : reject.index(),
                reject.messageId(), reject.error().getMessage())));
      }
      if (records.isEmpty()) {
        return;
      }
      long retryAfter = rateLimiter.tryAcquire(source, records.size());
      if (retryAfter > 0) {
        for (Outcome outcome : outcomes) {
          if (outcome.record() != null) {
            sendError(outcome.index(), outcome.messageId(), "source " + source.id() + " is over its rate limit of "
                + source.rateLimit().eventsPerSecond() + " events/s; retry after " + retryAfter + " s");
          }
        }
        return;
      }
      hold(records.size());
      eventLog.append(context, records).onComplete(ar -> {
        if (ar.succeeded()) {
          JsonArray ids = new JsonArray();
          records.forEach(record -> ids.add(record.messageId()));
          send(new JsonObject().put("type", "ack").put("messageIds", ids));
        } else {
          for (Outcome outcome : outcomes) {
            if (outcome.record() != null) {
              sendError(outcome.index(), outcome.messageId(), "could not make the event durable, it was not"
                  + " acknowledged; send it again (" + ar.cause().getMessage() + ")");
            }
          }
        }
        release(records.size());
      });
    }

    private void hello(byte[] bytes) {
      JsonNode hello;
      try {
        hello = MAPPER.readTree(bytes);
      } catch (IOException e) {
        hello = null;
      }
      if (hello == null || !"hello".equals(hello.path("type").asText()) || !hello.path("writeKey").isTextual()) {
        ws.close(POLICY_VIOLATION, "write key is missing: pass ?writeKey=, Basic auth, or a first frame"
            + " {\"type\":\"hello\",\"writeKey\":...}");
        return;
      }
      if (authenticate(hello.get("writeKey").asText())) {
        send(new JsonObject().put("type", "ready"));
      }
    }

    /** The socket now belongs to the ids this event names; an identify adds its userId. */
    private void belongsTo(Outcome event) {
      for (String id : new String[] {event.userId(), event.anonymousId()}) {
        if (id != null && userIds.add(id)) {
          byUserId.computeIfAbsent(id, key -> new HashSet<>()).add(this);
        }
      }
    }

    /** Backpressure: at the cap, stop reading the socket, so TCP pushes back on the client, until acks catch up. */
    private void hold(int events) {
      unacked += events;
      stats.unacked(unacked);
      if (!paused && unacked >= config.maxUnacked()) {
        paused = true;
        ws.pause();
      }
    }

    private void release(int events) {
      unacked -= events;
      if (paused && unacked < config.maxUnacked()) {
        paused = false;
        ws.resume();
      }
    }

    private void sendError(int index, String messageId, String error) {
      send(new JsonObject().put("type", "error").put("index", index).put("messageId", messageId).put("error", error));
    }

    private void send(JsonObject frame) {
      if (!ws.isClosed()) {
        ws.writeTextMessage(frame.encode());
      }
    }
  }
}
