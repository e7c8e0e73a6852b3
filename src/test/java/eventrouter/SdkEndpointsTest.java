package eventrouter;

import static eventrouter.testing.TestRouter.ADMIN_TOKEN;
import static eventrouter.testing.TestRouter.WRITE_KEY;
import static eventrouter.testing.TestRouter.basic;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.Await;
import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client contract's endpoints and transports, each as the SDK that uses it sends it (shared/BRIEF.md's table):
 * Segment's short paths and settings, RudderStack's beacon, config and gzipped form posts, the write key wherever an
 * SDK puts it, and a source's allowed origins.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SdkEndpointsTest {
  private static final String SHOP_KEY = "shop-write-key";
  private static final String SHOP_ORIGIN = "https://shop.example.com";
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  static Path dataDir;
  private TestRouter router;
  private WebSocketClient webSockets;

  @BeforeAll
  void start() {
    JsonObject shop = new JsonObject().put("sources", new JsonArray().add(new JsonObject()
        .put("id", "shop").put("writeKey", SHOP_KEY)
        .put("allowedOrigins", new JsonArray().add(SHOP_ORIGIN).add("https://*.shop.example.net"))));
    // Behind a proxy, as the compose stack's gateway: the client's address is the one it forwards.
    router = TestRouter.start(vertx, dataDir, Map.of("ROUTER_HTTP_FORWARDED_HEADERS", "x-forward"), shop);
    webSockets = vertx.createWebSocketClient();
  }

  @AfterAll
  void stop() {
    router.close();
    vertx.close();
  }

  private static JsonObject event(String type, String messageId) {
    JsonObject event = new JsonObject().put("type", type).put("messageId", messageId).put("userId", "sdk-user")
        .put("anonymousId", "sdk-anon");
    switch (type) {
      case "track" -> event.put("event", "Order Completed");
      case "group" -> event.put("groupId", "g-1");
      case "alias" -> event.put("previousId", "sdk-anon");
      default -> { }
    }
    return event;
  }

  private Row stored(String messageId) {
    router.awaitCount(1, "SELECT count(*) FROM events WHERE message_id = $1", messageId);
    return router.query("SELECT type, source_id FROM events WHERE message_id = $1", messageId).get(0);
  }

  private static Map<String, String> headers(String... pairs) {
    Map<String, String> headers = new HashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      headers.put(pairs[i], pairs[i + 1]);
    }
    return headers;
  }

  @Test
  @DisplayName("Segment analytics-next: each call to its type's initial (/v1/t, /p, /i, /g, /a, /s) as text/plain, key"
      + " in Basic auth and body; its batching strategy to /v1/b")
  void segmentShortPaths() {
    for (String type : List.of("track", "page", "identify", "group", "alias", "screen")) {
      String id = UUID.randomUUID().toString();
      String body = event(type, id).put("writeKey", WRITE_KEY).put("sentAt", "2026-12-03T10:00:00.000Z").encode();
      HttpResponse<String> response = router.post("/v1/" + type.charAt(0), body, headers("Content-Type", "text/plain",
          "Authorization", basic(WRITE_KEY), "Origin", SHOP_ORIGIN));
      assertEquals(200, response.statusCode(), type + ": " + response.body());
      assertEquals(type, stored(id).getString("type"));
    }
    String id = UUID.randomUUID().toString();
    String batch = new JsonObject().put("batch", new JsonArray().add(event("track", id)))
        .put("writeKey", WRITE_KEY).put("sentAt", "2026-12-03T10:00:00.000Z").encode();
    assertEquals(200, router.post("/v1/b", batch, headers("Content-Type", "text/plain")).statusCode());
    assertEquals("track", stored(id).getString("type"));
  }

  @Test
  @DisplayName("Segment's mobile SDKs: /v1/b with the key in the body only, gzipped as analytics-kotlin sends it")
  void segmentMobileBatch() {
    String id = UUID.randomUUID().toString();
    String batch = new JsonObject().put("batch", new JsonArray().add(event("screen", id)))
        .put("writeKey", WRITE_KEY).put("sentAt", "2026-12-03T10:00:00.000Z").encode();
    HttpResponse<String> response = router.postGzip("/v1/b", batch, headers("Content-Type", "text/plain"));
    assertEquals(200, response.statusCode(), response.body());
    assertEquals("screen", stored(id).getString("type"));
  }

  @Test
  @DisplayName("RudderStack's beacon: /beacon/v1/batch with the key in the query string, a text/plain body")
  void rudderStackBeacon() {
    String id = UUID.randomUUID().toString();
    String batch = new JsonObject().put("batch", new JsonArray().add(event("page", id)))
        .put("sentAt", "2026-12-03T10:00:00.000Z").encode();
    HttpResponse<String> response = router.post("/beacon/v1/batch?writeKey=" + WRITE_KEY, batch,
        headers("Content-Type", "text/plain;charset=UTF-8", "Origin", "https://anywhere.example.org"));
    assertEquals(200, response.statusCode(), response.body());
    assertEquals("page", stored(id).getString("type"));
  }

  @Test
  @DisplayName("RudderStack's Node SDK: a gzipped JSON batch under Content-Type application/x-www-form-urlencoded")
  void rudderStackNodeForm() {
    String id = UUID.randomUUID().toString();
    String batch = new JsonObject().put("batch", new JsonArray().add(event("identify", id))).encode();
    HttpResponse<String> response = router.postGzip("/v1/batch", batch, headers("Content-Type",
        "application/x-www-form-urlencoded", "Authorization", basic(WRITE_KEY)));
    assertEquals(200, response.statusCode(), response.body());
    assertEquals("identify", stored(id).getString("type"));
  }

  @Test
  @DisplayName("RudderStack's AMP pixel: GET /pixel/v1/track and /page with the event in the query string, dotted"
      + " names nested, answered with a 1x1 GIF; an invalid one is 400 and kept")
  void rudderStackPixel() {
    String anonymousId = "amp-" + UUID.randomUUID();
    HttpResponse<String> track = router.get("/pixel/v1/track?writeKey=" + WRITE_KEY + "&anonymousId=" + anonymousId
        + "&event=Article%20Read&properties.section=news&context.library.name=RudderStack%20AMP%20SDK",
        headers("Origin", "https://news.example.org"));
    assertEquals(200, track.statusCode(), track.body());
    assertEquals("image/gif", track.headers().firstValue("Content-Type").orElse(""));
    assertEquals(200, router.get("/pixel/v1/page?writeKey=" + WRITE_KEY + "&anonymousId=" + anonymousId
        + "&name=Home&properties.path=%2F", headers()).statusCode());
    router.awaitCount(2, "SELECT count(*) FROM events WHERE anonymous_id = $1", anonymousId);
    Row read = router.query("SELECT event, properties, context FROM tracks WHERE anonymous_id = $1", anonymousId)
        .get(0);
    assertEquals("Article Read", read.getString("event"));
    assertEquals("news", ((JsonObject) read.getValue("properties")).getString("section"));
    assertEquals("RudderStack AMP SDK", ((JsonObject) read.getValue("context")).getJsonObject("library")
        .getString("name"));
    assertEquals("Home", router.query("SELECT name FROM pages WHERE anonymous_id = $1", anonymousId).get(0)
        .getString("name"));

    assertEquals(401, router.get("/pixel/v1/track?writeKey=nope&anonymousId=a&event=E", headers()).statusCode());
    String messageId = UUID.randomUUID().toString();
    HttpResponse<String> noUser = router.get("/pixel/v1/track?writeKey=" + WRITE_KEY + "&event=E&messageId="
        + messageId, headers());
    assertEquals(400, noUser.statusCode(), noUser.body());
    router.awaitCount(1, "SELECT count(*) FROM ingest_rejects WHERE message_id = $1 AND endpoint = '/pixel/v1/track'",
        messageId);
  }

  @Test
  @DisplayName("the write key: Basic auth wins over the query string, which wins over the body")
  void writeKeyPrecedence() {
    String basicWins = UUID.randomUUID().toString();
    assertEquals(200, router.post("/v1/track?writeKey=nope", event("track", basicWins).put("writeKey", "nope").encode(),
        headers("Authorization", basic(SHOP_KEY))).statusCode());
    assertEquals("shop", stored(basicWins).getString("source_id"));
    assertEquals(401, router.post("/v1/track", event("track", UUID.randomUUID().toString())
        .put("writeKey", WRITE_KEY).encode(), headers("Authorization", basic("nope"))).statusCode());
    String queryWins = UUID.randomUUID().toString();
    assertEquals(200, router.post("/v1/track?writeKey=" + SHOP_KEY, event("track", queryWins).put("writeKey", "nope")
        .encode(), headers()).statusCode());
    assertEquals("shop", stored(queryWins).getString("source_id"));
  }

  @Test
  @DisplayName("analytics-next's settings (its cdnURL) send it to this router, with Segment's telemetry off; an"
      + " unknown key is 404, on which the SDK does not load")
  void segmentSettings() {
    HttpResponse<String> response = router.get("/v1/projects/" + WRITE_KEY + "/settings", headers("Origin",
        "https://anywhere.example.org"));
    assertEquals(200, response.statusCode(), response.body());
    JsonObject settings = new JsonObject(response.body());
    JsonObject segmentIo = settings.getJsonObject("integrations").getJsonObject("Segment.io");
    assertEquals(WRITE_KEY, segmentIo.getString("apiKey"));
    assertEquals("127.0.0.1:" + router.router().httpPort() + "/v1", segmentIo.getString("apiHost"));
    assertEquals("http", segmentIo.getString("protocol"));
    assertEquals(0, settings.getJsonObject("metrics").getInteger("sampleRate"));
    assertEquals(1, settings.getJsonObject("integrations").size(), "no device-mode integration to fetch from a CDN");
    assertEquals("https://anywhere.example.org", response.headers().firstValue("Access-Control-Allow-Origin")
        .orElse(""));

    HttpResponse<String> proxied = router.get("/v1/projects/" + WRITE_KEY + "/settings", headers(
        "X-Forwarded-Host", "collect.example.com", "X-Forwarded-Proto", "https"));
    JsonObject behindProxy = new JsonObject(proxied.body()).getJsonObject("integrations").getJsonObject("Segment.io");
    assertEquals("collect.example.com/v1", behindProxy.getString("apiHost"));
    assertEquals("https", behindProxy.getString("protocol"));

    HttpResponse<String> unknown = router.get("/v1/projects/nope/settings", headers());
    assertEquals(404, unknown.statusCode());
    assertTrue(unknown.body().contains("Invalid write key"), unknown.body());
  }

  @Test
  @DisplayName("RudderStack's source config (its configUrl), by query key or Basic auth: enabled, no destinations, no"
      + " stats sent elsewhere; an unknown key is 401 Invalid write key")
  void rudderStackConfig() {
    for (String path : List.of("/sourceConfig/?p=npm&v=3.34.1&build=modern&writeKey=" + WRITE_KEY,
        "/sourceConfig?writeKey=" + WRITE_KEY)) {
      HttpResponse<String> response = router.get(path, headers());
      assertEquals(200, response.statusCode(), response.body());
      JsonObject source = new JsonObject(response.body()).getJsonObject("source");
      assertTrue(source.getBoolean("enabled"));
      assertFalse(source.getString("id").isEmpty());
      assertEquals(new JsonArray(), source.getJsonArray("destinations"));
      assertFalse(source.getJsonObject("config").getJsonObject("statsCollection").getJsonObject("errors")
          .getBoolean("enabled"));
    }
    assertEquals(200, router.get("/sourceConfig/", headers("Authorization", basic(WRITE_KEY))).statusCode());
    HttpResponse<String> unknown = router.get("/sourceConfig/?writeKey=nope", headers());
    assertEquals(401, unknown.statusCode());
    assertTrue(unknown.body().contains("Invalid write key"), unknown.body());
    assertEquals(401, router.get("/sourceConfig/", headers()).statusCode());
  }

  @Test
  @DisplayName("a source's allowed origins: exact and wildcard origins and non-browser clients pass; another origin is"
      + " 403 naming it, wherever the key came from, and nothing of it is stored")
  void allowedOrigins() {
    for (String origin : List.of(SHOP_ORIGIN, "https://eu.shop.example.net", "HTTPS://Shop.Example.com")) {
      String id = UUID.randomUUID().toString();
      assertEquals(200, router.post("/v1/track", event("track", id).encode(), headers("Origin", origin,
          "Authorization", basic(SHOP_KEY))).statusCode(), origin);
      stored(id);
    }
    String fromServer = UUID.randomUUID().toString();
    assertEquals(200, router.post("/v1/track", event("track", fromServer).encode(), headers("Authorization",
        basic(SHOP_KEY))).statusCode());
    stored(fromServer);

    String evil = "https://evil.example.org";
    List<String> refusedIds = new java.util.ArrayList<>();
    for (String[] request : List.of(
        new String[] {"/v1/track", "basic"},
        new String[] {"/beacon/v1/batch?writeKey=" + SHOP_KEY, "query"},
        new String[] {"/v1/track", "body"},
        new String[] {"/v1/t", "apex"})) {
      String id = UUID.randomUUID().toString();
      refusedIds.add(id);
      JsonObject event = event("track", id);
      String body = request[0].startsWith("/beacon") ? new JsonObject().put("batch", new JsonArray().add(event)).encode()
          : request[1].equals("body") || request[1].equals("apex") ? event.put("writeKey", SHOP_KEY).encode()
          : event.encode();
      Map<String, String> headers = headers("Origin", request[1].equals("apex") ? "https://shop.example.net" : evil);
      if (request[1].equals("basic")) {
        headers.put("Authorization", basic(SHOP_KEY));
      }
      HttpResponse<String> response = router.post(request[0], body, headers);
      assertEquals(403, response.statusCode(), request[1] + ": " + response.body());
      assertTrue(response.body().contains("is not allowed to send with this write key (source shop allows "
          + SHOP_ORIGIN), response.body());
    }
    assertEquals(403, router.get("/sourceConfig/?writeKey=" + SHOP_KEY, headers("Origin", evil)).statusCode());
    assertEquals(403, router.get("/v1/projects/" + SHOP_KEY + "/settings", headers("Origin", evil)).statusCode());
    assertEquals(200, router.get("/v1/projects/" + SHOP_KEY + "/settings", headers("Origin", SHOP_ORIGIN))
        .statusCode());

    WebSocket ws = Await.result(webSockets.connect(new WebSocketConnectOptions().setHost("127.0.0.1")
        .setPort(router.router().httpPort()).setURI("/v1/stream?writeKey=" + SHOP_KEY).addHeader("Origin", evil)));
    Await.until(vertx, java.time.Duration.ofSeconds(10), "the socket is closed", () ->
        io.vertx.core.Future.succeededFuture(ws.isClosed()));
    assertEquals((short) 1008, ws.closeStatusCode());

    // A later event of the same user is stored: the refused ones, earlier on the same partition, would be too.
    stored(fromServer);
    String sentinel = UUID.randomUUID().toString();
    assertEquals(200, router.post("/v1/track", event("track", sentinel).encode(), headers("Authorization",
        basic(SHOP_KEY))).statusCode());
    stored(sentinel);
    assertEquals(0L, router.query("SELECT count(*) FROM events WHERE message_id = ANY($1)",
        (Object) refusedIds.toArray(String[]::new)).get(0).getLong(0));
  }

  @Test
  @DisplayName("behind a trusted proxy (http.forwardedHeaders), events over HTTP and WebSocket record the client's"
      + " address from X-Forwarded-For, and an address the SDK set stays")
  void forwardedClientAddress() {
    String overHttp = UUID.randomUUID().toString();
    assertEquals(200, router.post("/v1/track", event("track", overHttp).encode(), headers("Authorization",
        basic(SHOP_KEY), "X-Forwarded-For", "203.0.113.7")).statusCode());
    String ownIp = UUID.randomUUID().toString();
    assertEquals(200, router.post("/v1/track", event("track", ownIp).put("context", new JsonObject()
        .put("ip", "198.51.100.1")).encode(), headers("Authorization", basic(SHOP_KEY), "X-Forwarded-For",
        "203.0.113.7")).statusCode());

    String overSocket = UUID.randomUUID().toString();
    WebSocket ws = Await.result(webSockets.connect(new WebSocketConnectOptions().setHost("127.0.0.1")
        .setPort(router.router().httpPort()).setURI("/v1/stream?writeKey=" + SHOP_KEY)
        .addHeader("Origin", SHOP_ORIGIN).addHeader("X-Forwarded-For", "203.0.113.8")));
    Await.result(ws.writeTextMessage(event("track", overSocket).encode()));

    for (String[] expected : List.of(new String[] {overHttp, "203.0.113.7"}, new String[] {ownIp, "198.51.100.1"},
        new String[] {overSocket, "203.0.113.8"})) {
      stored(expected[0]);
      assertEquals(expected[1], router.query("SELECT context->>'ip' FROM tracks WHERE message_id = $1", expected[0])
          .get(0).getString(0));
    }
    ws.close();
  }

  @Test
  @DisplayName("refused events are counted by source and reason at /admin/metrics")
  void rejectsMeter() {
    String batch = new JsonObject().put("batch", new JsonArray()
        .add(event("track", UUID.randomUUID().toString()))
        .add(new JsonObject().put("type", "track").put("event", "No User"))).encode();
    HttpResponse<String> response = router.postWithKey("/v1/batch", batch);
    assertEquals(200, response.statusCode());
    assertEquals("missing_id", new JsonObject(response.body()).getJsonArray("rejected").getJsonObject(0)
        .getString("reason"));
    String metrics = router.get("/admin/metrics", headers("Authorization", "Bearer " + ADMIN_TOKEN)).body();
    assertTrue(metrics.lines().anyMatch(line -> line.startsWith("router_ingest_rejected_total{")
        && line.contains("reason=\"missing_id\"") && !line.endsWith(" 0.0")), metrics);
  }
}
