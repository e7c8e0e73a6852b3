package eventrouter;

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
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * CORS for browsers on {@code /v1/*}: preflights, {@code Access-Control-Allow-Origin} on every answer to a request
 * with an Origin (refusals included, so that a page can read them), and none without one.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CorsTest {
  private static final String ORIGIN = "https://shop.example.com";
  private static final String ALLOW_ORIGIN = "Access-Control-Allow-Origin";
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  static Path dataDir;
  private TestRouter router;
  private WebSocketClient webSockets;

  @BeforeAll
  void start() {
    router = TestRouter.start(vertx, dataDir);
    webSockets = vertx.createWebSocketClient();
  }

  @AfterAll
  void stop() {
    router.close();
    vertx.close();
  }

  private HttpResponse<String> send(String method, String path, String body, Map<String, String> headers) {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(router.baseUrl() + path))
        .timeout(Duration.ofSeconds(30))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    headers.forEach(request::header);
    try {
      return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static Map<String, String> headers(String... pairs) {
    Map<String, String> headers = new HashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      headers.put(pairs[i], pairs[i + 1]);
    }
    return headers;
  }

  private static String track() {
    return new JsonObject().put("type", "track").put("event", "Viewed").put("userId", "cors-user")
        .put("messageId", UUID.randomUUID().toString()).encode();
  }

  @Test
  @DisplayName("an SDK's POST, without an Origin, gets no CORS headers")
  void withoutOrigin() {
    HttpResponse<String> response = send("POST", "/v1/track", track(), headers("Content-Type", "application/json",
        "Authorization", basic(WRITE_KEY)));
    assertEquals(200, response.statusCode(), response.body());
    assertEquals("{\"success\":true}", response.body());
    assertEquals("application/json", response.headers().firstValue("Content-Type").orElse(""));
    assertEquals("16", response.headers().firstValue("Content-Length").orElse(""));
    assertFalse(response.headers().firstValue(ALLOW_ORIGIN).isPresent());
    assertFalse(response.headers().firstValue("Vary").isPresent());
  }

  @Test
  @DisplayName("a browser's POST is allowed from any origin, with credentials, and so are its refusals, which the page"
      + " can then read")
  void withOrigin() {
    Map<String, String> browser = headers("Origin", ORIGIN, "Content-Type", "text/plain");
    HttpResponse<String> accepted = send("POST", "/v1/batch", "{\"writeKey\":\"" + WRITE_KEY + "\",\"batch\":["
        + track() + "]}", browser);
    assertEquals(200, accepted.statusCode(), accepted.body());
    assertAllowed(accepted);

    HttpResponse<String> unknownKey = send("POST", "/v1/track", track(), headers("Origin", ORIGIN,
        "Content-Type", "application/json", "Authorization", basic("nope")));
    assertEquals(401, unknownKey.statusCode());
    assertAllowed(unknownKey);
    HttpResponse<String> wrongEncoding = send("POST", "/v1/track", track(), headers("Origin", ORIGIN,
        "Content-Type", "text/plain", "Content-Encoding", "br", "Authorization", basic(WRITE_KEY)));
    assertEquals(415, wrongEncoding.statusCode());
    assertAllowed(wrongEncoding);
    HttpResponse<String> malformed = send("POST", "/v1/track", "{", headers("Origin", ORIGIN,
        "Content-Type", "application/json", "Authorization", basic(WRITE_KEY)));
    assertEquals(400, malformed.statusCode());
    assertAllowed(malformed);
  }

  /** With credentials allowed (navigator.sendBeacon always sends them) the exact origin is echoed, never "*". */
  private static void assertAllowed(HttpResponse<String> response) {
    assertEquals(ORIGIN, response.headers().firstValue(ALLOW_ORIGIN).orElse(""), response.body());
    assertEquals("true", response.headers().firstValue("Access-Control-Allow-Credentials").orElse(""));
  }

  @Test
  @DisplayName("a preflight is answered 204 on every ingest and settings path, allowing GET and POST, the headers the"
      + " browser asks for (RudderStack's AnonymousId and Rsa-*, Segment's X-Retry-Count) and a day's cache")
  void preflight() {
    String requested = "authorization,content-type,anonymousid,sentat,rsa-recovered,rsa-retry-attempt,"
        + "rsa-since-last-attempt,rsa-since-first-attempt,rsa-retry-reason,x-retry-count";
    for (String path : new String[] {"/v1/batch", "/v1/track", "/v1/import/", "/v1/t", "/v1/b",
        "/beacon/v1/batch?writeKey=" + WRITE_KEY, "/sourceConfig/?writeKey=" + WRITE_KEY,
        "/v1/projects/" + WRITE_KEY + "/settings"}) {
      HttpResponse<String> response = send("OPTIONS", path, null, headers("Origin", ORIGIN,
          "Access-Control-Request-Method", path.contains("onfig") || path.contains("settings") ? "GET" : "POST",
          "Access-Control-Request-Headers", requested));
      assertEquals(204, response.statusCode(), path);
      assertAllowed(response);
      Set<String> methods = Arrays.stream(response.headers().firstValue("Access-Control-Allow-Methods").orElse("")
          .split(",")).map(String::trim).collect(Collectors.toSet());
      assertEquals(Set.of("GET", "POST"), methods, path);
      Set<String> allowed = Arrays.stream(response.headers().firstValue("Access-Control-Allow-Headers").orElse("")
          .split(",")).map(String::trim).collect(Collectors.toSet());
      assertEquals(Set.of(requested.split(",")), allowed, path);
      assertEquals("86400", response.headers().firstValue("Access-Control-Max-Age").orElse(""), path);
    }
    // Not a preflight: the router has no OPTIONS route, with or without an Origin.
    HttpResponse<String> bare = send("OPTIONS", "/v1/batch", null, headers("Origin", ORIGIN));
    assertEquals(405, bare.statusCode());
    assertAllowed(bare);
    HttpResponse<String> noOrigin = send("OPTIONS", "/v1/batch", null, headers("Access-Control-Request-Method",
        "POST"));
    assertEquals(405, noOrigin.statusCode());
    assertFalse(noOrigin.headers().firstValue(ALLOW_ORIGIN).isPresent());
  }

  @Test
  @DisplayName("an Origin that is not one is refused before the event is read")
  void invalidOrigin() {
    HttpResponse<String> response = send("POST", "/v1/track", track(), headers("Origin", "not an origin ^",
        "Content-Type", "application/json", "Authorization", basic(WRITE_KEY)));
    assertEquals(403, response.statusCode(), response.body());
    assertTrue(response.body().contains("Origin header \\\"not an origin ^\\\" is not an origin"), response.body());
    assertFalse(response.headers().firstValue(ALLOW_ORIGIN).isPresent());
  }

  @Test
  @DisplayName("a browser's WebSocket, which always sends its Origin, upgrades and gets the allowed origin")
  void webSocketWithOrigin() {
    WebSocket ws = Await.result(webSockets.connect(new WebSocketConnectOptions().setHost("127.0.0.1")
        .setPort(router.router().httpPort()).setURI("/v1/stream?writeKey=" + WRITE_KEY).addHeader("Origin", ORIGIN)));
    try {
      assertFalse(ws.isClosed());
      assertEquals(ORIGIN, ws.headers().get(ALLOW_ORIGIN));
    } finally {
      Await.result(ws.close());
    }
  }
}
