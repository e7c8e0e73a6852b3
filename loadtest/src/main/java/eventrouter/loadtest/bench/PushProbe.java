package eventrouter.loadtest.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * Ingest → signal pushed over a WebSocket, measured from outside the router.
 *
 * <ol>
 *   <li>Opens {@code --sockets} WebSockets on {@code /v1/stream?writeKey=}, one per user ({@code push-<run>-<i>}, fresh
 *       each run), and binds each to its user the way a web page does: an {@code identify} naming the userId, sent on
 *       the socket and acknowledged (a socket belongs to the ids its own events name).</li>
 *   <li>Sends {@code Bench Push} track events at a constant {@code --rate} (an open model, as {@link RateLoad}),
 *       round-robin over the users, each with its own messageId, over HTTP {@code POST /v1/track} ({@code --via http},
 *       the default) or on the user's socket ({@code --via socket}). The bench's rules file has a {@code match} rule
 *       ({@code --rule}, default {@code bench-push}) raising a signal for each, which the real-time path pushes to the
 *       user's sockets once it is durable.</li>
 *   <li>For each {@code signal} frame of that rule it records the frame's arrival (this machine's clock) minus its
 *       cause's {@code receivedAt} (the router's clock when ingest took the event: the rule copies it into the
 *       signal's {@code properties.causeReceivedAt}; without it, the frame's own {@code receivedAt}, which for a match
 *       rule is its cause's), and, beside it, the arrival minus when the event was <em>scheduled</em> to be sent
 *       (coordinated-omission corrected, client's clock only). The frame's {@code causes[0]} is the messageId, so each
 *       push is matched to its event; a push on another user's socket, or twice, is counted.</li>
 * </ol>
 *
 * <pre>
 * java -cp ... eventrouter.loadtest.bench.PushProbe --url http://127.0.0.1:8080 --key KEY --sockets 200 --rate 500
 *     --seconds 20 [--warmup 5] [--via http|socket] [--rule bench-push] [--event "Bench Push"] [--waitSec 15]
 *     [--out FILE]
 * </pre>
 *
 * The first {@code --warmup} seconds' worth of events are sent and checked but not timed. After the last send it
 * waits at most {@code --waitSec} for the pushes still due; the rest count as missing. Every phase has a deadline, so
 * it always stops by itself. It prints one JSON object.
 */
public final class PushProbe {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long CONNECT_DEADLINE_MS = 30_000;

  private final Vertx vertx;
  private final HttpClientAgent http;
  private final WebSocketClient wsClient;
  private final String host;
  private final int port;
  private final String key;
  private final String authorization;
  private final String via;
  private final String ruleId;
  private final String event;
  private final int socketCount;
  private final double rate;
  private final long warmupCount;
  private final int total;
  private final long waitMs;
  private final String run = Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16);
  /** By user index; null where the socket could not be opened. */
  private final WebSocket[] sockets;
  private int socketsOpen;
  private final long[] scheduled;
  private final BitSet acknowledged;
  /** Events the router refused or that failed on the way (HTTP error, error frame): counted in errors. */
  private final BitSet refused;
  private final BitSet pushed;
  private final Histogram fromReceivedAt = new Histogram(3_600_000_000L, 3);
  private final Histogram fromScheduled = new Histogram(3_600_000_000L, 3);
  private final Map<String, Long> errors = new TreeMap<>();
  /** Sockets waiting for the ack of their identify, by index. */
  private final Map<Integer, Promise<Void>> binding = new HashMap<>();
  private final Promise<Void> finished = Promise.promise();
  private long startNanos;
  private int sent;
  private long ok;
  private long pushes;
  private long duplicates;
  private long wrongSocket;
  private long withoutCauseReceivedAt;
  private long bound;
  private long firstSendEpochMs;
  private long lastSendEpochMs;

  private PushProbe(Args args) {
    URI url = URI.create(args.get("url"));
    this.host = url.getHost();
    if (!host.startsWith("127.") && !host.equals("localhost") && !host.equals("[::1]") && !host.equals("::1")) {
      throw new IllegalArgumentException("--url must be on this machine (127.0.0.0/8, localhost, ::1); got " + url);
    }
    this.port = url.getPort();
    this.key = args.get("key");
    this.authorization = "Basic " + Base64.getEncoder().encodeToString((key + ":").getBytes(StandardCharsets.UTF_8));
    this.via = args.get("via", "http");
    if (!via.equals("http") && !via.equals("socket")) {
      throw new IllegalArgumentException("--via must be http or socket (got " + via + ")");
    }
    this.ruleId = args.get("rule", "bench-push");
    this.event = args.get("event", "Bench Push");
    this.socketCount = (int) args.getLong("sockets", 200);
    this.rate = args.getDouble("rate", 500);
    double seconds = args.getDouble("seconds", 20);
    double warmup = args.getDouble("warmup", 0);
    if (socketCount < 1 || socketCount > 5000) {
      throw new IllegalArgumentException("--sockets must be in [1, 5000] (got " + socketCount + ")");
    }
    if (rate <= 0 || rate > 20_000 || seconds <= 0 || seconds > 600 || warmup < 0 || warmup > 600) {
      throw new IllegalArgumentException("--rate must be in (0, 20000], --seconds in (0, 600] and --warmup in [0, 600]");
    }
    this.warmupCount = Math.round(rate * warmup);
    this.total = (int) (warmupCount + Math.round(rate * seconds));
    this.waitMs = args.getLong("waitSec", 15) * 1000;
    this.sockets = new WebSocket[socketCount];
    this.scheduled = new long[total];
    this.acknowledged = new BitSet(total);
    this.refused = new BitSet(total);
    this.pushed = new BitSet(total);
    this.vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1));
    this.http = vertx.createHttpClient(
        new HttpClientOptions().setKeepAlive(true).setTcpNoDelay(true).setConnectTimeout(5_000),
        new PoolOptions().setHttp1MaxSize(64));
    this.wsClient = vertx.createWebSocketClient(new WebSocketClientOptions().setMaxConnections(socketCount + 1)
        .setTcpNoDelay(true).setConnectTimeout(10_000));
  }

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv, 0);
    PushProbe probe = new PushProbe(args);
    ObjectNode result = probe.run();
    String text = JSON.writerWithDefaultPrettyPrinter().writeValueAsString(result);
    String out = args.get("out", null);
    if (out != null) {
      java.nio.file.Files.writeString(java.nio.file.Path.of(out), text);
    }
    System.out.println(text);
    System.exit(result.path("socketsBound").asInt() > 0 ? 0 : 1);
  }

  private ObjectNode run() throws Exception {
    CompletableFuture<ObjectNode> completion = new CompletableFuture<>();
    vertx.runOnContext(v -> connectAll()
        .compose(connected -> bindAll())
        .compose(boundCount -> {
          bound = boundCount;
          if (boundCount < socketCount) {
            return Future.failedFuture("only " + boundCount + " of " + socketCount + " sockets opened and bound");
          }
          return load();
        })
        .onComplete(ar -> {
          if (ar.failed()) {
            errors.merge(ar.cause().getMessage(), 1L, Long::sum);
          }
          // On the event loop, which every handler runs on: frames still arriving cannot change it half-way.
          completion.complete(result());
        }));
    long deadlineSec = 2 * CONNECT_DEADLINE_MS / 1000 + (long) Math.ceil(total / rate) + waitMs / 1000 + 30;
    ObjectNode result = completion.get(deadlineSec, TimeUnit.SECONDS);
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    return result;
  }

  // ---- 1. sockets ---------------------------------------------------------------------------------------------------

  private Future<Void> connectAll() {
    String uri = "/v1/stream?writeKey=" + URLEncoder.encode(key, StandardCharsets.UTF_8);
    List<Future<WebSocket>> connects = new ArrayList<>();
    for (int i = 0; i < socketCount; i++) {
      int index = i;
      connects.add(wsClient.connect(new WebSocketConnectOptions().setHost(host).setPort(port).setURI(uri)
              .setTimeout(CONNECT_DEADLINE_MS))
          .onSuccess(ws -> {
            ws.textMessageHandler(text -> onFrame(index, text));
            ws.exceptionHandler(error -> errors.merge("socket error: " + error.getMessage(), 1L, Long::sum));
            ws.closeHandler(v -> errors.merge("socket closed by the router: " + ws.closeStatusCode() + " "
                + ws.closeReason(), 1L, Long::sum));
          }));
    }
    return Future.join(connects).transform(ar -> {
      for (int i = 0; i < socketCount; i++) {
        if (connects.get(i).succeeded()) {
          sockets[i] = connects.get(i).result();
          socketsOpen++;
        } else {
          errors.merge("could not open a socket: " + connects.get(i).cause().getMessage(), 1L, Long::sum);
        }
      }
      return Future.succeededFuture();
    });
  }

  /** Each socket identifies its user and waits for the ack: from then on, that user's pushes reach it. */
  private Future<Long> bindAll() {
    List<Future<Void>> acks = new ArrayList<>();
    for (int i = 0; i < socketCount; i++) {
      if (sockets[i] == null) {
        continue;
      }
      Promise<Void> ack = Promise.promise();
      binding.put(i, ack);
      acks.add(ack.future());
      sockets[i].writeTextMessage("{\"type\":\"identify\",\"userId\":\"" + user(i) + "\",\"messageId\":\"bind-"
          + run + "-" + i + "\",\"traits\":{\"bench\":\"push\"}}");
    }
    long timer = vertx.setTimer(CONNECT_DEADLINE_MS, id -> binding.values()
        .forEach(p -> p.tryFail("no ack for the identify within " + CONNECT_DEADLINE_MS / 1000 + " s")));
    return Future.join(acks).transform(ar -> {
      vertx.cancelTimer(timer);
      long boundCount = acks.stream().filter(Future::succeeded).count();
      acks.stream().filter(Future::failed)
          .forEach(f -> errors.merge("bind: " + f.cause().getMessage(), 1L, Long::sum));
      binding.clear();
      return Future.succeededFuture(boundCount);
    });
  }

  private String user(int socket) {
    return "push-" + run + "-" + socket;
  }

  // ---- 2. the open-model load ---------------------------------------------------------------------------------------

  private Future<Void> load() {
    startNanos = System.nanoTime();
    firstSendEpochMs = System.currentTimeMillis() + (long) (warmupCount / rate * 1000);
    vertx.setPeriodic(1, id -> {
      tick();
      if (sent == total) {
        vertx.cancelTimer(id);
        lastSendEpochMs = System.currentTimeMillis();
        // The pushes still due get waitMs; a missing one is never waited for beyond that.
        vertx.setTimer(waitMs, t -> finished.tryComplete());
        checkDone();
      }
    });
    return finished.future();
  }

  private void tick() {
    long due = Math.min(total, (long) ((System.nanoTime() - startNanos) / 1e9 * rate));
    while (sent < due) {
      int index = sent++;
      scheduled[index] = startNanos + (long) (index * 1e9 / rate);
      send(index);
    }
  }

  private void send(int index) {
    int socket = index % socketCount; // every socket is open and bound, or the load never started
    String body = "{\"type\":\"track\",\"event\":\"" + event + "\",\"userId\":\"" + user(socket) + "\",\"messageId\":\""
        + messageId(index) + "\",\"properties\":{\"seq\":" + index + "}}";
    if (via.equals("socket")) {
      sockets[socket].writeTextMessage(body); // acknowledged by an ack frame on that socket
      return;
    }
    http.request(new RequestOptions().setMethod(HttpMethod.POST).setHost(host).setPort(port).setURI("/v1/track")
            .setTimeout(30_000).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
            .putHeader(HttpHeaders.AUTHORIZATION, authorization))
        .compose(request -> request.send(Buffer.buffer(body)))
        .compose(response -> response.end().map(v -> response.statusCode()))
        .onComplete(ar -> {
          if (ar.succeeded() && ar.result() == 200) {
            acknowledged(index);
          } else {
            refused(index, ar.succeeded() ? "HTTP " + ar.result()
                : ar.cause().getClass().getSimpleName() + ": " + ar.cause().getMessage());
          }
        });
  }

  private String messageId(int index) {
    return "bp-" + run + "-" + index;
  }

  /** The index of one of this run's messageIds, or -1. */
  private int indexOf(String messageId) {
    String prefix = "bp-" + run + "-";
    if (messageId == null || !messageId.startsWith(prefix)) {
      return -1;
    }
    try {
      int index = Integer.parseInt(messageId.substring(prefix.length()));
      return index >= 0 && index < total ? index : -1;
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private void acknowledged(int index) {
    if (!acknowledged.get(index)) {
      acknowledged.set(index);
      ok++;
    }
    checkDone();
  }

  private void refused(int index, String why) {
    errors.merge(why, 1L, Long::sum);
    refused.set(index);
    checkDone();
  }

  // ---- 3. frames ----------------------------------------------------------------------------------------------------

  private void onFrame(int socket, String text) {
    long arrivedNanos = System.nanoTime();
    long arrivedMicros = micros(Instant.now());
    JsonNode frame;
    try {
      frame = JSON.readTree(text);
    } catch (IOException e) {
      errors.merge("a frame that is not JSON", 1L, Long::sum);
      return;
    }
    switch (frame.path("type").asText()) {
      case "ack" -> {
        for (JsonNode id : frame.path("messageIds")) {
          Promise<Void> bind = id.asText().equals("bind-" + run + "-" + socket) ? binding.get(socket) : null;
          if (bind != null) {
            bind.tryComplete();
          }
          int index = indexOf(id.asText());
          if (index >= 0) {
            acknowledged(index);
          }
        }
      }
      case "error" -> {
        int index = indexOf(frame.path("messageId").asText(null));
        if (index >= 0) {
          refused(index, "error frame: " + frame.path("error").asText());
        } else {
          errors.merge("error frame: " + frame.path("error").asText(), 1L, Long::sum);
        }
      }
      case "signal" -> {
        if (frame.path("rule").path("id").asText().equals(ruleId)) {
          onPush(socket, frame, arrivedNanos, arrivedMicros);
        }
      }
      default -> {
      }
    }
  }

  private void onPush(int socket, JsonNode frame, long arrivedNanos, long arrivedMicros) {
    int index = indexOf(frame.path("causes").path(0).asText(null));
    if (index < 0) {
      return; // an earlier run's push, or another rule's
    }
    if (!frame.path("userId").asText().equals(user(socket))) {
      wrongSocket++;
      return;
    }
    if (pushed.get(index)) {
      duplicates++;
      return;
    }
    pushed.set(index);
    pushes++;
    if (index >= warmupCount) {
      JsonNode causeReceivedAt = frame.path("properties").path("causeReceivedAt");
      if (!causeReceivedAt.isTextual()) {
        withoutCauseReceivedAt++;
        causeReceivedAt = frame.path("receivedAt");
      }
      try {
        long received = micros(Instant.parse(causeReceivedAt.asText()));
        fromReceivedAt.recordValue(Math.max(0, Math.min(arrivedMicros - received,
            fromReceivedAt.getHighestTrackableValue())));
      } catch (DateTimeParseException e) {
        errors.merge("a push without a readable receivedAt", 1L, Long::sum);
      }
      fromScheduled.recordValue(Math.min((arrivedNanos - scheduled[index]) / 1000,
          fromScheduled.getHighestTrackableValue()));
    }
    checkDone();
  }

  /** Done once every event is sent and answered, and every acknowledged one is pushed. */
  private void checkDone() {
    if (sent == total && acknowledged.cardinality() + refused.cardinality() >= total && pushes >= ok) {
      finished.tryComplete();
    }
  }

  private long errorCount() {
    return errors.values().stream().mapToLong(Long::longValue).sum();
  }

  // ---- result -------------------------------------------------------------------------------------------------------

  private ObjectNode result() {
    ObjectNode out = JSON.createObjectNode();
    out.put("via", via);
    out.put("rule", ruleId);
    out.put("sockets", socketCount);
    out.put("socketsOpen", socketsOpen);
    out.put("socketsBound", bound);
    out.put("offeredRate", rate);
    out.put("sent", sent);
    out.put("warmupEvents", warmupCount);
    out.put("acknowledged", ok);
    // Acknowledged events whose push never came within the wait (an event that was refused is an error instead).
    long missing = 0;
    long measuredMissing = 0;
    for (int i = acknowledged.nextSetBit(0); i >= 0; i = acknowledged.nextSetBit(i + 1)) {
      if (!pushed.get(i)) {
        missing++;
        if (i >= warmupCount) {
          measuredMissing++;
        }
      }
    }
    long unanswered = sent - ok - refused.cardinality();
    if (unanswered > 0) {
      errors.merge("no answer (HTTP response or ack) by the end of the wait", unanswered, Long::sum);
    }
    out.put("pushes", pushes);
    out.put("missingPushes", missing);
    out.put("missingMeasuredPushes", measuredMissing);
    out.put("duplicatePushes", duplicates);
    out.put("pushesOnAnotherUsersSocket", wrongSocket);
    out.put("measuredPushes", fromReceivedAt.getTotalCount());
    out.put("errorCount", errorCount());
    ObjectNode errorNode = out.putObject("errors");
    errors.forEach(errorNode::put);
    double seconds = Math.max(1, lastSendEpochMs - firstSendEpochMs) / 1000.0;
    out.put("achievedRate", lastSendEpochMs == 0 ? 0 : Math.round((sent - warmupCount) / seconds));
    out.put("latencyFrom", withoutCauseReceivedAt == 0
        ? "properties.causeReceivedAt (the triggering event's receivedAt, copied by the rule)"
        : "the frame's receivedAt for " + withoutCauseReceivedAt + " pushes without properties.causeReceivedAt");
    out.set("pushLatencyMs", RateLoad.percentiles(fromReceivedAt));
    out.set("scheduledToPushMs", RateLoad.percentiles(fromScheduled));
    return out;
  }

  private static long micros(Instant instant) {
    return instant.getEpochSecond() * 1_000_000L + instant.getNano() / 1_000;
  }
}
