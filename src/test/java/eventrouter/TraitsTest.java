package eventrouter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.Await;
import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
 * Computed traits with the shipped conf/traits.json (ltv, orders) and rules: computed in Postgres, copied into Redis,
 * read by rules in real time.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TraitsTest {
  private static final Map<String, String> ADMIN = Map.of("Authorization", "Bearer " + TestRouter.ADMIN_TOKEN);
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  static Path dir;
  private TestRouter router;

  @BeforeAll
  void start() {
    router = TestRouter.start(vertx, dir.resolve("data"),
        Map.of("ROUTER_TRAITS_REFRESH_MS", "100", "ROUTER_TRAITS_SWEEP_MS", "1000"), new JsonObject());
  }

  @AfterAll
  void stop() {
    router.close();
    vertx.close();
  }

  private static String id() {
    return UUID.randomUUID().toString();
  }

  private static JsonObject track(String user, String name, JsonObject properties) {
    return new JsonObject().put("type", "track").put("userId", user).put("event", name).put("properties", properties);
  }

  private static JsonObject identify(String user) {
    return new JsonObject().put("type", "identify").put("userId", user)
        .put("traits", new JsonObject().put("plan", "basic"));
  }

  /** The user's real-time traits, as the rules see them (from Redis). */
  private JsonObject traits(String user) {
    HttpResponse<String> response = router.get("/admin/users/" + user, ADMIN);
    assertEquals(200, response.statusCode(), response.body());
    return new JsonObject(response.body()).getJsonObject("traits", new JsonObject());
  }

  private void awaitTrait(String user, String name, double value) {
    Await.until(vertx, Duration.ofSeconds(30), user + " has traits." + name + " = " + value,
        () -> vertx.executeBlocking(() -> traits(user).getValue(name) instanceof Number n && n.doubleValue() == value));
  }

  @Test
  @DisplayName("orders stored in Postgres become traits.ltv and traits.orders in Redis, and a rule acts on them")
  void lifetimeValueDrivesChurnRisk() {
    String user = "buyer-" + id();
    router.postBatch(identify(user),
        track(user, "Order Completed", new JsonObject().put("revenue", 300)),
        track(user, "Order Completed", new JsonObject().put("total", 250.5)),
        track(user, "Order Completed", new JsonObject().put("revenue", "n/a")));
    awaitTrait(user, "ltv", 550.5);
    awaitTrait(user, "orders", 3);
    assertEquals("basic", traits(user).getString("plan"), "identify traits stay beside computed ones");
    List<Row> stored = router.query("SELECT name, value FROM computed_traits WHERE user_id = $1 ORDER BY name", user);
    assertEquals(2, stored.size());
    assertEquals("ltv", stored.get(0).getString("name"));
    assertEquals(550.5, ((Number) stored.get(0).getValue("value")).doubleValue());

    // The shipped churn-risk rule needs traits.ltv >= 500; nothing but the computed trait supplies it here.
    router.postBatch(track(user, "Renewal Declined", new JsonObject()));
    router.awaitCount(1, "SELECT count(*) FROM signals WHERE rule_id = 'churn-risk' AND user_id = $1", user);
    Row signal = router.query("SELECT properties FROM signals WHERE rule_id = 'churn-risk' AND user_id = $1", user)
        .get(0);
    assertEquals(550.5, ((JsonObject) signal.getValue("properties")).getDouble("ltv"));
  }

  @Test
  @DisplayName("the sweep computes traits from rows that reached Postgres by another way (a backfill); a user without"
      + " orders gets no ltv, so an ltv sent in identify traits is kept")
  void sweepPicksUpBackfill() {
    String backfilled = "backfilled-" + id();
    String browser = "browser-" + id();
    router.postBatch(identify(backfilled),
        new JsonObject().put("type", "identify").put("userId", browser).put("traits", new JsonObject().put("ltv", 900)),
        track(browser, "Product Viewed", new JsonObject()));
    router.awaitCount(2, "SELECT count(*) FROM users WHERE id IN ($1, $2)", backfilled, browser);
    // Straight into Postgres: the warehouse writer never sees it, so only the sweep can find it.
    router.query("INSERT INTO tracks (message_id, user_id, event, \"timestamp\", received_at, properties)"
        + " VALUES ($1, $2, 'Order Completed', now(), now(), '{\"revenue\": 42}')", id(), backfilled);
    awaitTrait(backfilled, "ltv", 42);
    // The sweep that found the backfill went over the browser too (both were in users before it started).
    assertEquals(900, traits(browser).getInteger("ltv"));
    assertEquals(0, router.query("SELECT * FROM computed_traits WHERE user_id = $1", browser).size());
  }

  @Test
  @DisplayName("a trait whose SQL Postgres refuses stops start-up, naming the trait, the file and Postgres' reason")
  void brokenTraitStopsStartup() throws Exception {
    Path file = dir.resolve("broken-traits.json");
    Files.writeString(file, new JsonArray().add(new JsonObject().put("name", "broken")
        .put("sql", "SELECT user_id, no_such_column FROM tracks WHERE user_id = ANY($1)")).encode());
    IllegalStateException error = assertThrows(IllegalStateException.class,
        () -> TestRouter.start(vertx, dir.resolve("data-broken"), Map.of("ROUTER_TRAITS", file.toString()),
            new JsonObject()));
    assertTrue(error.getMessage().contains("\"broken\"") && error.getMessage().contains(file.toString())
        && error.getMessage().contains("no_such_column"), error.getMessage());
  }
}
