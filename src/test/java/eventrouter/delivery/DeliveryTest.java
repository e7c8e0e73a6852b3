package eventrouter.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.bus.Addresses;
import eventrouter.testing.Await;
import eventrouter.testing.TestRouter;
import eventrouter.testing.WebhookSink;
import eventrouter.testing.WebhookSink.Received;
import eventrouter.testing.WebhookSink.Reply;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Delivery end to end on one real router: events in over HTTP (signals straight into the signals topic), out to a
 * real webhook sink, a Kafka topic and the WebSocket push address. Each test uses its own event name, so that each
 * reaches only the destinations made for it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DeliveryTest {
  private static final String SECRET = "fan-out-secret-0123456789";
  private static final String OUT_TOPIC = "delivery-out";
  private static final Duration WAIT = Duration.ofSeconds(30);
  private final Vertx vertx = Vertx.vertx();
  private final ConcurrentLinkedQueue<JsonObject> pushes = new ConcurrentLinkedQueue<>();
  @TempDir
  static Path dataDir;
  private WebhookSink sink;
  private TestRouter router;
  private MessageConsumer<JsonObject> pushConsumer;

  @BeforeAll
  void start() throws Exception {
    sink = WebhookSink.start(vertx);
    JsonArray destinations = new JsonArray()
        .add(webhook("fan-a", "/fan-a", "event.event == 'Fan Out'")
            .put("payload", new JsonObject().put("id", "event.messageId").put("name", "event.event")
                .put("user", "event.userId").put("plan", "event.properties.plan")))
        .add(webhook("fan-b", "/fan-b", "event.event == 'Fan Out' && event.properties.plan == 'pro'"))
        .add(webhook("fan-never", "/fan-never", "event.event == 'Never'"))
        .add(webhook("disabled", "/disabled", "event.event == 'Fan Out'").put("enabled", false))
        .add(webhook("retry", "/retry", "event.event == 'Retry'")
            .put("backoffBaseMs", 50).put("backoffMaxMs", 200).put("maxAttempts", 5))
        .add(webhook("deadline", "/deadline", "event.event == 'Deadline'")
            .put("backoffBaseMs", 300).put("backoffMaxMs", 300).put("jitter", 0).put("maxAttempts", 1000)
            .put("retryDeadlineMs", 1500))
        .add(webhook("circuit", "/circuit", "event.event == 'Circuit'")
            .put("circuitMinCalls", 1).put("circuitOpenMs", 60_000).put("circuitOpenMaxMs", 60_000)
            .put("retryDeadlineMs", 1500)
            .put("backoffBaseMs", 100))
        .add(webhook("ordered", "/ordered", "event.event == 'Ordered'").put("ordered", true)
            .put("backoffBaseMs", 100).put("backoffMaxMs", 200).put("maxAttempts", 20))
        .add(webhook("batched", "/batched", "event.event == 'Batched'")
            .put("batch", new JsonObject().put("maxEvents", 5).put("maxMs", 100)))
        .add(webhook("slow", "/slow", "event.event == 'Slow'").put("queueSize", 3).put("maxInFlight", 1))
        .add(webhook("signals-only", "/signals", "event.event == 'Cart Abandoned'")
            .put("streams", new JsonArray().add("signals")))
        .add(new JsonObject().put("id", "to-kafka").put("type", "kafka").put("topic", OUT_TOPIC)
            .put("filter", "event.event == 'To Kafka'"))
        .add(new JsonObject().put("id", "push").put("type", "websocket")
            .put("filter", "event.event == 'Push' || event.type == 'signal'"));
    Path file = dataDir.resolve("destinations.json");
    Files.writeString(file, destinations.encodePrettily());
    router = TestRouter.start(vertx, dataDir.resolve("router"), Map.of("ROUTER_DESTINATIONS", file.toString(),
        "ROUTER_DELIVERY_RETRY_POLL_MS", "50"), new JsonObject());
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
        router.router().kafkaBootstrap()))) {
      admin.createTopics(List.of(new NewTopic(OUT_TOPIC, 4, (short) 1))).all().get();
    }
    pushConsumer = router.router().vertx().eventBus().consumer(Addresses.WEBSOCKET_PUSH,
        message -> pushes.add(message.body()));
  }

  @AfterAll
  void stop() {
    pushConsumer.unregister();
    router.close();
    sink.close();
    vertx.close();
  }

  private JsonObject webhook(String id, String path, String filter) {
    return new JsonObject().put("id", id).put("type", "webhook").put("url", sink.url(path)).put("secret", SECRET)
        .put("filter", filter).put("timeoutMs", 2000);
  }

  private static String id() {
    return UUID.randomUUID().toString();
  }

  private static JsonObject track(String event, String user, String messageId) {
    return new JsonObject().put("type", "track").put("event", event).put("userId", user).put("messageId", messageId);
  }

  private void send(JsonObject... events) {
    HttpResponse<String> response = router.postWithKey("/v1/batch",
        new JsonObject().put("batch", new JsonArray(List.of((Object[]) events))).encode());
    assertEquals(200, response.statusCode(), response.body());
  }

  private void await(String what, BooleanSupplier condition) {
    Await.until(vertx, WAIT, what, () -> Future.succeededFuture(condition.getAsBoolean()));
  }

  private static List<Received> withMessage(List<Received> requests, String messageId) {
    return requests.stream().filter(r -> messageId.equals(r.messageId())).toList();
  }

  private List<Row> deadLetters(String destination, String messageId) {
    return router.query("SELECT id, attempts, last_status, last_error, first_attempt_at, last_attempt_at, payload"
        + " FROM dead_letters WHERE destination = $1 AND message_id = $2", destination, messageId);
  }

  /** Sends an event that the retry sink answers with a final {@code status}, and waits for its dead letter. */
  private String deadLetter(String user, int status) {
    String messageId = id();
    sink.script(messageId, Reply.status(status));
    send(track("Retry", user, messageId));
    awaitDeadLetter("retry", messageId);
    return messageId;
  }

  private HttpResponse<String> replay(JsonObject body) {
    return router.post("/admin/dead-letters/replay", body.encode(), Map.of("Authorization",
        "Bearer " + TestRouter.ADMIN_TOKEN, "Content-Type", "application/json"));
  }

  private void awaitDeadLetter(String destination, String messageId) {
    router.awaitCount(1, "SELECT count(*) FROM dead_letters WHERE destination = $1 AND message_id = $2",
        destination, messageId);
  }

  @Test
  @DisplayName("an event reaches every destination whose filter matches, shaped by its payload, and no other")
  void fanOut() {
    String pro = id();
    String free = id();
    send(track("Fan Out", "fan-user", pro).put("properties", new JsonObject().put("plan", "pro")),
        track("Fan Out", "fan-user", free).put("properties", new JsonObject().put("plan", "free")));
    await("fan-a has both events and fan-b the pro one", () -> withMessage(sink.deliveredOn("/fan-a"), pro).size() == 1
        && withMessage(sink.deliveredOn("/fan-a"), free).size() == 1
        && withMessage(sink.deliveredOn("/fan-b"), pro).size() == 1);

    JsonObject shaped = withMessage(sink.on("/fan-a"), pro).get(0).json();
    assertEquals(new JsonObject().put("id", pro).put("name", "Fan Out").put("user", "fan-user").put("plan", "pro"),
        shaped);
    JsonObject whole = withMessage(sink.on("/fan-b"), pro).get(0).json();
    assertEquals(pro, whole.getString("messageId"), "without a payload the event goes as it is");
    assertNotNull(whole.getString("receivedAt"));
    assertTrue(withMessage(sink.on("/fan-b"), free).isEmpty(), "fan-b's filter excludes the free plan");
    assertTrue(sink.on("/fan-never").isEmpty(), "a destination whose filter never matches gets nothing");
    assertTrue(sink.on("/disabled").isEmpty(), "a disabled destination gets nothing");
    assertTrue(router.router().meterRegistry().get("router.delivery.successes").tag("destination", "fan-a")
        .counter().count() >= 2);
    assertTrue(router.router().meterRegistry().get("router.delivery.latency").tag("destination", "fan-a")
        .timer().count() >= 2, "the latency histogram records receivedAt → delivered");
  }

  @Test
  @DisplayName("a destination slower than the stream falls behind in its own consumer group: nothing is parked")
  void slowDestinationWaitsInKafka() throws Exception {
    List<String> ids = new ArrayList<>();
    List<JsonObject> events = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      String messageId = id();
      sink.script(messageId, Reply.slow(100));
      ids.add(messageId);
      events.add(track("Slow", "slow-user-" + i, messageId));
    }
    send(events.toArray(JsonObject[]::new));
    long mostParked = 0;
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (sink.deliveredOn("/slow").size() < ids.size() && System.nanoTime() < deadline) {
      // 20 events, 3 held at a time, 100 ms each: the other 17 wait in Kafka, not in delivery_retries.
      mostParked = Math.max(mostParked, router.query(
          "SELECT count(*) FROM delivery_retries WHERE destination = 'slow'").get(0).getLong(0));
      Thread.sleep(20);
    }
    assertEquals(Set.copyOf(ids), sink.deliveredOn("/slow").stream().map(Received::messageId)
        .collect(Collectors.toSet()));
    assertEquals(0, mostParked, "a busy destination parks nothing in Postgres");
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
        router.router().kafkaBootstrap()))) {
      await("the slow destination commits in its own group", () -> {
        try {
          return !admin.listConsumerGroupOffsets("router-delivery.slow").partitionsToOffsetAndMetadata().get()
              .isEmpty();
        } catch (Exception e) {
          return false;
        }
      });
    }
  }

  @Test
  @DisplayName("every webhook request carries an HMAC-SHA256 of timestamp and body that the receiver can verify")
  void signatureVerifies() throws Exception {
    String messageId = id();
    send(track("Fan Out", "hmac-user", messageId).put("properties", new JsonObject().put("plan", "pro")));
    await("fan-b has the event", () -> !withMessage(sink.deliveredOn("/fan-b"), messageId).isEmpty());
    Received request = withMessage(sink.on("/fan-b"), messageId).get(0);

    // What a receiver does (README): HMAC-SHA256 over "<X-Router-Timestamp>.<raw body>" with the shared secret.
    String timestamp = request.header("X-Router-Timestamp");
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
    String expected = "v1=" + HexFormat.of().formatHex(mac.doFinal((timestamp + "." + request.body)
        .getBytes(StandardCharsets.UTF_8)));
    assertEquals(expected, request.header("X-Router-Signature"));
    assertTrue(Math.abs(System.currentTimeMillis() / 1000 - Long.parseLong(timestamp)) < 60, "a fresh timestamp");
    assertEquals(messageId + ":fan-b", request.header("Idempotency-Key"));
    assertEquals("fan-b", request.header("X-Router-Destination"));

    mac.init(new SecretKeySpec("some-other-secret-abcdef".getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
    String forged = "v1=" + HexFormat.of().formatHex(mac.doFinal((timestamp + "." + request.body)
        .getBytes(StandardCharsets.UTF_8)));
    assertFalse(forged.equals(request.header("X-Router-Signature")), "another secret does not verify");
  }

  @Test
  @DisplayName("a 500 and then a success delivers the event, with the same Idempotency-Key on both attempts")
  void serverErrorThenSuccess() {
    String messageId = id();
    sink.script(messageId, Reply.status(500), Reply.ok());
    send(track("Retry", "retry-user", messageId));
    await("the retry is delivered", () -> withMessage(sink.deliveredOn("/retry"), messageId).size() == 1);
    List<Received> attempts = withMessage(sink.on("/retry"), messageId);
    assertEquals(2, attempts.size());
    assertEquals(500, attempts.get(0).answered());
    assertEquals(attempts.get(0).header("Idempotency-Key"), attempts.get(1).header("Idempotency-Key"));
    assertEquals("2", attempts.get(1).header("X-Router-Attempt"));
    Await.until(vertx, WAIT, "the parked retry row is gone", () -> router.queryAsync(
        "SELECT count(*) FROM delivery_retries WHERE message_id = $1", messageId)
        .map(rows -> rows.get(0).getLong(0) == 0));
    assertTrue(deadLetters("retry", messageId).isEmpty());
  }

  @Test
  @DisplayName("a 400 is final: one attempt, then a dead letter with the status and the error")
  void clientErrorIsADeadLetterAtOnce() {
    String messageId = deadLetter("retry-user", 400);
    Row dead = deadLetters("retry", messageId).get(0);
    assertEquals(1, dead.getInteger("attempts"));
    assertEquals(400, dead.getInteger("last_status"));
    assertTrue(dead.getString("last_error").contains("answered 400"), dead.getString("last_error"));
    assertNotNull(dead.getOffsetDateTime("first_attempt_at"));
    assertEquals(messageId, ((JsonObject) dead.getValue("payload")).getString("messageId"));
    assertEquals(1, withMessage(sink.on("/retry"), messageId).size(), "a 400 is never retried");
  }

  @Test
  @DisplayName("a 429 with Retry-After: 1 is retried after a second, not after the 50 ms backoff")
  void retryAfterIsHonoured() {
    String messageId = id();
    sink.script(messageId, Reply.status(429, "Retry-After", "1"), Reply.ok());
    send(track("Retry", "retry-user", messageId));
    await("the event is delivered after the 429", () -> withMessage(sink.deliveredOn("/retry"), messageId).size() == 1);
    List<Received> attempts = withMessage(sink.on("/retry"), messageId);
    assertEquals(2, attempts.size());
    long gapMs = (attempts.get(1).atNanos - attempts.get(0).atNanos) / 1_000_000;
    assertTrue(gapMs >= 950, "the retry came " + gapMs + " ms after the 429");
  }

  @Test
  @DisplayName("a destination that keeps failing turns the event into a dead letter once the retry deadline passes")
  void deadlineGivesADeadLetter() {
    String messageId = id();
    sink.behave("/deadline", r -> Reply.status(503));
    send(track("Deadline", "deadline-user", messageId));
    awaitDeadLetter("deadline", messageId);
    Row dead = deadLetters("deadline", messageId).get(0);
    assertTrue(dead.getInteger("attempts") >= 2 && dead.getInteger("attempts") <= 6,
        "attempts every 300 ms within 1.5 s: " + dead.getInteger("attempts"));
    assertEquals(503, dead.getInteger("last_status"));
    assertTrue(dead.getString("last_error").contains("retry deadline of 1500 ms"), dead.getString("last_error"));
    assertTrue(dead.getOffsetDateTime("last_attempt_at").isAfter(dead.getOffsetDateTime("first_attempt_at")));
  }

  @Test
  @DisplayName("while the circuit is open nothing is attempted, and parked events still die at the retry deadline")
  void openCircuitStillHonoursTheDeadline() {
    sink.behave("/circuit", r -> Reply.status(503));
    String first = id();
    send(track("Circuit", "circuit-user", first));
    await("the first attempt failed", () -> withMessage(sink.on("/circuit"), first).size() == 1);
    Await.until(vertx, WAIT, "the circuit is open", () -> Future.succeededFuture(router.router().meterRegistry()
        .get("router.delivery.circuit_state").tag("destination", "circuit").gauge().value() == 2));
    String second = id();
    String third = id();
    send(track("Circuit", "circuit-user", second), track("Circuit", "circuit-user-2", third));
    for (String messageId : List.of(first, second, third)) {
      awaitDeadLetter("circuit", messageId);
    }
    assertEquals(1, sink.on("/circuit").size(), "an open circuit lets no request through");
    Row dead = deadLetters("circuit", third).get(0);
    assertEquals(0, dead.getInteger("attempts"));
    assertTrue(dead.getString("last_error").contains("passed while the circuit was open"), dead.getString("last_error"));
  }

  @Test
  @DisplayName("the admin API lists dead letters with their messageId, replays them into a delivery, and discards them")
  void deadLetterApi() {
    String replayed = deadLetter("api-user", 422);
    String discarded = deadLetter("api-user", 410);

    String token = "Bearer " + TestRouter.ADMIN_TOKEN;
    assertEquals(401, router.get("/admin/dead-letters?destination=retry", Map.of()).statusCode());
    HttpResponse<String> list = router.get("/admin/dead-letters?destination=retry&limit=1000",
        Map.of("Authorization", token));
    assertEquals(200, list.statusCode(), list.body());
    Map<String, JsonObject> byMessage = new LinkedHashMap<>();
    new JsonObject(list.body()).getJsonArray("deadLetters").forEach(entry -> byMessage.put(
        ((JsonObject) entry).getString("messageId"), (JsonObject) entry));
    JsonObject entry = byMessage.get(replayed);
    assertNotNull(entry, "listed: " + byMessage.keySet());
    assertEquals("retry", entry.getString("destination"));
    assertEquals(422, entry.getInteger("lastStatus"));
    assertEquals(1, entry.getInteger("attempts"));
    assertEquals(replayed, entry.getJsonObject("payload").getString("messageId"));

    HttpResponse<String> refused = replay(new JsonObject().put("destination", "retry"));
    assertEquals(400, refused.statusCode(), "a replay must say what: " + refused.body());
    assertEquals(400, replay(new JsonObject().put("destination", "nowhere").put("all", true)).statusCode());
    HttpResponse<String> replay = replay(new JsonObject().put("destination", "retry")
        .put("ids", new JsonArray().add(entry.getLong("id"))));
    assertEquals(200, replay.statusCode(), replay.body());
    assertEquals(1, new JsonObject(replay.body()).getInteger("replayed"));
    await("the replayed dead letter is delivered", () -> withMessage(sink.deliveredOn("/retry"), replayed).size() == 1);
    assertTrue(deadLetters("retry", replayed).isEmpty(), "a delivered replay leaves dead letters");

    long discardId = byMessage.get(discarded).getLong("id");
    assertEquals(401, router.delete("/admin/dead-letters/" + discardId, Map.of()).statusCode());
    assertEquals(204, router.delete("/admin/dead-letters/" + discardId, Map.of("Authorization", token)).statusCode());
    assertEquals(404, router.delete("/admin/dead-letters/" + discardId, Map.of("Authorization", token)).statusCode());
    assertTrue(deadLetters("retry", discarded).isEmpty());
  }

  @Test
  @DisplayName("replay by time range and of all dead letters of a destination")
  void replayByRangeAndAll() {
    String first = deadLetter("range-user", 404);
    String second = deadLetter("range-user", 404);
    String from = router.query("SELECT dead_at FROM dead_letters WHERE message_id = $1", second).get(0)
        .getOffsetDateTime(0).toString();
    HttpResponse<String> range = replay(new JsonObject().put("destination", "retry").put("from", from));
    assertEquals(200, range.statusCode(), range.body());
    assertTrue(new JsonObject(range.body()).getJsonArray("messageIds").contains(second), range.body());
    assertFalse(new JsonObject(range.body()).getJsonArray("messageIds").contains(first), range.body());
    await("the replayed range is delivered", () -> withMessage(sink.deliveredOn("/retry"), second).size() == 1);

    HttpResponse<String> all = replay(new JsonObject().put("destination", "retry").put("all", true));
    assertEquals(200, all.statusCode(), all.body());
    assertTrue(new JsonObject(all.body()).getJsonArray("messageIds").contains(first), all.body());
    await("all replayed are delivered", () -> withMessage(sink.deliveredOn("/retry"), first).size() == 1);
  }

  @Test
  @DisplayName("ordered: a failing event holds back only its own user's later events, and each user's stay in order")
  void orderedWithOneFailingUser() {
    List<String> users = List.of("ordered-bad", "ordered-good-1", "ordered-good-2");
    Map<String, List<String>> sent = new LinkedHashMap<>();
    List<JsonObject> batch = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      for (String user : users) {
        String messageId = id();
        sent.computeIfAbsent(user, u -> new ArrayList<>()).add(messageId);
        batch.add(track("Ordered", user, messageId).put("properties", new JsonObject().put("n", i)));
      }
    }
    String blocker = sent.get("ordered-bad").get(0);
    sink.script(blocker, Reply.status(500), Reply.status(500), Reply.status(503), Reply.ok());
    send(batch.toArray(JsonObject[]::new));
    int total = users.size() * 6;
    await("every ordered event is delivered", () -> sink.deliveredOn("/ordered").stream().map(Received::messageId)
        .distinct().count() == total);

    List<Received> requests = sink.on("/ordered");
    for (String user : users) {
      List<String> deliveredOrder = requests.stream().filter(Received::delivered).map(Received::messageId)
          .filter(sent.get(user)::contains).distinct().toList();
      assertEquals(sent.get(user), deliveredOrder, user + "'s events were delivered out of order");
    }
    long blockerDelivered = requests.stream().filter(r -> r.delivered() && blocker.equals(r.messageId()))
        .findFirst().orElseThrow().atNanos;
    for (String later : sent.get("ordered-bad").subList(1, 6)) {
      assertTrue(requests.stream().filter(r -> later.equals(r.messageId())).allMatch(r -> r.atNanos > blockerDelivered),
          "a later event of the failing user was sent before its first one was delivered");
    }
    for (String good : List.of("ordered-good-1", "ordered-good-2")) {
      for (String messageId : sent.get(good)) {
        long at = requests.stream().filter(r -> r.delivered() && messageId.equals(r.messageId())).findFirst()
            .orElseThrow().atNanos;
        assertTrue(at < blockerDelivered, good + " was held back by another user's failing event");
      }
    }
  }

  @Test
  @DisplayName("a batching webhook gets {\"batch\":[...]} requests of at most maxEvents, holding every event")
  void batching() {
    List<String> ids = new ArrayList<>();
    List<JsonObject> events = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      String messageId = id();
      ids.add(messageId);
      events.add(track("Batched", "batch-user-" + (i % 3), messageId));
    }
    send(events.toArray(JsonObject[]::new));
    await("all 12 events arrived in batches", () -> sink.deliveredOn("/batched").stream()
        .flatMap(r -> r.json().getJsonArray("batch").stream()).map(e -> ((JsonObject) e).getString("messageId"))
        .collect(Collectors.toSet()).containsAll(ids));
    for (Received request : sink.on("/batched")) {
      int size = request.json().getJsonArray("batch").size();
      assertTrue(size >= 1 && size <= 5, "batch of " + size);
      assertTrue(request.header("Idempotency-Key").startsWith(size == 1 ? "" : "batch:"));
    }
    assertTrue(sink.on("/batched").size() < 12, "events were sent together");
  }

  @Test
  @DisplayName("the Kafka destination produces each event keyed by its user, with the Idempotency-Key header")
  void kafkaDestinationIsKeyedByUser() {
    Map<String, String> userOf = new LinkedHashMap<>();
    List<JsonObject> events = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      String messageId = id();
      String user = "kafka-user-" + (i % 2);
      userOf.put(messageId, user);
      events.add(track("To Kafka", user, messageId));
    }
    events.add(new JsonObject().put("type", "track").put("event", "To Kafka").put("anonymousId", "kafka-anon")
        .put("messageId", "anon-" + id()));
    userOf.put(events.get(6).getString("messageId"), "kafka-anon");
    send(events.toArray(JsonObject[]::new));

    Map<String, ConsumerRecord<String, String>> received = new LinkedHashMap<>();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Map.of(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, router.router().kafkaBootstrap(),
        ConsumerConfig.GROUP_ID_CONFIG, "delivery-test-" + id(),
        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"), new StringDeserializer(), new StringDeserializer())) {
      consumer.subscribe(List.of(OUT_TOPIC));
      long giveUpAt = System.nanoTime() + WAIT.toNanos();
      while (!received.keySet().containsAll(userOf.keySet()) && System.nanoTime() < giveUpAt) {
        for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(200))) {
          received.put(new JsonObject(record.value()).getString("messageId"), record);
        }
      }
    }
    assertTrue(received.keySet().containsAll(userOf.keySet()), "received " + received.keySet());
    Map<String, Set<Integer>> partitionsOfUser = new LinkedHashMap<>();
    userOf.forEach((messageId, user) -> {
      ConsumerRecord<String, String> record = received.get(messageId);
      assertEquals(user, record.key());
      assertEquals(messageId + ":to-kafka", new String(record.headers().lastHeader("Idempotency-Key").value(),
          StandardCharsets.UTF_8));
      partitionsOfUser.computeIfAbsent(user, u -> new java.util.HashSet<>()).add(record.partition());
    });
    partitionsOfUser.forEach((user, partitions) -> assertEquals(1, partitions.size(), user + " spans partitions"));
  }

  @Test
  @DisplayName("signals reach the destinations that take signals, and a websocket destination publishes the push")
  void signalsAndWebSocketPush() throws Exception {
    String signalId = id();
    String cause = id();
    JsonObject signal = new JsonObject().put("type", "signal").put("event", "Cart Abandoned").put("messageId", signalId)
        .put("userId", "signal-user").put("anonymousId", "signal-anon")
        .put("properties", new JsonObject().put("cartValue", 42.5))
        .put("rule", new JsonObject().put("id", "cart-abandonment").put("kind", "absence").put("late", false))
        .put("causes", new JsonArray().add(cause)).put("timestamp", java.time.Instant.now().toString())
        .put("receivedAt", java.time.Instant.now().toString()).put("sourceId", "rules");
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, router.router().kafkaBootstrap(), ProducerConfig.ACKS_CONFIG, "all"),
        new StringSerializer(), new StringSerializer())) {
      producer.send(new ProducerRecord<>(router.router().config().kafka().signalsTopic(), "signal-user",
          signal.encode())).get();
    }
    String pushed = id();
    send(track("Push", "push-user", pushed).put("properties", new JsonObject().put("offer", "10%")));

    await("the signal reached signals-only", () -> withMessage(sink.deliveredOn("/signals"), signalId).size() == 1);
    assertEquals(signal, withMessage(sink.on("/signals"), signalId).get(0).json());
    await("both pushes were published", () -> pushes.stream().map(p -> p.getJsonObject("frame").getString("messageId"))
        .collect(Collectors.toSet()).containsAll(List.of(signalId, pushed)));
    JsonObject message = pushes.stream().filter(p -> pushed.equals(p.getJsonObject("frame").getString("messageId")))
        .findFirst().orElseThrow();
    assertEquals(new JsonArray().add("push-user"), message.getJsonArray("ids"));
    JsonObject frame = message.getJsonObject("frame");
    assertEquals("message", frame.getString("type"));
    assertEquals("push", frame.getString("destination"));
    assertEquals("events", frame.getString("stream"));
    assertEquals("10%", frame.getJsonObject("payload").getJsonObject("properties").getString("offer"));
    JsonObject signalPush = pushes.stream()
        .filter(p -> signalId.equals(p.getJsonObject("frame").getString("messageId"))).findFirst().orElseThrow();
    assertEquals(new JsonArray().add("signal-user").add("signal-anon"), signalPush.getJsonArray("ids"));
    assertEquals("signals", signalPush.getJsonObject("frame").getString("stream"));
  }
}
