package eventrouter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.embedded.EmbeddedKafka;
import eventrouter.embedded.EmbeddedPostgres;
import eventrouter.embedded.EmbeddedRedis;
import eventrouter.testing.Await;
import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Outages of the servers the router depends on. Each test runs its own real server as the router's "external" one,
 * so that it can stop it; the router itself is set up exactly as in production.
 */
class OutageTest {
  /**
   * How long Postgres and Redis stay down while events keep coming: a few seconds in the suite; loadtest/reliability.sh
   * sets 30 for RELIABILITY.md.
   */
  private static final int OUTAGE_SECONDS = Integer.parseInt(System.getenv().getOrDefault(
      "EVENTROUTER_TEST_OUTAGE_SECONDS", "3"));
  private final Vertx vertx = Vertx.vertx();
  private final List<AutoCloseable> toClose = new ArrayList<>();
  @TempDir
  Path dir;

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    vertx.close();
  }

  private static String trackBody(String messageId) {
    return "{\"event\":\"Outage\",\"userId\":\"outage-user\",\"messageId\":\"" + messageId + "\"}";
  }

  @Test
  @DisplayName("when Kafka cannot take the events, the client gets 503 (never 200) within the ack timeout")
  void kafkaDown() throws Exception {
    EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"), 0);
    toClose.add(kafka);
    TestRouter router = TestRouter.start(vertx, dir.resolve("router"), Map.of(
        "ROUTER_KAFKA_BOOTSTRAP", kafka.bootstrapServers(), "ROUTER_KAFKA_ACK_TIMEOUT_MS", "2000"), new JsonObject());
    toClose.add(router);
    assertEquals(200, router.postWithKey("/v1/track", trackBody(UUID.randomUUID().toString())).statusCode());

    kafka.close();
    String lost = UUID.randomUUID().toString();
    long started = System.nanoTime();
    HttpResponse<String> response = router.postWithKey("/v1/track", trackBody(lost));
    long tookMs = (System.nanoTime() - started) / 1_000_000;
    assertEquals(503, response.statusCode(), response.body());
    assertTrue(new JsonObject(response.body()).getString("error").contains("could not make the events durable"));
    assertTrue(tookMs < 10_000, "answered within the ack timeout, took " + tookMs + " ms");
    System.out.printf("outage kafka: with the broker down a request was answered 503 after %d ms (ack timeout 2000"
        + " ms), nothing acknowledged%n", tookMs);

    HttpResponse<String> health = router.get("/health", Map.of());
    assertEquals(503, health.statusCode(), "nothing can be acknowledged without Kafka");
    assertEquals("DOWN", new JsonObject(health.body()).getString("status"));
    assertTrue(health.body().contains("\"id\":\"kafka\",\"status\":\"DOWN\""), health.body());
  }

  @Test
  @DisplayName("while Postgres is down ingest goes on, and every event reaches the warehouse once it is back")
  void postgresDown() throws Exception {
    int port = freePort();
    Path pgDir = dir.resolve("postgres");
    EmbeddedPostgres postgres = EmbeddedPostgres.start(pgDir, port);
    TestRouter router = TestRouter.start(vertx, dir.resolve("router"), Map.of(
        "ROUTER_PG_URL", postgres.url(), "ROUTER_WAREHOUSE_RETRY_MAX_MS", "500"), new JsonObject());
    toClose.add(router);
    String before = UUID.randomUUID().toString();
    assertEquals(200, router.postWithKey("/v1/track", trackBody(before)).statusCode());
    router.awaitCount(1, "SELECT count(*) FROM events WHERE message_id = $1", before);

    postgres.close();
    List<String> during = new ArrayList<>();
    long downAt = System.nanoTime();
    while (System.nanoTime() - downAt < OUTAGE_SECONDS * 1_000_000_000L || during.size() < 50) {
      String id = UUID.randomUUID().toString();
      during.add(id);
      assertEquals(200, router.postWithKey("/v1/track", trackBody(id)).statusCode(), "ingest does not need Postgres");
    }
    HttpResponse<String> health = router.get("/health", Map.of());
    assertEquals(200, health.statusCode(), "the router still takes traffic: " + health.body());
    JsonObject report = new JsonObject(health.body());
    assertEquals("DEGRADED", report.getString("status"));
    assertEquals(List.of("postgres"), report.getJsonArray("down").getList());

    postgres = EmbeddedPostgres.start(pgDir, port);
    long upAt = System.nanoTime();
    toClose.add(0, postgres); // closed after the router
    assertEquals(during.size(), router.awaitCount(during.size(), "SELECT count(*) FROM events WHERE message_id ="
        + " ANY($1)", (Object) during.toArray(String[]::new)));
    System.out.printf("outage postgres: down %d s, %d events acknowledged meanwhile, %d of them found, all %d ms"
        + " after it was back%n", (upAt - downAt) / 1_000_000_000L, during.size(), during.size(),
        (System.nanoTime() - upAt) / 1_000_000);
  }

  @Test
  @DisplayName("while Redis is down ingest and the warehouse go on; the real-time path pauses and skips nothing")
  void redisDown() throws Exception {
    int port = freePort();
    Path redisDir = dir.resolve("redis");
    EmbeddedRedis redis = EmbeddedRedis.start(redisDir, port);
    TestRouter router = TestRouter.start(vertx, dir.resolve("router"), Map.of("ROUTER_REDIS_URL", redis.url()),
        new JsonObject());
    toClose.add(router);
    String user = "redis-outage-" + UUID.randomUUID();
    String failedLogin = "{\"event\":\"Login Failed\",\"userId\":\"" + user + "\"}";
    for (int i = 0; i < 2; i++) {
      assertEquals(200, router.postWithKey("/v1/track", failedLogin).statusCode());
    }
    Await.until(vertx, Duration.ofSeconds(30), "two failures counted", () -> vertx.executeBlocking(() ->
        new JsonObject(router.get("/admin/users/" + user, Map.of("Authorization", "Bearer " + TestRouter.ADMIN_TOKEN))
            .body()).getJsonObject("session").getInteger("eventCount", 0) == 2));

    redis.close();
    long downAt = System.nanoTime();
    List<String> during = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      String id = UUID.randomUUID().toString();
      during.add(id);
      assertEquals(200, router.postWithKey("/v1/track", "{\"event\":\"Login Failed\",\"userId\":\"" + user
          + "\",\"messageId\":\"" + id + "\"}").statusCode(), "ingest does not need Redis");
    }
    // Other users' events, for the rest of the outage: the real-time path must work them all off once it is back.
    List<String> others = new ArrayList<>();
    while (System.nanoTime() - downAt < OUTAGE_SECONDS * 1_000_000_000L) {
      String id = UUID.randomUUID().toString();
      others.add(id);
      assertEquals(200, router.postWithKey("/v1/track", "{\"event\":\"Page Viewed\",\"userId\":\"other-"
          + others.size() % 20 + "\",\"messageId\":\"" + id + "\"}").statusCode());
    }
    assertEquals(3, router.awaitCount(3, "SELECT count(*) FROM events WHERE message_id = ANY($1)",
        (Object) during.toArray(String[]::new)), "the warehouse does not need Redis");
    Await.until(vertx, Duration.ofSeconds(30), "health shows the real-time path degraded", () ->
        vertx.executeBlocking(() -> {
          HttpResponse<String> health = router.get("/health", Map.of());
          JsonObject report = new JsonObject(health.body());
          return health.statusCode() == 200 && "DEGRADED".equals(report.getString("status"))
              && report.getJsonArray("down").contains("realtime") && report.getJsonArray("down").contains("redis");
        }));
    assertEquals(0, router.query("SELECT count(*) FROM signals WHERE user_id = $1", user).get(0).getLong(0));

    redis = EmbeddedRedis.start(redisDir, port);
    long upAt = System.nanoTime();
    toClose.add(0, redis);
    // All five failures are counted once Redis is back: the ones it had, and the three that waited in Kafka.
    router.awaitCount(1, "SELECT count(*) FROM signals WHERE rule_id = 'failed-logins-per-user' AND user_id = $1",
        user);
    System.out.printf("outage redis: down %d s, %d events acknowledged meanwhile, all in the warehouse during it; the"
        + " real-time path raised the pending signal %d ms after Redis was back%n",
        (upAt - downAt) / 1_000_000_000L, during.size() + others.size(), (System.nanoTime() - upAt) / 1_000_000);
    Await.until(vertx, Duration.ofSeconds(30), "health is UP again", () -> vertx.executeBlocking(() ->
        "UP".equals(new JsonObject(router.get("/health", Map.of()).body()).getString("status"))));
  }

  @Test
  @DisplayName("an unreachable external Postgres or Redis fails start-up naming it, never falling back to embedded")
  void unreachableExternal() {
    int closed = freePort();
    IllegalStateException pg = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
        () -> TestRouter.start(vertx, dir.resolve("a"), Map.of("ROUTER_PG_URL",
            "postgresql://postgres@127.0.0.1:" + closed + "/nowhere"), new JsonObject()));
    assertTrue(pg.getMessage().startsWith("Postgres at postgresql://postgres@127.0.0.1:" + closed), pg.getMessage());
    IllegalStateException redis = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
        () -> TestRouter.start(vertx, dir.resolve("b"), Map.of("ROUTER_REDIS_URL",
            "redis://127.0.0.1:" + closed + "/0"), new JsonObject()));
    assertTrue(redis.getMessage().startsWith("Redis at redis://127.0.0.1:" + closed), redis.getMessage());
    IllegalStateException kafka = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
        () -> TestRouter.start(vertx, dir.resolve("c"), Map.of("ROUTER_KAFKA_BOOTSTRAP", "127.0.0.1:" + closed,
            "ROUTER_KAFKA_ACK_TIMEOUT_MS", "2000"), new JsonObject()));
    assertTrue(kafka.getMessage().contains("Kafka at 127.0.0.1:" + closed), kafka.getMessage());
  }

  static int freePort() {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
