package eventrouter.warehouse.typed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Past the column and table limits, and with typed tables off: every event still lands in tracks. */
class TypedLimitsTest {
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  Path dir;
  private TestRouter router;

  @AfterEach
  void stop() {
    router.close();
    vertx.close();
  }

  private JsonObject store(String event, JsonObject properties) {
    JsonObject track = new JsonObject().put("type", "track").put("userId", "u-limits").put("event", event)
        .put("properties", properties).put("messageId", UUID.randomUUID().toString());
    router.postBatch(track);
    router.awaitCount(1, "SELECT count(*) FROM tracks WHERE message_id = $1", track.getString("messageId"));
    return track;
  }

  @Test
  @DisplayName("past warehouse.typedMaxColumns a property gets no column, past typedMaxTables an event no table:"
      + " schema_overflow counts them, and the events are in tracks")
  void limits() {
    router = TestRouter.start(vertx, dir, Map.of("ROUTER_WAREHOUSE_TYPED_MAX_COLUMNS", "3",
        "ROUTER_WAREHOUSE_TYPED_MAX_TABLES", "1"), new JsonObject());
    JsonObject first = store("First Event", new JsonObject().put("a", 1).put("b", 2).put("c", 3).put("d", 4));
    long typed = router.query("SELECT count(*) FROM schema_columns WHERE table_name = 'first_event'").get(0)
        .getLong(0);
    assertEquals(3, typed, "three typed columns, whichever came first (the context's included)");
    assertEquals(1, router.query("SELECT 1 FROM first_event WHERE message_id = $1", first.getString("messageId"))
        .size(), "the row is in its table, with the columns it could have");
    List<Row> overflow = router.query("SELECT column_name, events FROM schema_overflow WHERE table_name ="
        + " 'first_event'");
    assertEquals(2, overflow.size(), "four properties and the context's ip: two left without a column");
    overflow.forEach(row -> assertEquals(1L, row.getLong(1)));

    JsonObject second = store("Second Event", new JsonObject().put("a", 1));
    assertNull(router.query("SELECT to_regclass('second_event')::text").get(0).getString(0), "no second table");
    Row table = router.query("SELECT events FROM schema_overflow WHERE table_name = 'second_event'"
        + " AND column_name = ''").get(0);
    assertEquals(1L, table.getLong(0));
    assertEquals(1, router.query("SELECT 1 FROM tracks WHERE message_id = $1", second.getString("messageId")).size());
    assertEquals(0L, router.query("SELECT count(*) FROM warehouse_rejects").get(0).getLong(0));
  }

  @Test
  @DisplayName("warehouse.typedTables false: no table per event and no typed column; identifies and pages as before")
  void off() {
    router = TestRouter.start(vertx, dir, Map.of("ROUTER_WAREHOUSE_TYPED_TABLES", "false"), new JsonObject());
    store("Untyped Event", new JsonObject().put("a", 1));
    JsonObject identify = new JsonObject().put("type", "identify").put("userId", "u-off")
        .put("messageId", UUID.randomUUID().toString()).put("traits", new JsonObject().put("email", "x@example.com"));
    router.postBatch(identify);
    router.awaitCount(1, "SELECT count(*) FROM identifies WHERE message_id = $1", identify.getString("messageId"));
    assertEquals("x@example.com", router.query("SELECT traits->>'email' FROM identifies WHERE message_id = $1",
        identify.getString("messageId")).get(0).getString(0));
    assertNull(router.query("SELECT to_regclass('untyped_event')::text").get(0).getString(0));
    assertEquals(0L, router.query("SELECT count(*) FROM schema_columns").get(0).getLong(0));
  }
}
