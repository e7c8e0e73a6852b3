package eventrouter.warehouse.typed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.Await;
import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.math.BigDecimal;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The typed tables against a real router and real Postgres (embedded, or the machine's in the external pass). */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TypedTablesTest {
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  static Path dir;
  private TestRouter router;

  @BeforeAll
  void start() {
    // Two writer instances, each with its own pool, lanes and schema cache: schema changes race across writers, as
    // they do across nodes, and not only across one writer's lanes.
    router = TestRouter.start(vertx, dir, Map.of("ROUTER_WAREHOUSE_INSTANCES", "2"), new JsonObject());
  }

  @AfterAll
  void stop() {
    router.close();
    vertx.close();
  }

  private static JsonObject track(String user, String event, JsonObject properties) {
    return new JsonObject().put("type", "track").put("userId", user).put("event", event).put("properties", properties)
        .put("messageId", UUID.randomUUID().toString());
  }

  /** Posts the events and waits until the warehouse has them all. */
  private void store(JsonObject... events) {
    router.postBatch(events);
    String[] ids = java.util.Arrays.stream(events).map(e -> e.getString("messageId")).toArray(String[]::new);
    router.awaitCount(ids.length, "SELECT count(*) FROM events WHERE message_id = ANY($1)", (Object) ids);
  }

  private Map<String, String> columnTypes(String table) {
    Map<String, String> types = new HashMap<>();
    for (Row row : router.query("SELECT column_name, data_type FROM information_schema.columns"
        + " WHERE table_schema = current_schema() AND table_name = $1", table)) {
      types.put(row.getString(0), row.getString(1));
    }
    return types;
  }

  @Test
  @DisplayName("a track gets a table named after its event, a typed column per flattened property, and context_*")
  void tablePerEvent() {
    JsonObject event = track("u-1", "Order Completed", new JsonObject().put("revenue", 10).put("currency", "USD")
        .put("product", new JsonObject().put("sku", "a-1").put("price", 9.95)).put("tags", new JsonArray().add("x"))
        .put("paidAt", "2026-12-03T10:00:00.250Z").put("user_id", "spoofed").put("gift", false))
        .put("context", new JsonObject().put("page", new JsonObject().put("url", "https://shop.example/p")));
    store(event);
    Map<String, String> types = columnTypes("order_completed");
    assertEquals("bigint", types.get("revenue"));
    assertEquals("text", types.get("currency"));
    assertEquals("text", types.get("product_sku"));
    assertEquals("numeric", types.get("product_price"));
    assertEquals("jsonb", types.get("tags"));
    assertEquals("timestamp with time zone", types.get("paid_at"));
    assertEquals("boolean", types.get("gift"));
    assertEquals("text", types.get("_user_id"), "a property named like a fixed column gets a leading _");
    assertEquals("text", types.get("context_page_url"));
    Row row = router.query("SELECT revenue, product_sku, product_price, paid_at, _user_id, user_id, event,"
        + " context_page_url, loaded_at, tags::text FROM order_completed WHERE message_id = $1",
        event.getString("messageId")).get(0);
    assertEquals(10L, row.getLong(0));
    assertEquals("a-1", row.getString(1));
    assertEquals(new BigDecimal("9.95"), row.getBigDecimal(2), "the digits sent, not a double's");
    assertEquals("2026-12-03T10:00:00.250Z", row.getOffsetDateTime(3).toInstant().toString());
    assertEquals("spoofed", row.getString(4));
    assertEquals("u-1", row.getString(5));
    assertEquals("Order Completed", row.getString(6));
    assertEquals("https://shop.example/p", row.getString(7));
    assertNotNull(row.getValue(8));
    assertEquals("[\"x\"]", row.getString(9));
    Row table = router.query("SELECT event_name, message_id FROM schema_tables WHERE table_name = 'order_completed'")
        .get(0);
    assertEquals("Order Completed", table.getString(0));
    assertEquals(event.getString("messageId"), table.getString(1));
    Row column = router.query("SELECT type, source_path, event_name FROM schema_columns"
        + " WHERE table_name = 'order_completed' AND column_name = 'product_price'").get(0);
    assertEquals("numeric", column.getString(0));
    assertEquals("product.price", column.getString(1));
    assertEquals("Order Completed", column.getString(2));
    assertEquals(1, router.query("SELECT 1 FROM tracks WHERE message_id = $1", event.getString("messageId")).size(),
        "tracks keeps every track, with its properties as jsonb");
  }

  @Test
  @DisplayName("bigint widens to numeric and timestamptz to text; any other conflict is a discard, never a failure")
  void wideningAndConflicts() {
    JsonObject whole = track("u-2", "Plan Changed", new JsonObject().put("seats", 3).put("startsAt",
        "2026-12-03T10:00:00Z").put("trial", true));
    store(whole);
    assertEquals("bigint", columnTypes("plan_changed").get("seats"));
    JsonObject fraction = track("u-2", "Plan Changed", new JsonObject().put("seats", 3.5).put("startsAt", "soon"));
    JsonObject text = track("u-3", "Plan Changed", new JsonObject().put("seats", "many").put("trial", 1));
    store(fraction, text);
    Map<String, String> types = columnTypes("plan_changed");
    assertEquals("numeric", types.get("seats"));
    assertEquals("text", types.get("starts_at"));
    assertEquals("boolean", types.get("trial"));
    assertEquals(new BigDecimal("3"), seats(whole), "widening keeps the rows already there");
    assertEquals(new BigDecimal("3.5"), seats(fraction));
    assertNull(seats(text), "a conflicting value leaves the column null");
    Row widened = router.query("SELECT widened_from, widened_at FROM schema_columns"
        + " WHERE table_name = 'plan_changed' AND column_name = 'seats'").get(0);
    assertEquals("bigint", widened.getString(0));
    assertNotNull(widened.getValue(1));
    List<Row> discards = router.query("SELECT column_name, value::text, value_type, column_type, reason"
        + " FROM schema_discards WHERE message_id = $1 ORDER BY column_name", text.getString("messageId"));
    assertEquals(2, discards.size(), "seats and trial");
    assertEquals("seats", discards.get(0).getString(0));
    assertEquals("\"many\"", discards.get(0).getString(1));
    assertEquals("text", discards.get(0).getString(2));
    // Bigint or numeric: the two events are of different users, so either may have reached Postgres first.
    String columnType = discards.get(0).getString(3);
    assertTrue(Set.of("bigint", "numeric").contains(columnType), columnType);
    assertEquals("text value in a " + columnType + " column", discards.get(0).getString(4));
    assertEquals("trial", discards.get(1).getString(0));
    assertEquals(0L, router.query("SELECT count(*) FROM warehouse_rejects").get(0).getLong(0));
  }

  @Test
  @DisplayName("a jsonb column (an array first) takes strings, numbers and objects after it, as JSON")
  void anythingIntoJsonb() {
    JsonObject array = track("u-j", "Tagged", new JsonObject().put("tags", new JsonArray().add("a")));
    store(array);
    JsonObject string = track("u-j", "Tagged", new JsonObject().put("tags", "a, b"));
    JsonObject number = track("u-k", "Tagged", new JsonObject().put("tags", 3));
    store(string, number);
    assertEquals("jsonb", columnTypes("tagged").get("tags"));
    for (Map.Entry<JsonObject, String> expected : Map.of(array, "[\"a\"]", string, "\"a, b\"", number, "3")
        .entrySet()) {
      assertEquals(expected.getValue(), router.query("SELECT tags::text FROM tagged WHERE message_id = $1",
          expected.getKey().getString("messageId")).get(0).getString(0));
    }
    assertEquals(0L, router.query("SELECT count(*) FROM warehouse_rejects").get(0).getLong(0));
  }

  private BigDecimal seats(JsonObject event) {
    return router.query("SELECT seats FROM plan_changed WHERE message_id = $1", event.getString("messageId")).get(0)
        .getBigDecimal(0);
  }

  @Test
  @DisplayName("identify traits become columns of identifies and users (the latest wins); page properties of pages")
  void identifiesUsersAndPages() {
    String user = "u-" + UUID.randomUUID();
    JsonObject first = new JsonObject().put("type", "identify").put("userId", user).put("messageId", UUID.randomUUID()
        .toString()).put("traits", new JsonObject().put("email", "a@example.com").put("plan", "free").put("age", 30)
        .put("address", new JsonObject().put("city", "Lyon")));
    store(first);
    JsonObject second = new JsonObject().put("type", "identify").put("userId", user)
        .put("messageId", UUID.randomUUID().toString()).put("traits", new JsonObject().put("plan", "pro"));
    JsonObject page = new JsonObject().put("type", "page").put("userId", user).put("name", "Pricing")
        .put("messageId", UUID.randomUUID().toString())
        .put("properties", new JsonObject().put("path", "/pricing").put("name", "ignored?").put("scrollDepth", 75));
    store(second, page);
    Row identify = router.query("SELECT email, plan, age, address_city, traits->>'email', loaded_at FROM identifies"
        + " WHERE message_id = $1", first.getString("messageId")).get(0);
    assertEquals("a@example.com", identify.getString(0));
    assertEquals("free", identify.getString(1));
    assertEquals(30L, identify.getLong(2));
    assertEquals("Lyon", identify.getString(3));
    assertEquals("a@example.com", identify.getString(4), "the jsonb column stays");
    assertNotNull(identify.getValue(5));
    Row users = router.query("SELECT email, plan, age, traits->>'plan' FROM users WHERE id = $1", user).get(0);
    assertEquals("a@example.com", users.getString(0), "a trait the later identify did not send stays");
    assertEquals("pro", users.getString(1), "the latest value wins");
    assertEquals(30L, users.getLong(2));
    assertEquals("pro", users.getString(3));
    Row pageRow = router.query("SELECT name, path, _name, scroll_depth FROM pages WHERE message_id = $1",
        page.getString("messageId")).get(0);
    assertEquals("Pricing", pageRow.getString(0), "the page's own name");
    assertEquals("/pricing", pageRow.getString(1));
    assertEquals("ignored?", pageRow.getString(2), "a property named like a fixed column gets a leading _");
    assertEquals(75L, pageRow.getLong(3));
  }

  @Test
  @DisplayName("writers racing for the same new columns (two writers, every lane, many users) all land, with no batch"
      + " failed")
  void concurrentWriters() {
    int events = 400;
    List<JsonObject> batch = new ArrayList<>();
    for (int i = 0; i < events; i++) {
      JsonObject properties = new JsonObject();
      for (int p = 0; p < 6; p++) {
        int column = (i + p * 7) % 25;
        properties.put("race" + column, column % 3 == 0 ? (Object) ("v" + i) : (Object) (long) i);
      }
      batch.add(track("racer-" + (i % 50), "Race Event", properties));
    }
    // Separate requests, so that batches of different partitions reach different lanes at the same time.
    for (int i = 0; i < events; i += 20) {
      router.postBatch(batch.subList(i, i + 20).toArray(JsonObject[]::new));
    }
    String[] ids = batch.stream().map(e -> e.getString("messageId")).toArray(String[]::new);
    router.awaitCount(events, "SELECT count(*) FROM events WHERE message_id = ANY($1)", (Object) ids);
    assertEquals(events, router.query("SELECT count(*) FROM race_event").get(0).getLong(0));
    Map<String, String> types = columnTypes("race_event");
    for (int column = 0; column < 25; column++) {
      assertEquals(column % 3 == 0 ? "text" : "bigint", types.get("race" + column), "race" + column);
    }
    assertEquals(0L, router.query("SELECT count(*) FROM warehouse_rejects").get(0).getLong(0));
    assertEquals(0L, router.query("SELECT count(*) FROM schema_discards WHERE table_name = 'race_event'").get(0)
        .getLong(0));
    assertEquals(25L, router.query("SELECT count(*) FROM schema_columns WHERE table_name = 'race_event'"
        + " AND column_name LIKE 'race%'").get(0).getLong(0));
  }

  @Test
  @DisplayName("hostile event and property names (injection, quotes, unicode, 200 chars) map to the tables expected,"
      + " and nothing else happens")
  void hostileNames() {
    Set<String> before = tables();
    Random random = new Random(42);
    String[] pieces = {"\"; DROP TABLE events; --", "Robert'); DROP TABLE users;--", "a\" text); DELETE FROM users;",
        "select", "users", "Tracks", "1st", "Ünïcödé", "购买", "😀", "x".repeat(90), "\\", "'", "\"", " ", "-", "$1"};
    List<JsonObject> events = new ArrayList<>();
    Map<String, Integer> expected = new HashMap<>();
    for (int i = 0; i < 150; i++) {
      String name = pieces[random.nextInt(pieces.length)] + pieces[random.nextInt(pieces.length)] + (i % 40);
      String property = pieces[random.nextInt(pieces.length)] + "prop";
      events.add(track("hostile-" + i, name, new JsonObject().put(property, i)));
      expected.merge(Identifiers.of(name, TypedRow.OWN_TABLES::contains), 1, Integer::sum);
    }
    long usersBefore = router.query("SELECT count(*) FROM users").get(0).getLong(0);
    store(events.toArray(JsonObject[]::new));
    for (Map.Entry<String, Integer> table : expected.entrySet()) {
      assertEquals(table.getValue().longValue(), router.query("SELECT count(*) FROM " + Identifiers.quote(
          table.getKey())).get(0).getLong(0), table.getKey());
    }
    Set<String> made = tables();
    made.removeAll(before);
    assertEquals(expected.keySet().stream().filter(t -> !before.contains(t)).collect(Collectors.toSet()), made,
        "exactly the tables expected, and no other object");
    assertEquals(usersBefore, router.query("SELECT count(*) FROM users").get(0).getLong(0));
    assertTrue(router.query("SELECT count(*) FROM events").get(0).getLong(0) >= events.size());
  }

  @Test
  @DisplayName("POST /admin/warehouse/rebuild remakes a dropped table and emptied columns from events, idempotently,"
      + " and the live writer carries on")
  void rebuildFromEvents() {
    String user = "rebuild-" + UUID.randomUUID();
    JsonObject first = track(user, "Rebuild Me", new JsonObject().put("amount", 5).put("note", "a"));
    JsonObject second = track(user, "Rebuild Me", new JsonObject().put("amount", 7.25));
    JsonObject identify = new JsonObject().put("type", "identify").put("userId", user)
        .put("messageId", UUID.randomUUID().toString()).put("traits", new JsonObject().put("tier", "gold"));
    store(first, second, identify);
    router.query("DROP TABLE rebuild_me");
    router.query("DELETE FROM schema_tables WHERE table_name = 'rebuild_me'");
    router.query("DELETE FROM schema_columns WHERE table_name = 'rebuild_me'");
    router.query("UPDATE identifies SET tier = NULL WHERE message_id = $1", identify.getString("messageId"));

    for (int run = 1; run <= 2; run++) {
      rebuild();
      assertEquals(2L, router.query("SELECT count(*) FROM rebuild_me").get(0).getLong(0), "run " + run);
      assertEquals(new BigDecimal("7.25"), router.query("SELECT amount FROM rebuild_me WHERE message_id = $1",
          second.getString("messageId")).get(0).getBigDecimal(0));
      assertEquals("numeric", columnTypes("rebuild_me").get("amount"), "made again from both events' values");
      assertEquals("gold", router.query("SELECT tier FROM identifies WHERE message_id = $1",
          identify.getString("messageId")).get(0).getString(0));
    }
    JsonObject later = track(user, "Rebuild Me", new JsonObject().put("amount", 1));
    store(later);
    assertEquals(3L, router.query("SELECT count(*) FROM rebuild_me").get(0).getLong(0),
        "the live writer, whose schema was stale, writes on");
    HttpResponse<String> refused = router.post("/admin/warehouse/rebuild", "{\"batchSize\": 0}", Map.of(
        "Authorization", "Bearer " + TestRouter.ADMIN_TOKEN, "Content-Type", "application/json"));
    assertEquals(400, refused.statusCode());
    assertTrue(refused.body().contains("batchSize must be from 1 to 5000"), refused.body());
  }

  @Test
  @DisplayName("an event whose table name is taken by a table the router did not make leaves that table alone")
  void nameTakenByAnotherTable() {
    router.query("CREATE TABLE someone_elses (id int PRIMARY KEY, note text)");
    JsonObject event = track("u-taken", "Someone Elses", new JsonObject().put("note", "mine"));
    router.postBatch(event);
    router.awaitCount(1, "SELECT count(*) FROM tracks WHERE message_id = $1", event.getString("messageId"));
    assertEquals(0L, router.query("SELECT count(*) FROM someone_elses").get(0).getLong(0));
    assertEquals(Set.of("id", "note"), columnTypes("someone_elses").keySet(), "no column added either");
    assertEquals(1L, router.query("SELECT events FROM schema_overflow WHERE table_name = 'someone_elses'"
        + " AND column_name = ''").get(0).getLong(0));
  }

  private void rebuild() {
    Map<String, String> admin = Map.of("Authorization", "Bearer " + TestRouter.ADMIN_TOKEN,
        "Content-Type", "application/json");
    HttpResponse<String> started = router.post("/admin/warehouse/rebuild", "{\"batchSize\": 2}", admin);
    assertEquals(202, started.statusCode(), started.body());
    Await.until(vertx, Duration.ofSeconds(60), "the rebuild is done", () -> vertx.executeBlocking(() ->
        new JsonObject(router.get("/admin/warehouse/rebuild", admin).body())).map(state -> {
          assertNotEquals("failed", state.getString("state"), state.encode());
          return "done".equals(state.getString("state"));
        }));
  }

  private Set<String> tables() {
    Set<String> names = new HashSet<>();
    for (Row row : router.query("SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
        + " AND relkind IN ('r', 'v', 'm', 'f', 'p')")) {
      names.add(row.getString(0));
    }
    return names;
  }
}
