package eventrouter.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import eventrouter.testing.Await;
import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Row;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;

/** What one client run must leave in the warehouse's {@code events} table, checked row by row. */
final class WarehouseRows {
  /** How far the router's skew-corrected timestamp may be from its receivedAt: the time the SDK held the event. */
  static final Duration HELD_AT_MOST = Duration.ofSeconds(60);
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final String ROWS = "SELECT type, user_id, anonymous_id, raw #>> '{context,library,name}' AS library,"
      + " \"timestamp\", original_timestamp, sent_at, received_at, message_id FROM events WHERE user_id = $1"
      + " ORDER BY type";

  /**
   * @param types the call types the client sent, once each
   * @param library the SDK's {@code context.library.name}
   * @param anonymousIdOnAlias whether the SDK sends the anonymousId on alias too
   * @param skew how far the client's clock was off (client minus real time)
   * @param client what the client saw (its log, its requests), for the failure message
   */
  record Expected(String userId, String anonymousId, Set<String> types, String library, boolean anonymousIdOnAlias,
      Duration skew) {
  }

  private WarehouseRows() {
  }

  /** Waits until a row of each type is stored for the user, then checks every row. */
  static void assertStored(Vertx vertx, TestRouter router, Expected expected, Supplier<String> client) {
    try {
      Await.until(vertx, WAIT, "a row of each of " + expected.types() + " for user " + expected.userId(),
          () -> router.queryAsync(ROWS, expected.userId()).map(rows -> types(rows).containsAll(expected.types())));
    } catch (AssertionError e) {
      fail(e.getMessage() + "\nrows stored for the user: " + describe(router.query(ROWS, expected.userId()))
          + "\n" + client.get(), e);
    }
    List<Row> rows = router.query(ROWS, expected.userId());
    String context = "\nrows: " + describe(rows) + "\n" + client.get();
    assertEquals(expected.types().size(), rows.size(), "one row per call" + context);
    assertEquals(expected.types(), types(rows), "the call types" + context);
    for (Row row : rows) {
      String type = row.getString("type");
      String what = type + " " + row.getString("message_id") + ": ";
      assertEquals(expected.userId(), row.getString("user_id"), what + "userId" + context);
      if (expected.anonymousIdOnAlias() || !type.equals("alias")) {
        assertEquals(expected.anonymousId(), row.getString("anonymous_id"), what + "anonymousId" + context);
      }
      assertEquals(expected.library(), row.getString("library"), what + "context.library.name" + context);
      assertTimestamps(what, row, expected.skew(), context);
    }
  }

  /** timestamp = receivedAt − (sentAt − originalTimestamp), all four stored; the client's skew corrected. */
  private static void assertTimestamps(String what, Row row, Duration skew, String context) {
    OffsetDateTime timestamp = row.getOffsetDateTime("timestamp");
    OffsetDateTime original = row.getOffsetDateTime("original_timestamp");
    OffsetDateTime sentAt = row.getOffsetDateTime("sent_at");
    OffsetDateTime receivedAt = row.getOffsetDateTime("received_at");
    assertNotNull(original, what + "originalTimestamp is stored" + context);
    assertNotNull(sentAt, what + "sentAt is stored" + context);
    assertNotNull(receivedAt, what + "receivedAt is stored" + context);
    Duration held = Duration.between(original, sentAt);
    OffsetDateTime corrected = receivedAt.minus(held);
    assertTrue(Duration.between(corrected, timestamp).abs().toMillis() <= 2,
        what + "timestamp " + timestamp + " is receivedAt " + receivedAt + " − (sentAt " + sentAt
            + " − originalTimestamp " + original + ") = " + corrected + context);
    assertTrue(!timestamp.isAfter(receivedAt.plusNanos(2_000_000))
            && Duration.between(timestamp, receivedAt).compareTo(HELD_AT_MOST) <= 0,
        what + "timestamp " + timestamp + " is the real time of the call, shortly before receivedAt " + receivedAt
            + context);
    OffsetDateTime clientNow = receivedAt.plus(skew);
    assertTrue(Duration.between(original, clientNow).abs().compareTo(HELD_AT_MOST) <= 0,
        what + "originalTimestamp " + original + " is the client's clock, " + skew + " off the router's" + context);
  }

  private static Set<String> types(List<Row> rows) {
    Set<String> types = new TreeSet<>();
    rows.forEach(row -> types.add(row.getString("type")));
    return types;
  }

  private static String describe(List<Row> rows) {
    if (rows.isEmpty()) {
      return "none";
    }
    List<String> lines = new ArrayList<>();
    for (Row row : rows) {
      lines.add(String.format("%n  %s user=%s anon=%s library=%s timestamp=%s original=%s sentAt=%s receivedAt=%s",
          row.getString("type"), row.getString("user_id"), row.getString("anonymous_id"), row.getString("library"),
          row.getOffsetDateTime("timestamp"), row.getOffsetDateTime("original_timestamp"),
          row.getOffsetDateTime("sent_at"), row.getOffsetDateTime("received_at")));
    }
    return String.join("", lines);
  }
}
