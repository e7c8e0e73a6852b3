package eventrouter.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.TestRouter;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The warehouse rows a client's events became, and the checks every client test makes on them. */
final class ClientRows {
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
    assertTrue(!timestamp.isAfter(received) && timestamp.isAfter(received.minusSeconds(60)),
        row.getString("type") + ": timestamp " + timestamp + " is shortly before received_at " + received);
  }

  static Instant instant(String iso) {
    return java.time.OffsetDateTime.parse(iso).toInstant();
  }
}
