package eventrouter.ingest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import eventrouter.log.LogRecord;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The fast path's own behaviour: which events it copies as sent, what it writes, and the NUL scan.
 * {@link NormalizerEquivalenceTest} checks that its results are the tree path's.
 */
class FastPathTest {
  private static final Instant RECEIVED_AT = Instant.parse("2026-11-24T12:00:00Z");
  /** Spacing that serialising a tree would not keep: seeing it in a record shows the event was copied as sent. */
  private static final String PROPERTIES = "\"properties\" : { \"price\" : 1.50 , \"tags\" : [ \"a\" ] }";
  private final RequestParser parser = new RequestParser(2_500);
  private final EventNormalizer normalizer = new EventNormalizer(32_768);

  private LogRecord single(String body, String ip) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    return normalizer.normalize(parser.parseSingle(bytes), EventType.TRACK, bytes, "src", RECEIVED_AT, ip).get(0);
  }

  private List<LogRecord> batch(String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    return normalizer.normalize(parser.parseBatch(bytes), null, bytes, "src", RECEIVED_AT, "10.0.0.1");
  }

  private static String text(LogRecord record) {
    return new String(record.value(), StandardCharsets.UTF_8);
  }

  private static JsonNode json(LogRecord record) throws IOException {
    return RequestParser.MAPPER.readTree(record.value());
  }

  private static void assertCopied(LogRecord record) {
    assertTrue(text(record).contains(PROPERTIES), "copied as sent: " + text(record));
  }

  @Test
  @DisplayName("a typical event is copied as sent, with the router's fields replacing the client's")
  void copiedAsSent() throws IOException {
    assertTrue(EventScan.cheapOffsets(), "this Jackson gives token offsets without an object each");
    LogRecord record = single("{\"type\":\"page\",\"event\":\"E\",\"userId\":\"u\",\"messageId\":\"m-1\"," + PROPERTIES
        + ",\"writeKey\":\"secret\",\"receivedAt\":\"1999-01-01T00:00:00Z\",\"sourceId\":\"forged\","
        + "\"timestamp\":\"2026-11-24T11:59:50.500Z\",\"sentAt\":\"2026-11-24T12:00:00.500Z\"}", "10.0.0.1");
    assertCopied(record);
    JsonNode event = json(record);
    assertEquals("track", event.get("type").asText(), "the endpoint's type");
    assertEquals("m-1", event.get("messageId").asText());
    assertEquals("m-1", record.messageId());
    assertEquals("u", record.key());
    assertFalse(event.has("writeKey"));
    assertEquals("src", event.get("sourceId").asText());
    assertEquals("2026-11-24T12:00:00Z", event.get("receivedAt").asText());
    assertEquals("2026-11-24T11:59:50.500Z", event.get("originalTimestamp").asText());
    assertEquals("2026-11-24T12:00:00.500Z", event.get("sentAt").asText());
    assertEquals("2026-11-24T11:59:50Z", event.get("timestamp").asText());
    assertEquals("10.0.0.1", event.get("context").get("ip").asText());
    assertEquals(11, event.size(), text(record));
    assertEquals(1, text(record).split("\"type\"", -1).length - 1, "each field once: " + text(record));
  }

  @Test
  @DisplayName("numbers and strings are stored as the client wrote them (1.50 stays 1.50)")
  void numbersAsSent() {
    LogRecord record = single("{\"event\":\"E\",\"userId\":\"u\",\"properties\":{\"price\":1.50,\"big\":"
        + "0.12345678901234567890123,\"e\":1E2,\"s\":\"caf\\u00e9\"}}", null);
    assertTrue(text(record).contains("{\"price\":1.50,\"big\":0.12345678901234567890123,\"e\":1E2,"
        + "\"s\":\"caf\\u00e9\"}"), text(record));
  }

  @Test
  @DisplayName("every timestamp form takes the fast path and is stored in ISO_INSTANT form")
  void timestampForms() throws IOException {
    String[][] forms = {
        // sent, stored
        {"2026-11-24T11:59:50Z", "2026-11-24T11:59:50Z"},
        {"2026-11-24T11:59:50.123Z", "2026-11-24T11:59:50.123Z"},
        {"2026-11-24T11:59:50.000Z", "2026-11-24T11:59:50Z"},
        {"2026-11-24T11:59:50.1Z", "2026-11-24T11:59:50.100Z"},
        {"2026-11-24T11:59:50.123456Z", "2026-11-24T11:59:50.123456Z"},
        {"2026-11-24T11:59:50.123456789Z", "2026-11-24T11:59:50.123456789Z"},
        {"2026-11-24T12:59:50+01:00", "2026-11-24T11:59:50Z"},
        {"2026-11-24T06:29:50.5-05:30", "2026-11-24T11:59:50.500Z"},
        {"2026-11-24T12:59:50.000+0100", "2026-11-24T11:59:50Z"},
        {"2026-11-24T11:59Z", "2026-11-24T11:59:00Z"},
        {"2026-11-24t11:59:50z", "2026-11-24T11:59:50Z"},
        {"2026-11-24T11:59:50-00:00", "2026-11-24T11:59:50Z"},
    };
    for (String[] form : forms) {
      for (String field : List.of("originalTimestamp", "timestamp")) {
        LogRecord record = single("{\"event\":\"E\",\"userId\":\"u\"," + PROPERTIES + ",\"" + field + "\":\"" + form[0]
            + "\",\"sentAt\":\"" + form[0] + "\"}", "10.0.0.1");
        assertCopied(record);
        JsonNode event = json(record);
        assertEquals(form[1], event.get("originalTimestamp").asText(), field + " " + form[0]);
        assertEquals(form[1], event.get("sentAt").asText(), form[0]);
        assertEquals("2026-11-24T12:00:00Z", event.get("timestamp").asText(), "no skew: receivedAt, " + form[0]);
      }
    }
    IngestException refused = assertThrows(IngestException.class, () -> single("{\"event\":\"E\",\"userId\":\"u\","
        + "\"sentAt\":\"2026-11-24T12:00:00\"}", null));
    assertTrue(refused.getMessage().startsWith("sentAt must be an ISO-8601 date-time with a zone offset"));
  }

  @Test
  @DisplayName("without a device time, timestamp is receivedAt; a garbled timestamp is ignored when originalTimestamp is"
      + " given")
  void timestampFallbacks() throws IOException {
    JsonNode none = json(single("{\"event\":\"E\",\"userId\":\"u\"," + PROPERTIES + "}", null));
    assertEquals("2026-11-24T12:00:00Z", none.get("timestamp").asText());
    assertFalse(none.has("originalTimestamp"));
    assertFalse(none.has("sentAt"));
    LogRecord both = single("{\"event\":\"E\",\"userId\":\"u\"," + PROPERTIES + ",\"originalTimestamp\":"
        + "\"2026-11-24T11:00:00Z\",\"timestamp\":\"not a time\"}", null);
    assertCopied(both);
    assertEquals("2026-11-24T11:00:00Z", json(both).get("timestamp").asText(), "no sentAt: the device's time");
  }

  @Test
  @DisplayName("context.ip is added to the context as sent, and a client's ip is kept")
  void contextIp() throws IOException {
    LogRecord added = single("{\"event\":\"E\",\"userId\":\"u\"," + PROPERTIES + ",\"context\":{ \"locale\" : \"en\" }}",
        "10.0.0.1");
    assertTrue(text(added).contains("\"context\":{ \"locale\" : \"en\" ,\"ip\":\"10.0.0.1\"}"), text(added));
    LogRecord empty = single("{\"event\":\"E\",\"userId\":\"u\"," + PROPERTIES + ",\"context\":{}}", "10.0.0.1");
    assertEquals("10.0.0.1", json(empty).get("context").get("ip").asText());
    LogRecord kept = single("{\"event\":\"E\",\"userId\":\"u\"," + PROPERTIES + ",\"context\":{\"ip\":\"1.2.3.4\"}}",
        "10.0.0.1");
    assertTrue(text(kept).contains("\"context\":{\"ip\":\"1.2.3.4\"}"), text(kept));
    LogRecord replacedNull = single("{\"event\":\"E\",\"userId\":\"u\"," + PROPERTIES + ",\"context\":{\"ip\":null}}",
        "10.0.0.1");
    assertCopied(replacedNull);
    assertEquals("10.0.0.1", json(replacedNull).get("context").get("ip").asText());
    LogRecord missing = single("{\"event\":\"E\",\"userId\":\"u\"," + PROPERTIES + "}", null);
    assertEquals("{}", json(missing).get("context").toString(), "no client address: an empty context");
  }

  @Test
  @DisplayName("a batch's context is merged into each event: copied when the event has it, merged when it lacks some")
  void batchContext() throws IOException {
    List<LogRecord> records = batch("{\"context\":{\"library\":{\"name\":\"analytics-java\",\"version\":\"3.5.4\"}},"
        + "\"batch\":["
        + "{\"type\":\"track\",\"event\":\"A\",\"userId\":\"u\"," + PROPERTIES + ",\"context\":{\"library\":"
        + "{\"name\":\"own\",\"version\":\"1\"}, \"locale\" : \"en\"}},"
        + "{\"type\":\"track\",\"event\":\"B\",\"userId\":\"u\"," + PROPERTIES + ",\"context\":{\"library\":"
        + "{\"name\":\"own\"}}},"
        + "{\"type\":\"track\",\"event\":\"C\",\"userId\":\"u\"," + PROPERTIES + "}]}");
    records.forEach(FastPathTest::assertCopied);
    assertTrue(text(records.get(0)).contains("{\"library\":{\"name\":\"own\",\"version\":\"1\"}, \"locale\" : \"en\""),
        "nothing to merge: copied as sent, " + text(records.get(0)));
    assertEquals("{\"name\":\"own\",\"version\":\"3.5.4\"}", json(records.get(1)).get("context").get("library")
        .toString(), "the missing version comes from the batch");
    assertEquals("{\"library\":{\"name\":\"analytics-java\",\"version\":\"3.5.4\"},\"ip\":\"10.0.0.1\"}",
        json(records.get(2)).get("context").toString());
  }

  @Test
  @DisplayName("a NUL character is refused wherever it is, naming the field; an escaped backslash before u0000 is not one")
  void nul() throws IOException {
    IngestException value = assertThrows(IngestException.class, () -> batch("{\"batch\":[{\"type\":\"track\","
        + "\"event\":\"E\",\"userId\":\"u\"},{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\","
        + "\"properties\":{\"list\":[\"ok\",\"a\\u0000\"]}}]}"));
    assertEquals("batch[1].properties.list[1] contains a NUL character (\\u0000), which the warehouse cannot store",
        value.getMessage());
    IngestException name = assertThrows(IngestException.class, () -> single("{\"event\":\"E\",\"userId\":\"u\","
        + "\"context\":{\"x\\u0000\":1}}", null));
    assertEquals("context.x\u0000 has a field name with a NUL character (\\u0000), which the warehouse cannot store",
        name.getMessage());
    LogRecord backslash = single("{\"event\":\"E\",\"userId\":\"u\",\"properties\":{\"path\":\"C:\\\\u0000\"}}", null);
    assertEquals("C:\\u0000", json(backslash).get("properties").get("path").asText());
    // Only the event that holds the escape leaves the fast path.
    List<LogRecord> records = batch("{\"batch\":[{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\"," + PROPERTIES
        + "},{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\",\"p\":\"C:\\\\u0000\"}]}");
    assertCopied(records.get(0));
  }

  @Test
  @DisplayName("the NUL scan finds every escape, at every alignment, and only escapes")
  void nulScan() {
    Random random = new Random(3);
    for (int i = 0; i < 5_000; i++) {
      StringBuilder body = new StringBuilder();
      List<Integer> expected = new ArrayList<>();
      int length = random.nextInt(80);
      while (body.length() < length) {
        switch (random.nextInt(6)) {
          case 0 -> {
            expected.add(body.length());
            body.append("\\u0000");
          }
          case 1 -> body.append("\\u000");
          case 2 -> body.append('\\');
          case 3 -> body.append("u0000");
          default -> body.append((char) ('a' + random.nextInt(26)));
        }
      }
      byte[] bytes = body.toString().getBytes(StandardCharsets.US_ASCII);
      int[] found = EventNormalizer.suspects(bytes);
      // A backslash followed by the escape counts too: the scan reports candidates, the tree decides.
      List<Integer> naive = new ArrayList<>();
      for (int at = body.indexOf("\\u0000"); at >= 0; at = body.indexOf("\\u0000", at + 1)) {
        naive.add(at);
      }
      assertArrayEquals(naive.stream().mapToInt(Integer::intValue).toArray(), found, body.toString());
      assertTrue(naive.containsAll(expected));
    }
    assertEquals(0, EventNormalizer.suspects(new byte[0]).length);
    assertEquals(0, EventNormalizer.suspects("\\u000".getBytes(StandardCharsets.US_ASCII)).length);
  }

  @Test
  @DisplayName("a body the scan cannot copy from (a repeated name, UTF-16) is read into trees as before")
  void treesWhenNeeded() throws IOException {
    byte[] repeated = ("{\"batch\":[{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\","
        + "\"properties\":{\"a\":1,\"a\":2}}]}").getBytes(StandardCharsets.UTF_8);
    ParsedBody body = parser.parseBatch(repeated);
    assertNull(body.scan(0));
    assertEquals(2, body.event(0).get("properties").get("a").asInt(), "the last value, as readTree keeps it");
    byte[] utf16 = "{\"event\":\"E\",\"userId\":\"u\"}".getBytes(StandardCharsets.UTF_16LE);
    ParsedBody wide = parser.parseSingle(utf16);
    assertNull(wide.scan(0));
    assertEquals("u", json(normalizer.normalize(wide, EventType.TRACK, utf16, "src", RECEIVED_AT, null).get(0))
        .get("userId").asText());
    ParsedBody scanned = parser.parseSingle("{\"event\":\"E\",\"userId\":\"u\",\"writeKey\":\"k\"}"
        .getBytes(StandardCharsets.UTF_8));
    assertNotNull(scanned.scan(0));
    assertEquals("k", scanned.writeKey());
  }
}
