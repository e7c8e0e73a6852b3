package eventrouter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.log.RecordHead;
import eventrouter.testing.Await;
import eventrouter.testing.OffsetClock;
import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Row;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real-time path end to end, with the shipped conf/rules.json: events posted over HTTP, state in Redis, signals
 * in the signals topic and, through the warehouse, in the {@code signals} table. The clock is moved, never waited on.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RealtimeTest {
  private static final Pattern STAGE_COUNT =
      Pattern.compile("(?m)^router_realtime_stage_seconds_count\\{stage=\"(\\w+)\"} (\\S+)$");
  private static final Map<String, String> ADMIN = Map.of("Authorization", "Bearer " + TestRouter.ADMIN_TOKEN);
  private final Vertx vertx = Vertx.vertx();
  private final OffsetClock clock = new OffsetClock();
  @TempDir
  static Path dir;
  private TestRouter router;
  private Path rulesFile;

  /** The shipped rules, plus one that watches per-user order: each Seq event must follow the previous one. */
  @BeforeAll
  void start() throws Exception {
    JsonObject rules = new JsonObject(Files.readString(Path.of("conf", "rules.json")));
    rules.getJsonArray("rules").add(new JsonObject().put("id", "order-probe").put("kind", "match")
        .put("when", "event.event == 'Seq' && has(session.attributes.lastSeq)"
            + " && event.properties.seq != session.attributes.lastSeq + 1")
        .put("signal", "Out Of Order")
        .put("properties", new JsonObject().put("seq", "event.properties.seq")));
    // Actions run on every event a threshold rule counts, so one that never trips records each sequence number.
    rules.getJsonArray("rules").add(new JsonObject().put("id", "seq-recorder").put("kind", "threshold")
        .put("when", "event.event == 'Seq'").put("count", 1_000_000).put("window", "1h").put("signal", "never")
        .put("actions", new JsonArray().add(new JsonObject().put("session", "lastSeq").put("set",
            "event.properties.seq"))));
    rulesFile = dir.resolve("rules.json");
    Files.writeString(rulesFile, rules.encodePrettily());
    router = TestRouter.start(vertx, dir.resolve("data"), Map.of("ROUTER_RULES", rulesFile.toString()),
        new JsonObject(), clock);
  }

  @AfterAll
  void stop() {
    router.close();
    vertx.close();
  }

  private static String id() {
    return UUID.randomUUID().toString();
  }

  private void post(JsonObject... events) {
    router.postBatch(events);
  }

  private static JsonObject track(String user, String name, JsonObject properties) {
    return new JsonObject().put("type", "track").put("userId", user).put("event", name).put("properties", properties);
  }

  private List<Row> awaitSignals(String ruleId, String userId, int count) {
    router.awaitCount(count, "SELECT count(*) FROM signals WHERE rule_id = $1 AND user_id = $2", ruleId, userId);
    return router.query("SELECT * FROM signals WHERE rule_id = $1 AND user_id = $2", ruleId, userId);
  }

  private JsonObject user(String id) {
    HttpResponse<String> response = router.get("/admin/users/" + id, ADMIN);
    assertEquals(200, response.statusCode(), response.body());
    return new JsonObject(response.body());
  }

  /** Waits until the real-time path has applied {@code events} events to the user's session. */
  private JsonObject awaitEventCount(String id, long events) {
    Await.until(vertx, Duration.ofSeconds(30), id + " has " + events + " events in session",
        () -> vertx.executeBlocking(() -> user(id).getJsonObject("session").getLong("eventCount", 0L) >= events));
    return user(id);
  }

  @Test
  @DisplayName("match: a high-value user declining renewal raises Churn Risk, with its cause, and sets a trait")
  void churnRisk() {
    String user = "churn-" + id();
    post(new JsonObject().put("type", "identify").put("userId", user)
        .put("traits", new JsonObject().put("ltv", 900).put("plan", "pro")));
    String cause = id();
    post(track(user, "Renewal Declined", new JsonObject()).put("messageId", cause));
    Row signal = awaitSignals("churn-risk", user, 1).get(0);
    assertEquals("Churn Risk", signal.getString("signal"));
    assertEquals("match", signal.getString("rule_kind"));
    assertEquals(new JsonArray().add(cause), signal.getValue("causes"));
    assertEquals(900, ((JsonObject) signal.getValue("properties")).getInteger("ltv"));
    assertEquals("high", awaitEventCount(user, 2).getJsonObject("traits").getString("churnRisk"));
  }

  @Test
  @DisplayName("threshold: 5 failed logins in 60 s raise one Login Velocity per user and per IP; cooldown holds")
  void failedLogins() {
    String user = "logins-" + id();
    String ip = "10." + (int) (Math.random() * 200) + ".7." + (int) (Math.random() * 200);
    JsonObject failed = track(user, "Login Failed", new JsonObject())
        .put("context", new JsonObject().put("ip", "192.0.2.1"));
    String duplicate = id();
    post(failed.copy().put("messageId", duplicate), failed.copy().put("messageId", duplicate), failed, failed);
    post(failed);
    awaitEventCount(user, 4);
    assertEquals(0, router.query("SELECT count(*) FROM signals WHERE rule_id = 'failed-logins-per-user' AND user_id = $1",
        user).get(0).getLong(0), "4 distinct failures (one duplicate messageId is skipped): no signal yet");
    post(failed, failed, failed);
    assertEquals(1, awaitSignals("failed-logins-per-user", user, 1).size());

    List<JsonObject> fromOneIp = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      fromOneIp.add(track("ip-user-" + i + "-" + id(), "Login Failed", new JsonObject())
          .put("context", new JsonObject().put("ip", ip)));
    }
    post(fromOneIp.toArray(JsonObject[]::new));
    router.awaitCount(1, "SELECT count(*) FROM signals WHERE rule_id = 'failed-logins-per-ip'"
        + " AND properties->>'ip' = $1", ip);
    awaitEventCount(user, 7);
    assertEquals(1, router.query("SELECT count(*) FROM signals WHERE rule_id = 'failed-logins-per-user'"
        + " AND user_id = $1", user).get(0).getLong(0), "the cooldown keeps a 6th and 7th failure quiet");
  }

  @Test
  @DisplayName("threshold with a key expression: 3 views in one category within a session raise High Intent")
  void highIntent() {
    String user = "intent-" + id();
    JsonObject shoes = new JsonObject().put("category", "shoes");
    JsonObject hats = new JsonObject().put("category", "hats");
    post(track(user, "Product Viewed", shoes), track(user, "Product Viewed", hats), track(user, "Product Viewed", shoes),
        track(user, "Product Viewed", hats), track(user, "Product Viewed", shoes));
    Row signal = awaitSignals("high-intent", user, 1).get(0);
    assertEquals("shoes", ((JsonObject) signal.getValue("properties")).getString("category"));
    // Each matching view sets the attribute in its second script; the last view was of shoes.
    Await.until(vertx, Duration.ofSeconds(30), "intentCategory is the last category viewed", () -> vertx.executeBlocking(
        () -> "shoes".equals(user(user).getJsonObject("session").getJsonObject("attributes").getString("intentCategory"))));
    assertEquals(1, router.query("SELECT count(*) FROM signals WHERE rule_id = 'high-intent' AND user_id = $1", user)
        .get(0).getLong(0), "hats were viewed only twice");
  }

  @Test
  @DisplayName("absence: a cart built anonymously survives login; 30 min without an order raise Cart Abandoned once")
  void cartAbandonment() {
    String anonymous = "anon-" + id();
    String user = "shopper-" + id();
    String buyer = "buyer-" + id();
    post(new JsonObject().put("type", "track").put("anonymousId", anonymous).put("event", "Product Added")
            .put("properties", new JsonObject().put("product_id", "sku-1").put("price", 20).put("quantity", 2)),
        new JsonObject().put("type", "identify").put("anonymousId", anonymous).put("userId", user),
        track(buyer, "Product Added", new JsonObject().put("product_id", "sku-9").put("price", 5)),
        track(buyer, "Order Completed", new JsonObject()));
    awaitEventCount(user, 2);
    Await.until(vertx, Duration.ofSeconds(30), "the abandonment timer is armed for the user",
        () -> vertx.executeBlocking(() -> !user(user).getJsonArray("timers").isEmpty()));
    JsonObject shopper = user(user);
    assertEquals(40, shopper.getJsonObject("session").getJsonObject("cart").getInteger("value"),
        "the anonymous cart merged into the user's on login");
    assertEquals(List.of(anonymous), shopper.getJsonArray("linkedIds").getList());
    assertEquals("cart-abandonment", shopper.getJsonArray("timers").getJsonObject(0).getString("ruleId"));
    assertEquals(user, user(anonymous).getString("userId"), "the anonymous id resolves to the user");
    awaitEventCount(buyer, 2);

    // Just before the deadline, so that the timer falls due in real time and fires on time.
    long due = Long.parseLong(shopper.getJsonArray("timers").getJsonObject(0).getString("due"));
    clock.advanceTo(due - 300);
    Row signal = awaitSignals("cart-abandonment", user, 1).get(0);
    JsonObject properties = (JsonObject) signal.getValue("properties");
    assertEquals(40, properties.getInteger("value"));
    assertEquals("sku-1", properties.getJsonObject("cart").getJsonArray("items").getJsonObject(0).getString("id"));
    assertEquals(false, signal.getBoolean("late"), "fired within a second of its due time");
    assertTrue(user(user).getJsonArray("timers").isEmpty(), "a fired timer is gone");
    assertEquals(0, router.query("SELECT count(*) FROM signals WHERE user_id = $1", buyer).get(0).getLong(0),
        "Order Completed cancelled the buyer's timer");
  }

  @Test
  @DisplayName("a session expires after 30 min of inactivity; the next event starts a new one, without the old"
      + " session's attributes, and the cart and traits stay")
  void sessionExpiry() {
    String user = "session-" + id();
    post(new JsonObject().put("type", "page").put("userId", user).put("name", "Home"),
        new JsonObject().put("type", "page").put("userId", user).put("name", "Shoes"),
        new JsonObject().put("type", "identify").put("userId", user).put("traits", new JsonObject().put("plan", "pro")),
        track(user, "Product Added", new JsonObject().put("product_id", "s-1").put("price", 5).put("quantity", 2)),
        track(user, "Seq", new JsonObject().put("seq", 0)));
    Await.until(vertx, Duration.ofSeconds(30), "the Seq event's action set a session attribute", () ->
        vertx.executeBlocking(() -> user(user).getJsonObject("session").getJsonObject("attributes")
            .containsKey("lastSeq")));
    JsonObject first = user(user).getJsonObject("session");
    assertEquals(2, first.getInteger("pagesViewed"));
    assertEquals(5, first.getInteger("eventCount"));
    clock.advance(Duration.ofMinutes(31));
    post(new JsonObject().put("type", "page").put("userId", user).put("name", "Hats"));
    Await.until(vertx, Duration.ofSeconds(30), "a new session starts", () -> vertx.executeBlocking(
        () -> !user(user).getJsonObject("session").getString("sessionId").equals(first.getString("sessionId"))));
    JsonObject state = user(user);
    JsonObject second = state.getJsonObject("session");
    assertEquals(1, second.getInteger("eventCount"));
    assertEquals(1, second.getInteger("pagesViewed"));
    assertNotEquals(first.getLong("startedAt"), second.getLong("startedAt"));
    assertEquals(new JsonObject(), second.getJsonObject("attributes"), "the attributes ended with their session");
    assertEquals(10, second.getJsonObject("cart").getInteger("value"), "the cart outlives the session");
    assertEquals("pro", state.getJsonObject("traits").getString("plan"), "traits outlive the session");
  }

  @Test
  @DisplayName("more than 50 events in a second from one user raise Abusive Rate")
  void abuse() {
    String user = "abuser-" + id();
    JsonObject[] burst = new JsonObject[51];
    for (int i = 0; i < burst.length; i++) {
      burst[i] = track(user, "Clicked", new JsonObject());
    }
    post(burst);
    assertEquals(1, awaitSignals("abuse", user, 1).size());
  }

  @Test
  @DisplayName("one user's events are processed in order, and a hot user's backlog does not delay another's signal")
  void orderingAndHotUser() {
    String hot = "hot-" + id();
    int backlog = 4_000;
    for (int start = 0; start < backlog; start += 500) {
      JsonObject[] batch = new JsonObject[500];
      for (int i = 0; i < 500; i++) {
        batch[i] = track(hot, "Seq", new JsonObject().put("seq", start + i));
      }
      post(batch);
    }
    String vip = "vip-" + id();
    post(new JsonObject().put("type", "identify").put("userId", vip).put("traits", new JsonObject().put("ltv", 1000)),
        track(vip, "Subscription Cancelled", new JsonObject()));
    Await.until(vertx, Duration.ofSeconds(30), "the other user's signal is raised", () -> vertx.executeBlocking(
        () -> user(vip).getJsonObject("traits").containsKey("churnRisk")));
    long hotDone = user(hot).getJsonObject("session").getLong("eventCount", 0L);
    assertTrue(hotDone < backlog, "the other user's signal came while the hot user still had "
        + (backlog - hotDone) + " of " + backlog + " events queued");

    awaitEventCount(hot, backlog);
    // lastSeq is set by each event's second script, after its session count: wait for the last one's.
    Await.until(vertx, Duration.ofSeconds(30), "the last Seq event's action ran", () -> vertx.executeBlocking(
        () -> user(hot).getJsonObject("session").getJsonObject("attributes").getInteger("lastSeq", -1) == backlog - 1));
    assertEquals(0, router.query("SELECT count(*) FROM signals WHERE rule_id = 'order-probe' AND user_id = $1", hot)
        .get(0).getLong(0), "every Seq event followed the previous one");
  }

  @Test
  @DisplayName("rules reload on demand: a broken file is refused naming the rule, and armed timers survive")
  void reload() throws Exception {
    String user = "reload-" + id();
    post(track(user, "Product Added", new JsonObject().put("product_id", "r-1").put("price", 3)));
    // The timer is armed by the event's second script, after its session count: wait for the timer itself.
    Await.until(vertx, Duration.ofSeconds(30), "the abandonment timer is armed", () -> vertx.executeBlocking(
        () -> user(user).getJsonArray("timers").size() == 1));
    String good = Files.readString(rulesFile);
    try {
      Files.writeString(rulesFile, good.replace("event.event == 'Login Failed'", "event.evnt == 'Login Failed' &&"));
      HttpResponse<String> refused = router.post("/admin/rules/reload", "", ADMIN);
      assertEquals(400, refused.statusCode());
      assertTrue(new JsonObject(refused.body()).getString("error").startsWith("rule \"failed-logins-per-user\" when:"),
          refused.body());
    } finally {
      Files.writeString(rulesFile, good);
    }
    HttpResponse<String> reloaded = router.post("/admin/rules/reload", "", ADMIN);
    assertEquals(200, reloaded.statusCode(), reloaded.body());
    assertEquals(10, new JsonObject(reloaded.body()).getJsonArray("rules").size());
    assertEquals(1, user(user).getJsonArray("timers").size(), "the armed timer outlives the reload");
    assertEquals(401, router.post("/admin/rules/reload", "", Map.of()).statusCode());
  }

  @Test
  @DisplayName("signals are written to the signals topic of the log, as events of type signal, and events and signals"
      + " carry their head in the record's headers")
  void signalsTopic() throws IOException {
    String user = "topic-" + id();
    post(new JsonObject().put("type", "identify").put("userId", user).put("traits", new JsonObject().put("ltv", 500)),
        track(user, "Subscription Cancelled", new JsonObject()));
    String signalId = awaitSignals("churn-risk", user, 1).get(0).getString("message_id");
    ConsumerRecord<String, String> signal = firstRecord(router.router().config().kafka().signalsTopic(),
        value -> signalId.equals(value.getString("messageId")));
    assertEquals(user, signal.key(), "keyed by user, like events");
    JsonObject record = new JsonObject(signal.value());
    assertEquals("signal", record.getString("type"));
    assertEquals("Churn Risk", record.getString("event"));
    assertEquals("rules", record.getString("sourceId"));
    assertEquals("churn-risk", record.getJsonObject("rule").getString("id"));
    assertHeadInHeaders(signal);
    assertHeadInHeaders(firstRecord(router.router().config().kafka().topic(),
        value -> user.equals(value.getString("userId")) && "identify".equals(value.getString("type"))));
  }

  /** The headers hold what a stage that only routes reads, the same as the value says. */
  private static void assertHeadInHeaders(ConsumerRecord<String, String> record) throws IOException {
    assertTrue(record.headers().lastHeader("messageId") != null, "record " + record.offset() + " has headers");
    assertEquals(RecordHead.read(record.value()), RecordHead.of(record.headers(), "{}"));
  }

  private ConsumerRecord<String, String> firstRecord(String topic, Predicate<JsonObject> wanted) {
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Map.of(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, router.router().kafkaBootstrap()), new StringDeserializer(),
        new StringDeserializer())) {
      List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
          .map(p -> new TopicPartition(topic, p.partition())).toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      long giveUpAt = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (System.nanoTime() < giveUpAt) {
        for (ConsumerRecord<String, String> candidate : consumer.poll(Duration.ofMillis(200))) {
          if (wanted.test(new JsonObject(candidate.value()))) {
            return candidate;
          }
        }
      }
    }
    throw new AssertionError("no such record in " + topic + " within 30 s");
  }

  @Test
  @DisplayName("state an earlier version kept in separate keys (cart, traits) is folded into the user's hash and used")
  void earlierLayout() {
    String user = "legacy-" + id();
    String prefix = router.router().config().realtime().redisPrefix();
    long seenAt = clock.millis() - 60_000;
    Redis redis = Redis.createClient(vertx, router.router().redisUrl());
    try {
      // What apply_event.lua wrote before one hash held a user's whole state: no _v field in the session hash.
      await(redis.send(Request.cmd(Command.HSET).arg(prefix + "s:u:" + user).arg("sessionId").arg("old-session")
          .arg("startedAt").arg(seenAt).arg("lastSeenAt").arg(seenAt).arg("eventCount").arg(3).arg("pagesViewed")
          .arg(1).arg("a.intentCategory").arg("\"hats\"")));
      await(redis.send(Request.cmd(Command.SET).arg(prefix + "cart:u:" + user).arg(
          "{\"items\":[{\"id\":\"h-1\",\"name\":\"Hat\",\"price\":20,\"quantity\":2}],\"value\":40,\"count\":2}")));
      await(redis.send(Request.cmd(Command.HSET).arg(prefix + "t:u:" + user).arg("ltv").arg("900")));
      post(track(user, "Subscription Cancelled", new JsonObject()));
      assertEquals(1, awaitSignals("churn-risk", user, 1).size(), "the rule read the trait from the old traits key");
      JsonObject state = user(user);
      JsonObject session = state.getJsonObject("session");
      assertEquals("old-session", session.getString("sessionId"), "the session went on");
      assertEquals(4, session.getInteger("eventCount"));
      assertEquals("hats", session.getJsonObject("attributes").getString("intentCategory"));
      assertEquals(40, session.getJsonObject("cart").getInteger("value"), state.encode());
      assertEquals(900, state.getJsonObject("traits").getInteger("ltv"));
      assertEquals("high", state.getJsonObject("traits").getString("churnRisk"), "the rule's action is a trait");
      assertEquals(0, await(redis.send(Request.cmd(Command.EXISTS).arg(prefix + "cart:u:" + user)
          .arg(prefix + "t:u:" + user))).toInteger(), "the old keys are gone");
    } finally {
      redis.close();
    }
  }

  private static <T> T await(io.vertx.core.Future<T> future) {
    return future.toCompletionStage().toCompletableFuture().join();
  }

  @Test
  @DisplayName("/admin/metrics serves the real-time stage timers and JVM meters in Prometheus's format, to the admin only")
  void stageMetrics() {
    assertEquals(401, router.get("/admin/metrics", Map.of()).statusCode());
    Map<String, Double> before = stageCounts();
    String user = "metrics-" + id();
    post(new JsonObject().put("type", "identify").put("userId", user).put("traits", new JsonObject().put("ltv", 700)),
        track(user, "Renewal Declined", new JsonObject()));
    awaitSignals("churn-risk", user, 1);
    Await.until(vertx, Duration.ofSeconds(30), "both events' stages are recorded", () -> vertx.executeBlocking(() -> {
      Map<String, Double> after = stageCounts();
      return List.of("log", "queue", "state", "rules", "total").stream()
          .allMatch(stage -> after.getOrDefault(stage, 0.0) >= before.getOrDefault(stage, 0.0) + 2)
          && after.getOrDefault("signals", 0.0) >= before.getOrDefault("signals", 0.0) + 1;
    }));
    HttpResponse<String> scrape = router.get("/admin/metrics", ADMIN);
    assertTrue(scrape.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
    assertTrue(scrape.body().contains("jvm_memory_used_bytes{"), "JVM heap meters are bound");
    assertTrue(scrape.body().contains("router_realtime_stage_seconds_bucket{"), "stages are histograms");
  }

  /** The count of each {@code router.realtime.stage} timer, by stage. */
  private Map<String, Double> stageCounts() {
    HttpResponse<String> scrape = router.get("/admin/metrics", ADMIN);
    assertEquals(200, scrape.statusCode(), scrape.body());
    Map<String, Double> counts = new HashMap<>();
    Matcher line = STAGE_COUNT.matcher(scrape.body());
    while (line.find()) {
      counts.put(line.group(1), Double.parseDouble(line.group(2)));
    }
    return counts;
  }
}
