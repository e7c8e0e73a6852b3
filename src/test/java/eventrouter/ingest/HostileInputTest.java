package eventrouter.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.Await;
import eventrouter.testing.TestRouter;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ClientWebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A generated corpus of hostile requests, over HTTP and over the WebSocket: broken JSON and UTF-8, values the
 * warehouse cannot store, wrong types in every field, deep nesting, bombs, oversized headers, lying lengths and slow
 * senders. Every request must be answered, with a 4xx naming the problem or a 200, never a 5xx; the router must stay
 * healthy; and every event it acknowledged must be stored, none sidelined by the warehouse.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileInputTest {
  private static final int HTTP_CASES = 10_000;
  private static final int WEBSOCKET_CASES = 2_000;
  private static final long SEED = 20261203L;
  private static final int BODY_TIMEOUT_MS = 2_000;
  private final Vertx vertx = Vertx.vertx();
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();
  @TempDir
  static Path dataDir;
  private TestRouter router;
  /** Answers by kind ("http 400", "ws ack", "ws close 1009", ...), over every transport. */
  private final Map<String, AtomicInteger> answers = new ConcurrentHashMap<>();
  private final List<String> problems = Collections.synchronizedList(new ArrayList<>());
  /** The messageIds the router acknowledged, where the request cannot have changed them. */
  private final Set<String> acknowledged = ConcurrentHashMap.newKeySet();
  /** Every event the router acknowledged, whatever its messageId became (a mutation may have changed it). */
  private final AtomicInteger acknowledgedEvents = new AtomicInteger();

  @BeforeAll
  void start() {
    router = TestRouter.start(vertx, dataDir, Map.of("ROUTER_BODY_TIMEOUT_MS", String.valueOf(BODY_TIMEOUT_MS)),
        new JsonObject());
  }

  @AfterAll
  void stop() {
    router.close();
    vertx.close();
  }

  /** One generated request: where it goes, and its body as bytes. */
  private record Case(String kind, String path, byte[] body, boolean gzip, List<String> messageIds) {
    /** Whether the events' messageIds reach the router as generated: no mutation can have changed them. */
    boolean idsStable() {
      return !kind.equals("mutated") && !kind.equals("wrong-type:messageId");
    }
  }

  @Test
  @DisplayName("10,000 hostile HTTP requests, 2,000 WebSocket frames and the protocol-level attacks: every one"
      + " answered with a named 4xx or a 200, never a 5xx; the router stays healthy; every acknowledged event is"
      + " stored and none refused by the warehouse")
  void hostileCorpus() throws Exception {
    Random random = new Random(SEED);
    List<Case> corpus = new ArrayList<>();
    for (int i = 0; i < HTTP_CASES; i++) {
      corpus.add(generate(random, i));
    }
    corpus.addAll(bombs());
    Map<String, AtomicInteger> kinds = new TreeMap<>();
    Semaphore inFlight = new Semaphore(16);
    List<CompletableFuture<Void>> sent = new ArrayList<>();
    for (Case c : corpus) {
      kinds.computeIfAbsent(c.kind(), k -> new AtomicInteger()).incrementAndGet();
      inFlight.acquire();
      HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(router.baseUrl() + c.path()))
          .timeout(Duration.ofSeconds(60)).header("Authorization", TestRouter.basic(TestRouter.WRITE_KEY))
          .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(c.body()));
      if (c.gzip()) {
        request.header("Content-Encoding", "gzip");
      }
      sent.add(http.sendAsync(request.build(), HttpResponse.BodyHandlers.ofString())
          .handle((response, error) -> {
            inFlight.release();
            if (error != null) {
              problems.add(c.kind() + ": no answer (" + error + ")");
            } else {
              judge(c, response.statusCode(), response.body());
            }
            return null;
          }));
    }
    CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).get(10, TimeUnit.MINUTES);

    int frames = webSocketCorpus(new Random(SEED + 1));
    List<String> protocol = protocolAttacks();

    assertTrue(problems.isEmpty(), problems.size() + " problems, the first: " + problems.subList(0,
        Math.min(10, problems.size())));
    assertEquals(200, router.get("/health", Map.of()).statusCode(), "the router is healthy afterwards");
    String after = UUID.randomUUID().toString();
    assertEquals(200, router.postWithKey("/v1/track", new JsonObject().put("userId", "after-the-storm")
        .put("event", "Still Here").put("messageId", after).encode()).statusCode());
    acknowledged.add(after);
    acknowledgedEvents.incrementAndGet();

    String[] ids = acknowledged.toArray(String[]::new);
    int events = acknowledgedEvents.get();
    try {
      Await.until(vertx, Duration.ofSeconds(120), "every acknowledged event is stored", () -> router
          .queryAsync("SELECT count(*) FROM events WHERE message_id = ANY($1)", (Object) ids)
          .map(rows -> rows.get(0).getLong(0) == ids.length));
      Await.until(vertx, Duration.ofSeconds(60), "as many events are stored as were acknowledged", () -> router
          .queryAsync("SELECT count(*) FROM events").map(rows -> rows.get(0).getLong(0) == events));
    } catch (AssertionError notAll) {
      List<String> missing = router.query("SELECT id FROM unnest($1::text[]) AS u(id) WHERE id NOT IN (SELECT"
          + " message_id FROM events) LIMIT 5", (Object) ids).stream().map(row -> row.getString(0)).toList();
      List<String> sidelined = router.query("SELECT left(error, 200) || ' :: ' || left(raw, 300) FROM"
          + " warehouse_rejects LIMIT 5").stream().map(row -> row.getString(0)).toList();
      long stored = router.query("SELECT count(*) FROM events").get(0).getLong(0);
      List<String> unknown = router.query("SELECT message_id || ' ' || left(properties::text, 80) FROM tracks WHERE NOT"
          + " (message_id = ANY($1)) LIMIT 8", (Object) ids).stream().map(row -> row.getString(0)).toList();
      throw new AssertionError(notAll.getMessage() + "; stored " + stored + " of " + events + " acknowledged; missing,"
          + " for example: " + missing + "; stored under other ids, for example: " + unknown + "; the warehouse"
          + " refused: " + sidelined, notAll);
    }
    long sidelined = router.query("SELECT count(*) FROM warehouse_rejects").get(0).getLong(0);
    System.out.printf("hostile input: %d HTTP requests (%s), %d WebSocket frames, %d protocol attacks (%s);"
        + " answers %s; %d events acknowledged and stored; %d refused by the warehouse%n",
        corpus.size(), kinds, frames, protocol.size(), protocol, new TreeMap<>(answers), events, sidelined);
    assertEquals(0, sidelined, "what ingest accepts, the warehouse stores");
    assertTrue(corpus.size() >= 10_000);
  }

  /** A 200 names which events it refused; a 4xx must name the problem; anything else is a defect. */
  private void judge(Case c, int status, String body) {
    count("http " + status);
    if (status >= 500) {
      problems.add(c.kind() + ": " + status + " " + body);
      return;
    }
    JsonObject answer;
    try {
      answer = new JsonObject(body);
    } catch (RuntimeException e) {
      problems.add(c.kind() + ": " + status + " with a body that is not JSON: " + body);
      return;
    }
    if (status == 200) {
      Set<String> refused = new java.util.HashSet<>();
      JsonArray rejected = answer.getJsonArray("rejected", new JsonArray());
      for (Object r : rejected) {
        refused.add(((JsonObject) r).getString("messageId"));
      }
      int sentEvents = c.messageIds().isEmpty() ? 1 : c.messageIds().size();
      acknowledgedEvents.addAndGet(sentEvents - rejected.size());
      if (c.idsStable()) {
        c.messageIds().stream().filter(id -> !refused.contains(id)).forEach(acknowledged::add);
      }
    } else if (answer.getString("error", "").isBlank()) {
      problems.add(c.kind() + ": " + status + " without an error message: " + body);
    }
  }

  // --- the HTTP corpus ---------------------------------------------------------------------------------------------

  /**
   * The fields given wrong types. messageId gets its own, each unique to its case ({@link #wrongMessageId}): a wrong
   * value shared by two cases would, once accepted, be one event twice, which the warehouse rightly stores once.
   */
  private static final String[] FIELDS = {"type", "event", "userId", "anonymousId", "timestamp", "sentAt",
      "originalTimestamp", "context", "properties", "traits", "integrations", "groupId", "previousId", "name"};
  private static final String[] WRONG = {"12", "-1.5e3", "true", "false", "null", "[]", "[1,\"a\"]", "{}",
      "{\"a\":{\"b\":[]}}", "\"\"", "\"" + "x".repeat(300) + "\"", "1e400000", "-1e400000", "1e-400000",
      "\"\\u0000\"", "\"\\ud800\"", "\"\\udfff x\"", "\"\\ud83d\\ude00\"", "123456789012345678901234567890"};

  private Case generate(Random random, int i) {
    String id = UUID.randomUUID().toString();
    JsonObject event = new JsonObject().put("type", "track").put("event", "Hostile " + (i % 7))
        .put("userId", "hostile-" + (i % 97)).put("messageId", id).put("properties", new JsonObject()
            .put("price", random.nextInt(1000) / 10.0).put("name", "item-" + i));
    String valid = event.encode();
    int variant = i % 12;
    return switch (variant) {
      case 0 -> new Case("truncated", "/v1/track", utf8(valid.substring(0, random.nextInt(valid.length()))), false,
          List.of());
      case 1 -> new Case("mutated", "/v1/track", mutate(random, utf8(valid), valid.indexOf(id), id.length()), false,
          List.of(id));
      case 2 -> new Case("invalid-utf8", "/v1/track", invalidUtf8(random, valid), false, List.of(id));
      case 3 -> {
        // A wrong type, or an unstorable value, in a field: the event alone is refused, in a batch or not.
        String field = FIELDS[random.nextInt(FIELDS.length)];
        String wrong = WRONG[random.nextInt(WRONG.length)];
        String body = valid.substring(0, valid.length() - 1) + ",\"" + field + "\":" + wrong + "}";
        yield new Case("wrong-type:" + field, "/v1/track", utf8(body), false, List.of(id));
      }
      case 4 -> {
        String property = WRONG[random.nextInt(WRONG.length)];
        String body = valid.replace("\"name\":\"item-" + i + "\"", "\"name\":" + property);
        yield new Case("property-value", "/v1/track", utf8(body), false, List.of(id));
      }
      case 5 -> {
        // A batch of good and bad events: the bad ones are refused alone.
        JsonArray batch = new JsonArray();
        List<String> ids = new ArrayList<>();
        StringBuilder raw = new StringBuilder("{\"batch\":[");
        for (int e = 0; e < 5; e++) {
          String eventId = UUID.randomUUID().toString();
          ids.add(eventId);
          String item = event.copy().put("messageId", eventId).encode();
          if (e % 2 == 1) {
            item = item.substring(0, item.length() - 1) + ",\"" + FIELDS[random.nextInt(FIELDS.length)] + "\":"
                + WRONG[random.nextInt(WRONG.length)] + "}";
          }
          raw.append(e == 0 ? "" : ",").append(item);
        }
        yield new Case("batch-mixed", "/v1/batch", utf8(raw.append("]}").toString()), false, ids);
      }
      case 6 -> i % 24 == 6
          ? new Case("duplicate-keys", "/v1/track", utf8(valid.substring(0, valid.length() - 1)
              + ",\"userId\":\"other\",\"event\":7,\"messageId\":\"" + id + "\"}"), false, List.of(id))
          : new Case("wrong-type:messageId", "/v1/track", utf8(valid.replace("\"" + id + "\"", wrongMessageId(i))),
              false, List.of(id));
      case 7 -> {
        byte[] body = utf8(valid);
        int at = valid.indexOf("item-") + random.nextInt(4);
        body[at] = 0; // a raw NUL byte inside a string
        yield new Case("raw-nul", "/v1/track", body, false, List.of(id));
      }
      case 8 -> new Case("deep-nesting", "/v1/track", utf8(valid.replace("\"price\":", "\"deep\":"
          + "[".repeat(10_000) + "]".repeat(10_000) + ",\"price\":")), false, List.of(id));
      case 9 -> new Case("huge-string", "/v1/track", utf8(valid.replace("item-" + i, "y".repeat(40_000))), false,
          List.of(id));
      case 10 -> new Case("not-gzip", "/v1/track", utf8(valid), true, List.of(id));
      default -> new Case("garbage", random.nextBoolean() ? "/v1/batch" : "/v1/identify", randomBytes(random), false,
          List.of());
    };
  }

  /** The large ones, a few times each: bombs and a body of 100,000 property names. */
  private List<Case> bombs() throws IOException {
    List<Case> bombs = new ArrayList<>();
    byte[] zeros = new byte[20 * 1024 * 1024];
    bombs.add(new Case("gzip-bomb", "/v1/batch", gzip(zeros), true, List.of()));
    StringBuilder names = new StringBuilder(
        "{\"type\":\"track\",\"event\":\"Wide\",\"userId\":\"wide\",\"properties\":{");
    for (int n = 0; n < 100_000; n++) {
      names.append(n == 0 ? "" : ",").append("\"p").append(n).append("\":").append(n);
    }
    byte[] wide = utf8(names.append("}}").toString());
    bombs.add(new Case("100k-properties", "/v1/track", wide, false, List.of()));
    bombs.add(new Case("100k-properties-gzip", "/v1/track", gzip(wide), true, List.of()));
    return bombs;
  }

  // --- the WebSocket corpus ----------------------------------------------------------------------------------------

  /** Sends hostile frames over sockets; each must get an ack, an error frame, or a close with a 1xxx code. */
  private int webSocketCorpus(Random random) {
    WebSocketClient client = vertx.createWebSocketClient();
    int sent = 0;
    ClientWebSocket socket = null;
    LinkedBlockingQueue<Object> received = new LinkedBlockingQueue<>();
    for (int i = 0; i < WEBSOCKET_CASES; i++) {
      if (socket == null || socket.isClosed()) {
        socket = client.webSocket();
        ClientWebSocket current = socket;
        current.textMessageHandler(text -> received.add(new JsonObject(text)));
        current.closeHandler(v -> received.add(current.closeStatusCode() == null ? (short) -1
            : current.closeStatusCode()));
        Await.result(current.connect(new WebSocketConnectOptions().setHost("127.0.0.1")
            .setPort(router.router().httpPort()).setURI("/v1/stream?writeKey=" + TestRouter.WRITE_KEY)));
      }
      Case c = generate(random, HTTP_CASES + i); // numbered after the HTTP cases, so that no wrong messageId repeats
      if (c.body().length > 100_000) {
        continue; // deep nesting and huge strings are covered over HTTP; a frame has its own limit
      }
      boolean binary = i % 3 == 0;
      Await.result(binary ? socket.writeBinaryMessage(Buffer.buffer(c.body()))
          : socket.writeTextMessage(new String(c.body(), StandardCharsets.UTF_8)));
      sent++;
      Object answer;
      try {
        answer = received.poll(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
      if (answer == null) {
        problems.add("websocket " + c.kind() + ": no answer within 30 s");
      } else if (answer instanceof Short code) {
        count("ws close " + code);
        if (code < 1000) {
          problems.add("websocket " + c.kind() + ": the connection ended without a close frame");
        }
        socket = null;
      } else {
        JsonObject frame = (JsonObject) answer;
        String type = frame.getString("type");
        count("ws " + type);
        if ("ack".equals(type)) {
          acknowledgeFrame(frame);
        } else if (!"error".equals(type) || frame.getString("error", "").isBlank()) {
          problems.add("websocket " + c.kind() + ": unexpected answer " + frame);
        }
        if (c.messageIds().size() > 1 && !"ack".equals(type)) {
          // A batch frame gets an error frame per refused event, then one ack for the rest.
          drainFrameAnswers(received);
        }
      }
    }
    // Acks still on their way (a batch frame's can trail its errors) count too.
    try {
      Object late;
      while ((late = received.poll(1, TimeUnit.SECONDS)) != null) {
        if (late instanceof JsonObject frame && "ack".equals(frame.getString("type"))) {
          acknowledgeFrame(frame);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (socket != null) {
      socket.close();
    }
    return sent;
  }

  /** An ack names the messageIds as the router stored them. */
  private void acknowledgeFrame(JsonObject ack) {
    List<String> ids = ack.getJsonArray("messageIds").stream().map(String.class::cast).toList();
    acknowledged.addAll(ids);
    acknowledgedEvents.addAndGet(ids.size());
  }

  /** Answers of one batch frame beyond the first: errors for refused events, then the ack of the rest. */
  private void drainFrameAnswers(LinkedBlockingQueue<Object> answers) {
    try {
      Object more;
      while ((more = answers.poll(200, TimeUnit.MILLISECONDS)) != null) {
        if (more instanceof JsonObject frame && "ack".equals(frame.getString("type"))) {
          acknowledgeFrame(frame);
          return;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // --- protocol-level attacks, over raw sockets --------------------------------------------------------------------

  private List<String> protocolAttacks() throws IOException {
    List<String> seen = new ArrayList<>();
    String event = "{\"type\":\"track\",\"event\":\"Raw\",\"userId\":\"raw\"}";
    String auth = TestRouter.basic(TestRouter.WRITE_KEY);
    // A 64 KB header.
    seen.add("oversized header: " + exchange("POST /v1/track HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth
        + "\r\nX-Big: " + "h".repeat(64 * 1024) + "\r\nContent-Length: " + event.length() + "\r\n\r\n" + event, 0));
    // A Content-Length larger than the body: the rest never comes.
    seen.add("short body: " + exchange("POST /v1/track HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth
        + "\r\nContent-Length: 500\r\n\r\n" + event, 0));
    // A Content-Length smaller than the body: the rest is read as the next request.
    seen.add("long body: " + exchange("POST /v1/track HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth
        + "\r\nContent-Length: 10\r\n\r\n" + event, 0));
    // A slow sender: one byte every 50 ms, far past the body timeout.
    seen.add("slow sender: " + exchange("POST /v1/track HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth
        + "\r\nContent-Length: " + event.length() + "\r\n\r\n" + event, 50));
    // Not HTTP at all. (A request line naming another HTTP version, such as HTTP/9.9, gets Vert.x's own 501.)
    seen.add("garbage request line: " + exchange("\u0001\u0002 nonsense /// HTTP/1.1\r\n\r\n", 0));
    seen.add("no request line: " + exchange("BLAH\r\n\r\n", 0));
    return seen;
  }

  private void count(String answer) {
    answers.computeIfAbsent(answer, a -> new AtomicInteger()).incrementAndGet();
  }

  /** Sends the request (the body byte by byte, {@code byteDelayMs} apart, when given) and returns the status line. */
  private String exchange(String request, long byteDelayMs) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", router.router().httpPort())) {
      socket.setSoTimeout(30_000);
      OutputStream out = socket.getOutputStream();
      byte[] bytes = request.getBytes(StandardCharsets.ISO_8859_1);
      int bodyStart = request.indexOf("\r\n\r\n") + 4;
      out.write(bytes, 0, byteDelayMs > 0 ? bodyStart : bytes.length);
      out.flush();
      InputStream in = socket.getInputStream();
      if (byteDelayMs > 0) {
        for (int i = bodyStart; i < bytes.length && in.available() == 0; i++) {
          out.write(bytes[i]);
          out.flush();
          long until = System.nanoTime() + byteDelayMs * 1_000_000;
          Await.until(vertx, Duration.ofSeconds(5), "the next byte's time", () -> Future.succeededFuture(
              System.nanoTime() >= until));
        }
      }
      String status = readLine(in);
      if (status == null || !status.startsWith("HTTP/1.")) {
        problems.add("raw request " + request.substring(0, Math.min(40, request.length())) + ": no HTTP answer ("
            + status + ")");
        return String.valueOf(status);
      }
      int code = Integer.parseInt(status.substring(9, 12));
      count("raw " + code);
      if (code == 200) {
        acknowledgedEvents.incrementAndGet(); // each raw request carries one event
      }
      if (code >= 500) {
        problems.add("raw request: " + status);
      }
      return status;
    } catch (java.net.SocketTimeoutException e) {
      problems.add("raw request " + request.substring(0, Math.min(40, request.length())) + ": no answer in 30 s");
      return "no answer";
    }
  }

  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) != -1 && b != '\n') {
      if (b != '\r') {
        line.write(b);
      }
    }
    return b == -1 && line.size() == 0 ? null : line.toString(StandardCharsets.ISO_8859_1);
  }

  // --- byte helpers ------------------------------------------------------------------------------------------------

  private static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  /** A few bytes flipped anywhere but inside the messageId's value, which keeps each event's id its own. */
  private static byte[] mutate(Random random, byte[] valid, int idStart, int idLength) {
    byte[] mutated = valid.clone();
    int flips = 1 + random.nextInt(4);
    byte[] alphabet = utf8("{}[]\":,\\ 0123456789eE+-.tfn");
    for (int f = 0; f < flips; f++) {
      int at = random.nextInt(mutated.length);
      if (at < idStart || at >= idStart + idLength) {
        mutated[at] = alphabet[random.nextInt(alphabet.length)];
      }
    }
    return mutated;
  }

  /** A messageId of a wrong type, unique to case {@code i}. */
  private static String wrongMessageId(int i) {
    return switch (i % 5) {
      case 0 -> String.valueOf(1_000_000 + i);
      case 1 -> "[\"m\"," + i + "]";
      case 2 -> "{\"m\":" + i + "}";
      case 3 -> "null";
      default -> "\"" + "m".repeat(300) + i + "\"";
    };
  }

  private static byte[] invalidUtf8(Random random, String valid) {
    byte[][] bad = {{(byte) 0xC3, 0x28}, {(byte) 0xFF}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
        {(byte) 0xC0, (byte) 0x80}, {(byte) 0xF8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80},
        {(byte) 0xE2, (byte) 0x82}};
    byte[] chosen = bad[random.nextInt(bad.length)];
    int at = valid.indexOf("item-");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(utf8(valid.substring(0, at)), 0, at);
    out.write(chosen, 0, chosen.length);
    byte[] rest = utf8(valid.substring(at));
    out.write(rest, 0, rest.length);
    return out.toByteArray();
  }

  private static byte[] randomBytes(Random random) {
    byte[] bytes = new byte[1 + random.nextInt(200)];
    random.nextBytes(bytes);
    return bytes;
  }

  private static byte[] gzip(byte[] raw) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream zip = new GZIPOutputStream(out)) {
      zip.write(raw);
    }
    return out.toByteArray();
  }
}
