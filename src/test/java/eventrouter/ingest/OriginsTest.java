package eventrouter.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.config.RouterConfig.RateLimit;
import eventrouter.config.RouterConfig.SourceConfig;
import eventrouter.testing.Await;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.RequestOptions;
import io.vertx.ext.web.Router;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class OriginsTest {
  private static final SourceConfig SHOP = new SourceConfig("shop", "k1", RateLimit.OFF,
      List.of("https://shop.example.com", "https://*.shop.example.net", "http://localhost:3000"));
  private static final SourceConfig ANY = new SourceConfig("any", "k2", RateLimit.OFF);
  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() {
    Await.result(vertx.close());
  }

  @Test
  @DisplayName("a source allows its exact origins, subdomains of a wildcard (not the apex), any case, and no Origin")
  void allows() {
    for (String origin : List.of("https://shop.example.com", "https://a.shop.example.net", "https://a.b.shop.example.net",
        "HTTPS://SHOP.EXAMPLE.COM", "http://localhost:3000")) {
      assertTrue(Origins.allows(SHOP, origin), origin);
    }
    for (String origin : List.of("http://shop.example.com", "https://shop.example.com:8443", "https://shop.example.net",
        "https://evilshop.example.net", "https://shop.example.com.evil.org", "http://localhost:3001", "null")) {
      assertFalse(Origins.allows(SHOP, origin), origin);
    }
    assertTrue(Origins.allows(SHOP, null), "a client that is not a browser sends no Origin");
    assertTrue(Origins.allows(ANY, "https://anything.example.org"));
  }

  @Test
  @DisplayName("when every source lists its origins, a preflight from any other origin is refused")
  void preflightForTheUnionOfOrigins() {
    Router router = Router.router(vertx);
    router.route().handler(Origins.corsHandler(List.of(SHOP)));
    router.post("/v1/t").handler(ctx -> ctx.response().end());
    HttpServer server = Await.result(vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1"));
    HttpClient client = vertx.createHttpClient();
    assertEquals(204, preflight(client, server.actualPort(), "https://x.shop.example.net").statusCode());
    assertEquals(403, preflight(client, server.actualPort(), "https://evil.example.org").statusCode());
  }

  private static HttpClientResponse preflight(HttpClient client, int port, String origin) {
    return Await.result(client.request(new RequestOptions().setMethod(HttpMethod.OPTIONS).setHost("127.0.0.1")
            .setPort(port).setURI("/v1/t").addHeader("Origin", origin).addHeader("Access-Control-Request-Method", "POST"))
        .compose(request -> request.send()));
  }
}
