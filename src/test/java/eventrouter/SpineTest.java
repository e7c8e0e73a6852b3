package eventrouter;

import static eventrouter.testing.TestRouter.WRITE_KEY;
import static eventrouter.testing.TestRouter.basic;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.config.RouterConfig;
import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The spine end to end: real SDKs and raw HTTP in, Kafka, the warehouse writer, rows in Postgres. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SpineTest {
  private static final String SOURCE_ID = RouterConfig.sourceForKey(WRITE_KEY, RouterConfig.RateLimit.OFF).id();
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  static Path dataDir;
  private TestRouter router;

  @BeforeAll
  void start() {
    router = TestRouter.start(vertx, dataDir);
  }

  @AfterAll
  void stop() {
    router.close();
    vertx.close();
  }

  private static String id() {
    return UUID.randomUUID().toString();
  }

  private long countEvents(String... messageIds) {
    return router.awaitCount(messageIds.length, "SELECT count(*) FROM events WHERE message_id = ANY($1)",
        (Object) messageIds);
  }

  private Row one(String sql, Object... params) {
    List<Row> rows = router.query(sql, params);
    assertEquals(1, rows.size(), "rows for " + sql);
    return rows.get(0);
  }

  @Test
  @DisplayName("every single-event endpoint answers with and without a trailing slash, key in header or body")
  void everyEndpoint() {
    String user = "endpoints-" + id();
    Map<String, String> bodies = Map.of(
        "track", "{\"event\":\"Clicked\"",
        "identify", "{\"traits\":{\"a\":1}",
        "page", "{\"name\":\"P\"",
        "screen", "{\"name\":\"S\"",
        "group", "{\"groupId\":\"g\"",
        "alias", "{\"previousId\":\"old\"");
    List<String> sent = new ArrayList<>();
    for (Map.Entry<String, String> entry : bodies.entrySet()) {
      for (String suffix : List.of("", "/")) {
        String messageId = id();
        sent.add(messageId);
        String body = entry.getValue() + ",\"userId\":\"" + user + "\",\"messageId\":\"" + messageId + "\"";
        HttpResponse<String> response = suffix.isEmpty()
            ? router.postWithKey("/v1/" + entry.getKey(), body + "}")
            : router.post("/v1/" + entry.getKey() + suffix, body + ",\"writeKey\":\"" + WRITE_KEY + "\"}",
                Map.of("Content-Type", "application/json"));
        assertEquals(200, response.statusCode(), entry.getKey() + suffix + ": " + response.body());
        assertEquals("{\"success\":true}", response.body());
      }
    }
    assertEquals(sent.size(), countEvents(sent.toArray(String[]::new)));
    assertEquals(2, router.query("SELECT count(*) FROM aliases WHERE user_id = $1", user).get(0).getLong(0));
    assertEquals(0, router.query("SELECT count(*) FROM events WHERE raw ? 'writeKey' AND user_id = $1", user)
        .get(0).getLong(0), "the write key is never stored");
  }

  @Test
  @DisplayName("the batch context is merged into each event, the event's own values winning")
  void batchContextMerge() {
    String a = id();
    String b = id();
    String body = new JsonObject()
        .put("context", new JsonObject().put("app", new JsonObject().put("name", "shop").put("version", "1"))
            .put("locale", "en-GB"))
        .put("batch", new JsonArray()
            .add(new JsonObject().put("type", "track").put("event", "A").put("userId", "u").put("messageId", a))
            .add(new JsonObject().put("type", "track").put("event", "B").put("userId", "u").put("messageId", b)
                .put("context", new JsonObject().put("app", new JsonObject().put("version", "2")))))
        .encode();
    assertEquals(200, router.postWithKey("/v1/batch", body).statusCode());
    countEvents(a, b);
    JsonObject first = (JsonObject) one("SELECT context FROM events WHERE message_id = $1", a).getValue(0);
    JsonObject second = (JsonObject) one("SELECT context FROM events WHERE message_id = $1", b).getValue(0);
    assertEquals("en-GB", first.getString("locale"));
    assertEquals("1", first.getJsonObject("app").getString("version"));
    assertEquals("2", second.getJsonObject("app").getString("version"));
    assertEquals("shop", second.getJsonObject("app").getString("name"));
  }

  @Test
  @DisplayName("a duplicate messageId, in one batch or across requests, gives one row everywhere")
  void duplicates() {
    String dup = id();
    String sentinel = id();
    String event = "{\"type\":\"track\",\"event\":\"Dup\",\"userId\":\"dup-user\",\"messageId\":\"" + dup + "\"}";
    assertEquals(200, router.postWithKey("/v1/batch", "{\"batch\":[" + event + "," + event + "]}").statusCode());
    assertEquals(200, router.postWithKey("/v1/batch", "{\"batch\":[" + event + "]}").statusCode());
    assertEquals(200, router.postWithKey("/v1/track",
        "{\"event\":\"After\",\"userId\":\"dup-user\",\"messageId\":\"" + sentinel + "\"}").statusCode());
    countEvents(sentinel);
    // The writer consumes in order per user (one partition), so once the later event is stored all three are too.
    assertEquals(1, router.query("SELECT count(*) FROM events WHERE message_id = $1", dup).get(0).getLong(0));
    assertEquals(1, router.query("SELECT count(*) FROM tracks WHERE message_id = $1", dup).get(0).getLong(0));
  }

  @Test
  @DisplayName("timestamp = receivedAt − (sentAt − originalTimestamp), and all four are kept")
  void skewCorrection() {
    String messageId = id();
    // The device clock runs 1 hour ahead: it stamped the event 5 s before sending it.
    OffsetDateTime original = OffsetDateTime.of(2030, 1, 1, 13, 0, 0, 0, ZoneOffset.UTC);
    OffsetDateTime sentAt = original.plusSeconds(5);
    Instant before = Instant.now();
    String body = "{\"event\":\"Skewed\",\"userId\":\"skew\",\"messageId\":\"" + messageId + "\",\"timestamp\":\""
        + original + "\",\"sentAt\":\"" + sentAt.toString().replace("Z", "+0000") + "\"}";
    assertEquals(200, router.postWithKey("/v1/track", body).statusCode());
    Instant after = Instant.now();
    countEvents(messageId);
    Row row = one("SELECT \"timestamp\", original_timestamp, sent_at, received_at FROM events WHERE message_id = $1",
        messageId);
    Instant receivedAt = row.getOffsetDateTime("received_at").toInstant();
    assertTrue(!receivedAt.isBefore(before.minusMillis(1)) && !receivedAt.isAfter(after.plusMillis(1)),
        "receivedAt is the server's clock");
    assertEquals(original.toInstant(), row.getOffsetDateTime("original_timestamp").toInstant());
    assertEquals(sentAt.toInstant(), row.getOffsetDateTime("sent_at").toInstant());
    assertEquals(receivedAt.minusSeconds(5), row.getOffsetDateTime("timestamp").toInstant());
  }

  @Test
  @DisplayName("a missing messageId is generated, and the event is stored under it")
  void generatedMessageId() {
    String user = "gen-" + id();
    assertEquals(200, router.postWithKey("/v1/track", "{\"event\":\"NoId\",\"userId\":\"" + user + "\"}").statusCode());
    long count = router.awaitCount(1, "SELECT count(*) FROM events WHERE user_id = $1", user);
    assertEquals(1, count);
    String messageId = one("SELECT message_id FROM events WHERE user_id = $1", user).getString(0);
    assertEquals(7, UUID.fromString(messageId).version(), "a time-ordered UUIDv7");
  }

  @Test
  @DisplayName("without http.forwardedHeaders, X-Forwarded-For is ignored: a client cannot choose its recorded address")
  void forwardedHeadersIgnoredByDefault() {
    String user = "fwd-" + id();
    HttpResponse<String> sent = router.post("/v1/track", "{\"event\":\"Spoof\",\"userId\":\"" + user + "\"}",
        Map.of("Authorization", TestRouter.basic(TestRouter.WRITE_KEY), "Content-Type", "application/json",
            "X-Forwarded-For", "203.0.113.7"));
    assertEquals(200, sent.statusCode(), sent.body());
    router.awaitCount(1, "SELECT count(*) FROM tracks WHERE user_id = $1", user);
    assertEquals("127.0.0.1", one("SELECT context->>'ip' FROM tracks WHERE user_id = $1", user).getString(0));
  }

  @Test
  @DisplayName("GET /health answers 200 and names each check")
  void health() {
    HttpResponse<String> response = router.get("/health", Map.of());
    assertEquals(200, response.statusCode(), response.body());
    JsonObject health = new JsonObject(response.body());
    assertEquals("UP", health.getString("status"));
    List<String> checks = health.getJsonArray("checks").stream()
        .map(check -> ((JsonObject) check).getString("id") + "=" + ((JsonObject) check).getString("status"))
        .sorted().toList();
    assertEquals(List.of("kafka=UP", "postgres=UP", "realtime=UP", "redis=UP", "verticles=UP"), checks);
  }

  @Test
  @DisplayName("admin endpoints answer 401 without the bearer token and 200 with it, never showing write keys")
  void adminToken() {
    assertEquals(401, router.get("/admin/sources", Map.of()).statusCode());
    assertEquals(401, router.get("/admin/sources", Map.of("Authorization", "Bearer wrong")).statusCode());
    assertEquals(401, router.get("/admin/sources", Map.of("Authorization", basic(WRITE_KEY))).statusCode());
    HttpResponse<String> ok = router.get("/admin/sources",
        Map.of("Authorization", "Bearer " + TestRouter.ADMIN_TOKEN));
    assertEquals(200, ok.statusCode());
    assertEquals(SOURCE_ID, new JsonObject(ok.body()).getJsonArray("sources").getJsonObject(0).getString("id"));
    assertTrue(!ok.body().contains(WRITE_KEY));
  }
}
