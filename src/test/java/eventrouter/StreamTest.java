package eventrouter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.Await;
import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.http.ClientWebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The /v1/stream protocol over a real WebSocket client: acks, errors, close codes, backpressure and push. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StreamTest {
  private static final String LIMITED_KEY = "stream-limited-key";
  private static final int MAX_UNACKED = 5;
  private static final int MAX_CONNECTIONS = 3;
  private final Vertx vertx = Vertx.vertx();
  private final List<StreamClient> clients = new ArrayList<>();
  @TempDir
  static Path dir;
  private TestRouter router;
  private WebSocketClient webSockets;

  @BeforeAll
  void start() {
    router = TestRouter.start(vertx, dir, Map.of(
        "ROUTER_WRITE_KEYS", TestRouter.WRITE_KEY + "," + LIMITED_KEY,
        "ROUTER_STREAM_MAX_UNACKED", String.valueOf(MAX_UNACKED),
        "ROUTER_STREAM_MAX_CONNECTIONS_PER_KEY", String.valueOf(MAX_CONNECTIONS),
        // Clients that answer pings stay open; a silent one is closed within seconds.
        "ROUTER_STREAM_PING_INTERVAL_MS", "250",
        "ROUTER_STREAM_IDLE_TIMEOUT_MS", "3000"), new JsonObject());
    webSockets = vertx.createWebSocketClient();
  }

  @AfterEach
  void closeClients() {
    clients.forEach(StreamClient::close);
    clients.clear();
  }

  @AfterAll
  void stop() {
    router.close();
    vertx.close();
  }

  /** A WebSocket and the frames it received, read on the test thread with a deadline. */
  private final class StreamClient {
    final LinkedBlockingQueue<JsonObject> frames = new LinkedBlockingQueue<>();
    final LinkedBlockingQueue<Short> closeCodes = new LinkedBlockingQueue<>();
    final ClientWebSocket ws;

    StreamClient(String query) {
      // Handlers first: the router may close a socket (a bad key) as soon as it is open.
      ws = webSockets.webSocket();
      ws.textMessageHandler(text -> frames.add(new JsonObject(text)));
      // A connection that ends without a close frame has no status: record it as -1 rather than lose it.
      ws.closeHandler(v -> closeCodes.add(ws.closeStatusCode() == null ? (short) -1 : ws.closeStatusCode()));
      clients.add(this);
      Await.result(ws.connect(new WebSocketConnectOptions().setHost("127.0.0.1")
          .setPort(router.router().httpPort()).setURI("/v1/stream" + query)));
    }

    void send(JsonObject frame) {
      Await.result(ws.writeTextMessage(frame.encode()));
    }

    JsonObject next(Predicate<JsonObject> wanted) {
      long giveUpAt = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      try {
        while (System.nanoTime() < giveUpAt) {
          JsonObject frame = frames.poll(100, TimeUnit.MILLISECONDS);
          if (frame != null && wanted.test(frame)) {
            return frame;
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      throw new AssertionError("no such frame within 30 s");
    }

    short closeCode() throws InterruptedException {
      Short code = closeCodes.poll(30, TimeUnit.SECONDS);
      assertTrue(code != null, "the socket was not closed within 30 s");
      return code;
    }

    void close() {
      if (!ws.isClosed()) {
        ws.close();
      }
    }
  }

  private StreamClient connect() {
    return new StreamClient("?writeKey=" + TestRouter.WRITE_KEY);
  }

  private static JsonObject track(String user, String name, String messageId) {
    return new JsonObject().put("type", "track").put("userId", user).put("event", name).put("messageId", messageId);
  }

  private static String id() {
    return UUID.randomUUID().toString();
  }

  private long stored(String... messageIds) {
    return router.awaitCount(messageIds.length, "SELECT count(*) FROM events WHERE message_id = ANY($1)",
        (Object) messageIds);
  }

  @Test
  @DisplayName("an event is acknowledged with its messageId once durable, and lands in the warehouse")
  void ack() {
    StreamClient client = connect();
    String messageId = id();
    client.send(track("stream-ack", "Clicked", messageId));
    JsonObject ack = client.next(frame -> "ack".equals(frame.getString("type")));
    assertEquals(new JsonArray().add(messageId), ack.getJsonArray("messageIds"));
    assertEquals(1, stored(messageId));
  }

  @Test
  @DisplayName("an invalid event in a batch gets an error frame naming it; its valid neighbours are acked and stored")
  void perEventErrors() {
    StreamClient client = connect();
    String first = id();
    String bad = id();
    String last = id();
    client.send(new JsonObject().put("batch", new JsonArray()
        .add(track("stream-errors", "A", first))
        .add(new JsonObject().put("type", "track").put("event", "No user").put("messageId", bad))
        .add(track("stream-errors", "C", last))));
    // The error frame goes once the refused event is kept, the ack once the others are durable: either may be first.
    Map<String, JsonObject> answers = new HashMap<>();
    for (int i = 0; i < 2; i++) {
      JsonObject frame = client.next(f -> Set.of("error", "ack").contains(f.getString("type")));
      answers.put(frame.getString("type"), frame);
    }
    JsonObject error = answers.get("error");
    assertEquals(1, error.getInteger("index"));
    assertEquals(bad, error.getString("messageId"));
    assertTrue(error.getString("error").contains("batch[1].userId or batch[1].anonymousId is required"),
        error.encode());
    JsonObject ack = answers.get("ack");
    assertEquals(new JsonArray().add(first).add(last), ack.getJsonArray("messageIds"));
    assertEquals(2, stored(first, last));
    assertEquals(0, router.query("SELECT count(*) FROM events WHERE message_id = $1", bad).get(0).getLong(0));
    router.awaitCount(1, "SELECT count(*) FROM ingest_rejects WHERE message_id = $1 AND endpoint = '/v1/stream'"
        + " AND event_index = 1 AND reason = 'missing_id'", bad);

    client.send(new JsonObject().put("batch", "not an array"));
    JsonObject frameError = client.next(frame -> "error".equals(frame.getString("type")));
    assertNull(frameError.getValue("index"), "a broken frame is refused whole");
    assertTrue(frameError.getString("error").contains("batch must be an array"));
  }

  @Test
  @DisplayName("close codes: 1008 for a bad or missing key, 1009 for an oversize frame, 1013 past the connection"
      + " limit, 1001 when idle; a hello frame authenticates")
  void closeCodes() throws Exception {
    assertEquals(1008, new StreamClient("?writeKey=wrong").closeCode());
    StreamClient noKey = new StreamClient("");
    noKey.send(track("u", "E", id()));
    assertEquals(1008, noKey.closeCode());

    StreamClient hello = new StreamClient("");
    hello.send(new JsonObject().put("type", "hello").put("writeKey", TestRouter.WRITE_KEY));
    hello.next(frame -> "ready".equals(frame.getString("type")));
    String messageId = id();
    hello.send(track("stream-hello", "E", messageId));
    hello.next(frame -> "ack".equals(frame.getString("type")));

    StreamClient big = connect();
    big.ws.writeTextMessage(new JsonObject().put("blob", "x".repeat(600_000)).encode());
    assertEquals(1009, big.closeCode());

    for (int i = 0; i < MAX_CONNECTIONS; i++) {
      new StreamClient("?writeKey=" + LIMITED_KEY).send(track("limit", "E", id()));
    }
    assertEquals(1013, new StreamClient("?writeKey=" + LIMITED_KEY).closeCode());

    assertEquals(1001, closeCodeOfSilentClient());
  }

  /** A raw client that upgrades and then never answers a ping: the router closes it once the idle timeout passes. */
  private int closeCodeOfSilentClient() throws IOException {
    try (Socket socket = new Socket("127.0.0.1", router.router().httpPort())) {
      socket.setSoTimeout(30_000);
      OutputStream out = socket.getOutputStream();
      out.write(("GET /v1/stream?writeKey=" + TestRouter.WRITE_KEY + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          + "Sec-WebSocket-Version: 13\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      DataInputStream in = new DataInputStream(socket.getInputStream());
      int newlines = 0;
      while (newlines < 4) { // the end of the response headers
        int b = in.read();
        newlines = b == '\r' || b == '\n' ? newlines + 1 : 0;
      }
      while (true) {
        int opcode = in.readUnsignedByte() & 0x0F;
        int length = in.readUnsignedByte() & 0x7F;
        byte[] payload = new byte[length];
        in.readFully(payload);
        if (opcode == 0x8) {
          return ((payload[0] & 0xFF) << 8) | (payload[1] & 0xFF);
        }
      }
    }
  }

  @Test
  @DisplayName("backpressure: a flooding client never has more unacked events than the cap, and loses none")
  void backpressure() {
    StreamClient flood = connect();
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      String messageId = id();
      ids.add(messageId);
      flood.ws.writeTextMessage(track("flood-user", "Flood", messageId).encode()); // no waiting between frames
    }
    int acked = 0;
    while (acked < ids.size()) {
      acked += flood.next(frame -> "ack".equals(frame.getString("type"))).getJsonArray("messageIds").size();
    }
    assertEquals(300, stored(ids.toArray(String[]::new)));
    JsonObject streams = new JsonObject(router.get("/admin/streams",
        Map.of("Authorization", "Bearer " + TestRouter.ADMIN_TOKEN)).body());
    long most = streams.getLong("mostUnackedSeen");
    assertTrue(most >= 1 && most <= MAX_UNACKED, "the router stopped reading at the cap: at most " + most
        + " events were unacknowledged (cap " + MAX_UNACKED + ")");
  }

  private void churnSignalFor(String user) {
    assertEquals(200, router.postWithKey("/v1/batch", new JsonObject().put("batch", new JsonArray()
        .add(new JsonObject().put("type", "identify").put("userId", user).put("traits", new JsonObject().put("ltv", 800)))
        .add(new JsonObject().put("type", "track").put("userId", user).put("event", "Renewal Declined"))).encode())
        .statusCode());
  }

  private static Predicate<JsonObject> signalFor(String user) {
    return frame -> "signal".equals(frame.getString("type")) && user.equals(frame.getString("userId"));
  }

  @Test
  @DisplayName("a signal is pushed to its user's socket and not to another user's")
  void pushToTheRightUser() {
    String alice = "alice-" + id();
    String bob = "bob-" + id();
    StreamClient aliceSocket = connect();
    StreamClient bobSocket = connect();
    aliceSocket.send(track(alice, "Hello", id()));
    bobSocket.send(track(bob, "Hello", id()));
    aliceSocket.next(frame -> "ack".equals(frame.getString("type")));
    bobSocket.next(frame -> "ack".equals(frame.getString("type")));

    churnSignalFor(alice);
    JsonObject pushed = aliceSocket.next(signalFor(alice));
    assertEquals("Churn Risk", pushed.getString("event"));
    assertEquals("churn-risk", pushed.getJsonObject("rule").getString("id"));
    churnSignalFor(bob);
    JsonObject bobsFirstSignal = bobSocket.next(frame -> "signal".equals(frame.getString("type")));
    assertEquals(bob, bobsFirstSignal.getString("userId"), "bob's socket never saw alice's signal");
  }

  @Test
  @DisplayName("after an identify on the socket, the user's signals are pushed to it")
  void pushAfterIdentify() {
    String anonymous = "anon-" + id();
    String carol = "carol-" + id();
    StreamClient socket = connect();
    socket.send(new JsonObject().put("type", "page").put("anonymousId", anonymous).put("name", "Home"));
    socket.send(new JsonObject().put("type", "identify").put("anonymousId", anonymous).put("userId", carol));
    socket.next(frame -> "ack".equals(frame.getString("type")));
    socket.next(frame -> "ack".equals(frame.getString("type")));
    churnSignalFor(carol); // over HTTP, naming only the userId
    assertEquals("Churn Risk", socket.next(signalFor(carol)).getString("event"));
  }

  @Test
  @DisplayName("a user with two open sockets gets the signal on both")
  void pushToTwoSockets() {
    String dave = "dave-" + id();
    StreamClient laptop = connect();
    StreamClient phone = connect();
    laptop.send(track(dave, "Hello", id()));
    phone.send(track(dave, "Hello", id()));
    laptop.next(frame -> "ack".equals(frame.getString("type")));
    phone.next(frame -> "ack".equals(frame.getString("type")));
    churnSignalFor(dave);
    assertEquals("Churn Risk", laptop.next(signalFor(dave)).getString("event"));
    assertEquals("Churn Risk", phone.next(signalFor(dave)).getString("event"));
  }
}
