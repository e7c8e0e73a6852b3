package eventrouter.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import eventrouter.testing.Await;
import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * The warehouse rows a client's events became, and the checks every client test makes on them: type, ids,
 * {@code context.library}, and {@code timestamp = receivedAt − (sentAt − originalTimestamp)} with all four kept.
 */
final class ClientRows {
  /** How far the router's skew-corrected timestamp may be from its receivedAt: the time the SDK held the event. */
  static final Duration HELD_AT_MOST = Duration.ofSeconds(60);
  private static final Duration WAIT = Duration.ofSeconds(30);

  private ClientRows() {
  }

  private static final String COLUMNS = "SELECT message_id, type, event, user_id, anonymous_id, \"timestamp\","
      + " original_timestamp, sent_at, received_at, context, raw FROM events";

  /** Waits until {@code expected} events of the anonymous id are stored; returns them by type, oldest first. */
  static Map<String, Row> byAnonymousId(TestRouter router, String anonymousId, int expected) {
    router.awaitCount(expected, "SELECT count(*) FROM events WHERE anonymous_id = $1", anonymousId);
    return byType(router.query(COLUMNS + " WHERE anonymous_id = $1 ORDER BY original_timestamp, received_at",
        anonymousId));
  }

  /** Waits until every message id is stored; returns the rows by type. */
  static Map<String, Row> byMessageIds(TestRouter router, String... messageIds) {
    router.awaitCount(messageIds.length, "SELECT count(*) FROM events WHERE message_id = ANY($1)",
        (Object) messageIds);
    return byType(router.query(COLUMNS + " WHERE message_id = ANY($1)", (Object) messageIds));
  }

  private static Map<String, Row> byType(List<Row> rows) {
    Map<String, Row> byType = new LinkedHashMap<>();
    for (Row row : rows) {
      Row earlier = byType.put(row.getString("type"), row);
      assertTrue(earlier == null, "one " + row.getString("type") + " expected, got another: " + row.toJson());
    }
    return byType;
  }

  /** context.library as stored in the row's context column and in the normalised raw event. */
  static void assertLibrary(Row row, String name, String version) {
    JsonObject library = ((JsonObject) row.getValue("context")).getJsonObject("library");
    assertNotNull(library, "context.library of " + row.toJson());
    assertEquals(name, library.getString("name"), "context.library.name of " + row.getString("type"));
    if (version != null) {
      assertEquals(version, library.getString("version"), "context.library.version of " + row.getString("type"));
    }
    assertEquals(library, ((JsonObject) row.getValue("raw")).getJsonObject("context").getJsonObject("library"),
        "raw.context.library");
  }

  /**
   * All four times are kept, and {@code timestamp = receivedAt − (sentAt − originalTimestamp)}: the device's clock
   * error cancels out. {@code sentOriginal} is the event time the client sent (its {@code timestamp} or
   * {@code originalTimestamp}), {@code sentAt} the batch's.
   */
  static void assertSkewCorrected(Row row, Instant sentOriginal, Instant sentAt) {
    String type = row.getString("type");
    Instant original = row.getOffsetDateTime("original_timestamp").toInstant();
    Instant sent = row.getOffsetDateTime("sent_at").toInstant();
    Instant received = row.getOffsetDateTime("received_at").toInstant();
    Instant timestamp = row.getOffsetDateTime("timestamp").toInstant();
    if (sentOriginal != null) {
      assertEquals(sentOriginal, original, type + ": original_timestamp is the client's event time");
    }
    if (sentAt != null) {
      assertEquals(sentAt, sent, type + ": sent_at is the client's sentAt");
    }
    assertEquals(received.minus(Duration.between(original, sent)), timestamp,
        type + ": timestamp = received_at − (sent_at − original_timestamp)");
  }

  /** For rows of a real SDK whose clock is this machine's: the corrected time lies within a minute of receipt. */
  static void assertSkewCorrected(Row row) {
    assertNotNull(row.getValue("original_timestamp"), row.getString("type") + ": original_timestamp kept");
    assertNotNull(row.getValue("sent_at"), row.getString("type") + ": sent_at kept");
    assertSkewCorrected(row, null, null);
    Instant received = row.getOffsetDateTime("received_at").toInstant();
    Instant timestamp = row.getOffsetDateTime("timestamp").toInstant();
    assertTrue(!timestamp.isAfter(received) && timestamp.isAfter(received.minus(HELD_AT_MOST)),
        row.getString("type") + ": timestamp " + timestamp + " is shortly before received_at " + received);
  }

  static Instant instant(String iso) {
    return java.time.OffsetDateTime.parse(iso).toInstant();
  }

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

  /** The four times as {@link #assertSkewCorrected(Row)} wants them, and originalTimestamp on the client's clock. */
  private static void assertTimestamps(String what, Row row, Duration skew, String context) {
    assertSkewCorrected(row);
    OffsetDateTime original = row.getOffsetDateTime("original_timestamp");
    OffsetDateTime clientNow = row.getOffsetDateTime("received_at").plus(skew);
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
