package eventrouter.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import eventrouter.log.LogRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The router's parse and normalisation against the code they replaced ({@link LegacyIngest}), body by body: the same
 * refusals with the same status and message, and the same records (key, messageId, and the same JSON fields and
 * values). Generated messageIds are random, so they are compared by presence only.
 */
class NormalizerEquivalenceTest {
  private static final Instant RECEIVED_AT = Instant.parse("2026-11-24T12:00:05.250Z");
  private static final String IP = "203.0.113.7";
  private static final String GENERATED = "<generated>";

  private final RequestParser parser = new RequestParser(5);
  private final EventNormalizer normalizer = new EventNormalizer(2_000);
  private final LegacyIngest.Parser legacyParser = new LegacyIngest.Parser(5);
  private final LegacyIngest.Normalizer legacyNormalizer = new LegacyIngest.Normalizer(2_000);

  /** How a body arrives: at a single-event endpoint, at /v1/batch, or as a WebSocket frame. */
  private enum Route { SINGLE, BATCH, FRAME }

  private record Case(String name, Route route, EventType type, String body, String ip) {
  }

  @TestFactory
  @DisplayName("single events: the same records and refusals as before")
  Stream<DynamicTest> singleEvents() {
    List<Case> cases = new ArrayList<>();
    for (String event : events()) {
      cases.add(new Case(event, Route.SINGLE, EventType.TRACK, event, IP));
      cases.add(new Case("page: " + event, Route.SINGLE, EventType.PAGE, event, IP));
      cases.add(new Case("no ip: " + event, Route.SINGLE, EventType.IDENTIFY, event, null));
    }
    for (String body : malformedBodies()) {
      cases.add(new Case(body, Route.SINGLE, EventType.TRACK, body, IP));
    }
    cases.add(new Case("UTF-8 byte order mark", Route.SINGLE, EventType.TRACK, "\uFEFF" + TYPICAL, IP));
    cases.add(new Case("over the size limit", Route.SINGLE, EventType.TRACK,
        "{\"userId\":\"u\",\"event\":\"E\",\"p\":\"" + "z".repeat(2_000) + "\"}", IP));
    return cases.stream().map(this::test);
  }

  @TestFactory
  @DisplayName("batches: the same records and refusals as before, with and without the batch's own fields")
  Stream<DynamicTest> batches() {
    List<Case> cases = new ArrayList<>();
    List<String> envelopes = List.of(
        "",
        ",\"sentAt\":\"2026-11-24T12:00:59.100Z\"",
        ",\"sentAt\":\"2026-11-24T13:00:59.000+0100\",\"writeKey\":\"k\"",
        ",\"sentAt\":null,\"context\":null,\"integrations\":null",
        ",\"context\":{\"library\":{\"name\":\"analytics.js\",\"version\":\"5.2.0\"}}",
        ",\"context\":{\"library\":{\"name\":\"analytics-java\",\"version\":\"3.5.4\"},\"locale\":\"de-DE\"}",
        ",\"context\":{\"library\":null,\"ip\":\"192.0.2.1\",\"page\":{\"path\":\"/\"}}",
        ",\"context\":{\"ip\":null,\"traits\":{\"plan\":\"pro\"}}",
        ",\"context\":{}",
        ",\"integrations\":{\"All\":true,\"Mixpanel\":false}",
        ",\"integrations\":{}",
        ",\"context\":\"not an object\"",
        ",\"integrations\":[1]",
        ",\"sentAt\":\"yesterday\"");
    for (String envelope : envelopes) {
      for (String event : events()) {
        String typed = event.startsWith("{\"type\"") ? event : "{\"type\":\"track\"," + event.substring(1);
        if (event.equals("{}")) {
          typed = "{\"type\":\"track\"}";
        }
        String body = "{\"batch\":[" + TYPICAL + "," + typed + "]" + envelope + "}";
        cases.add(new Case(envelope + " | " + event, Route.BATCH, null, body, IP));
      }
    }
    for (String body : malformedBodies()) {
      cases.add(new Case(body, Route.BATCH, null, body, IP));
    }
    for (String body : List.of(
        "{\"batch\":[]}",
        "{\"batch\":{}}",
        "{\"batch\":[1]}",
        "{\"batch\":[" + TYPICAL + ",[]]}",
        "{\"sentAt\":\"2026-11-24T12:00:00Z\"}",
        "{\"batch\":[" + TYPICAL + "]} trailing",
        "{\"batch\":[" + TYPICAL + "],\"batch\":[" + TYPICAL.replace("user-1", "user-2") + "]}",
        "{\"batch\":[" + TYPICAL + "],\"context\":{\"a\":1,\"a\":2}}",
        "{\"batch\":[" + (TYPICAL + ",").repeat(5) + TYPICAL + "]}",
        "{\"batch\":[" + TYPICAL + ",{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\",\"p\":\""
            + "z".repeat(2_000) + "\"}]}",
        "\uFEFF{\"batch\":[" + TYPICAL + "]}",
        "{\"batch\":[" + TYPICAL + ",{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\",\"properties\":{\"note\":"
            + "\"a\\u0000b\"}}]}",
        "{\"batch\":[" + TYPICAL + "],\"context\":{\"note\":\"a\\u0000b\"}}",
        // the same context twice in a row, then another one twice: the second of each is answered from memory
        "{\"context\":{\"library\":{\"name\":\"n\",\"version\":\"1\"}},\"batch\":[" + TYPICAL + "," + TYPICAL
            + "," + TYPICAL.replace("\"version\":\"5.2.0\"", "\"v\":2") + "," + TYPICAL.replace("\"version\":\"5.2.0\"",
            "\"v\":2") + "," + TYPICAL + "]}",
        " {\n \"batch\" : [ " + TYPICAL + " ,\n " + TYPICAL.replace("user-1", "user-3") + " ] ,\n \"sentAt\" : "
            + "\"2026-11-24T12:00:59.100Z\" }\n")) {
      cases.add(new Case(body, Route.BATCH, null, body, IP));
    }
    return cases.stream().map(this::test);
  }

  @TestFactory
  @DisplayName("WebSocket frames: the same records, per-event refusals and socket ids as before")
  Stream<DynamicTest> frames() {
    List<Case> cases = new ArrayList<>();
    for (String event : events()) {
      String typed = event.startsWith("{\"type\"") || event.equals("{}") ? event
          : "{\"type\":\"track\"," + event.substring(1);
      cases.add(new Case("single " + event, Route.FRAME, null, typed, IP));
      cases.add(new Case("batch " + event, Route.FRAME, null, "{\"batch\":[" + TYPICAL + "," + typed + ","
          + TYPICAL.replace("user-1", "user-9") + "],\"sentAt\":\"2026-11-24T12:00:59.100Z\"}", IP));
    }
    for (String body : malformedBodies()) {
      cases.add(new Case(body, Route.FRAME, null, body, IP));
    }
    cases.add(new Case("trailing content", Route.FRAME, null, TYPICAL + " {}", IP));
    cases.add(new Case("a frame whose batch comes last", Route.FRAME, null,
        "{\"context\":{\"locale\":\"fr\"},\"batch\":[" + TYPICAL + "]}", IP));
    return cases.stream().map(this::test);
  }

  private static final String TYPICAL = "{\"type\":\"track\",\"event\":\"Product Added\",\"userId\":\"user-1\","
      + "\"anonymousId\":\"a-1\",\"messageId\":\"m-1\",\"properties\":{\"sku\":\"S-1\",\"price\":119.0,\"quantity\":1},"
      + "\"context\":{\"library\":{\"name\":\"analytics.js\",\"version\":\"5.2.0\"},\"page\":{\"path\":\"/p\"}},"
      + "\"originalTimestamp\":\"2026-11-24T12:00:01.123Z\",\"timestamp\":\"2026-11-24T12:00:01.123Z\","
      + "\"sentAt\":\"2026-11-24T12:00:02.123Z\"}";

  /** Events that exercise every field the router reads, in the forms it takes and in the forms it refuses. */
  private static List<String> events() {
    List<String> events = new ArrayList<>(List.of(
        TYPICAL,
        NormalizeBench.event(new Random(3), true),
        NormalizeBench.event(new Random(4), false),
        // layout and encoding
        " {\n  \"event\" : \"E\" ,\n  \"userId\" :\"u\",\"properties\" : { \"a\" : [ 1 , 2 ] } ,\n"
            + "  \"context\" : { } \n } ",
        "{\"userId\":\"u\",\"event\":\"caf\\u00e9 \\/ \\\"quoted\\\" \\ud83d\\ude00\",\"name\":\"é ☃ 😀\"}",
        "{\"userId\":\"u\",\"event\":\"E\",\"n\":[0,-1,2.5,-0.0,1e2,1.5E-3,12345678901234567890,true,false,null]}",
        "{}",
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":{\"ip\":\"198.51.100.9\"}}",
        // names with escapes next to the fields the router cuts
        "{\"we\\\"ird\\\\\":1,\"type\":\"track\",\"\\u0065vent\":\"E\",\"userId\":\"u\",\"\\\\\":{\"x\":\"\\\"\"},"
            + "\"writeKey\":\"k\",\"ключ\" : [\"\\\\\"],\"timestamp\" :\"2026-11-24T12:00:01Z\" , \"\":0}",
        "{\"\\u0074ype\":\"track\",\"event\":\"E\",\"userId\":\"u\",\"sentAt\":\"2026-11-24T12:00:01Z\"}",
        // the fields the router replaces, as sent by a client
        "{\"event\":\"E\",\"userId\":\"u\",\"writeKey\":\"k\",\"receivedAt\":\"1999-01-01T00:00:00Z\","
            + "\"sourceId\":\"forged\",\"type\":\"page\"}",
        "{\"writeKey\":\"k\",\"event\":\"E\",\"userId\":\"u\"}",
        "{\"event\":\"E\",\"userId\":\"u\",\"writeKey\":\"k\"}",
        // ids
        "{\"event\":\"E\",\"userId\":42}",
        "{\"event\":\"E\",\"userId\":4.5,\"anonymousId\":7}",
        "{\"event\":\"E\",\"userId\":true}",
        "{\"event\":\"E\",\"userId\":{\"id\":1}}",
        "{\"event\":\"E\",\"userId\":\"\",\"anonymousId\":\"a\"}",
        "{\"event\":\"E\",\"userId\":null,\"anonymousId\":\"a\"}",
        "{\"event\":\"E\",\"userId\":\"\"}",
        "{\"event\":\"E\"}",
        "{\"event\":\"E\",\"anonymousId\":\"" + "x".repeat(1_024) + "\"}",
        "{\"event\":\"E\",\"anonymousId\":\"" + "x".repeat(1_025) + "\"}",
        "{\"event\":\"E\",\"userId\":\"u\",\"messageId\":null}",
        "{\"event\":\"E\",\"userId\":\"u\",\"messageId\":\"\"}",
        "{\"event\":\"E\",\"userId\":\"u\",\"messageId\":12}",
        "{\"event\":\"E\",\"userId\":\"u\",\"messageId\":[\"m\"]}",
        "{\"event\":\"E\",\"userId\":\"u\",\"messageId\":\"" + "m".repeat(1_025) + "\"}",
        // types and their required fields
        "{\"type\":\"identify\",\"userId\":\"u\",\"traits\":{\"plan\":\"pro\"}}",
        "{\"type\":\"group\",\"userId\":\"u\",\"groupId\":\"g\"}",
        "{\"type\":\"group\",\"userId\":\"u\"}",
        "{\"type\":\"alias\",\"userId\":\"u\",\"previousId\":\"p\"}",
        "{\"type\":\"alias\",\"anonymousId\":\"a\",\"previousId\":\"p\"}",
        "{\"type\":\"alias\",\"userId\":\"u\",\"previousId\":\"\"}",
        "{\"type\":\"track\",\"userId\":\"u\"}",
        "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"\"}",
        "{\"type\":\"track\",\"userId\":\"u\",\"event\":5}",
        "{\"type\":\"screen\",\"anonymousId\":\"a\",\"name\":\"Home\"}",
        "{\"type\":\"purchase\",\"userId\":\"u\"}",
        "{\"type\":\"Track\",\"userId\":\"u\",\"event\":\"E\"}",
        "{\"type\":null,\"userId\":\"u\",\"event\":\"E\"}",
        "{\"type\":5,\"userId\":\"u\",\"event\":\"E\"}",
        "{\"userId\":\"u\",\"event\":\"E\"}",
        // objects
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":null}",
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":{}}",
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":{ \n}}",
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":{\"ip\":null,\"locale\":\"en\"}}",
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":{\"ip\":\"\"}}",
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":{\"library\":{\"name\":\"own\"},\"locale\":null}}",
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":{\"library\":null}}",
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":{\"library\":\"a string\"}}",
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":\"a string\"}",
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":[1]}",
        "{\"event\":\"E\",\"userId\":\"u\",\"properties\":null,\"traits\":null,\"integrations\":null}",
        "{\"event\":\"E\",\"userId\":\"u\",\"properties\":[1]}",
        "{\"event\":\"E\",\"userId\":\"u\",\"traits\":\"t\"}",
        "{\"event\":\"E\",\"userId\":\"u\",\"integrations\":{\"All\":false}}",
        "{\"event\":\"E\",\"userId\":\"u\",\"integrations\":true}",
        // repeated names
        "{\"event\":\"E\",\"userId\":\"u1\",\"userId\":\"u2\"}",
        "{\"event\":\"E\",\"userId\":\"u\",\"extra\":1,\"extra\":2}",
        "{\"event\":\"E\",\"userId\":\"u\",\"properties\":{\"a\":1,\"b\":{\"c\":1,\"c\":2}}}",
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":{\"ip\":\"1.1.1.1\",\"ip\":null}}",
        // NUL characters, and an escaped backslash that only looks like one
        "{\"event\":\"E\",\"userId\":\"u\",\"properties\":{\"note\":\"a\\u0000b\"}}",
        "{\"event\":\"E\",\"userId\":\"u\",\"properties\":{\"a\\u0000\":1}}",
        "{\"event\":\"E\",\"userId\":\"u\",\"properties\":{\"list\":[\"ok\",\"\\u0000\"]}}",
        "{\"event\":\"E\",\"userId\":\"u\\u0000\"}",
        "{\"event\":\"E\",\"userId\":\"u\",\"properties\":{\"path\":\"C:\\\\u0000\"}}"));
    // timestamps in every form, in each of the three fields
    List<String> times = new ArrayList<>(List.of(
        "\"2026-11-24T12:00:01Z\"", "\"2026-11-24T12:00:01.5Z\"", "\"2026-11-24T12:00:01.000Z\"",
        "\"2026-11-24T12:00:01.123456Z\"", "\"2026-11-24T12:00:01.123456789Z\"", "\"2026-11-24T13:00:01+01:00\"",
        "\"2026-11-24T13:00:01.000+0100\"", "\"2026-11-24T12:00Z\"", "\"2026-11-24t12:00:01z\"",
        "\"2026-11-24T12:00:01\"", "\"yesterday\"", "\"2023-02-29T12:00:00Z\"", "\"0000-01-01T00:00:00Z\"",
        "12345", "null", "\"\""));
    for (String time : times) {
      events.add("{\"event\":\"E\",\"userId\":\"u\",\"originalTimestamp\":" + time + "}");
      events.add("{\"event\":\"E\",\"userId\":\"u\",\"timestamp\":" + time + "}");
      events.add("{\"event\":\"E\",\"userId\":\"u\",\"sentAt\":" + time + "}");
      events.add("{\"event\":\"E\",\"userId\":\"u\",\"timestamp\":" + time
          + ",\"sentAt\":\"2026-11-24T12:00:11.000Z\"}");
      events.add("{\"event\":\"E\",\"userId\":\"u\",\"originalTimestamp\":\"2026-11-24T12:00:01.250Z\","
          + "\"timestamp\":" + time + ",\"sentAt\":" + time + "}");
      events.add("{\"event\":\"E\",\"userId\":\"u\",\"originalTimestamp\":null,\"timestamp\":" + time + "}");
    }
    events.add("{\"event\":\"E\",\"userId\":\"u\",\"timestamp\":\"2026-11-24T12:00:01.100Z\","
        + "\"sentAt\":\"2026-11-24T12:00:01.100Z\"}");
    events.add("{\"event\":\"E\",\"userId\":\"u\",\"timestamp\":\"0001-01-01T00:00:00Z\","
        + "\"sentAt\":\"9999-12-31T23:59:59Z\"}");
    return events;
  }

  private static List<String> malformedBodies() {
    return List.of("", " ", "[]", "[1,2", "null", "\"text\"", "{", "{\"userId\":\"u\",}", "{\"userId\":\"u\"",
        "{\"userId\":\"u\"} trailing", "{\"userId\":\"u\",\"event\":\"E\"}]]", "{\"userId\":\"u\",\"a\":tru}",
        "{\"userId\":\"\\x\"}", "{\"userId\":\"u\",\"a\":01}",
        "{\"userId\":\"u\",\"a\":\"" + new String(new char[] {'a', 1, 'b'}) + "\"}");
  }

  private DynamicTest test(Case c) {
    String name = c.route() + " " + (c.name().length() > 150 ? c.name().substring(0, 150) + "..." : c.name());
    return DynamicTest.dynamicTest(name, () -> {
      assertEquals(legacy(c), current(c), c.body());
      if (c.body().startsWith("\uFEFF") || c.route() == Route.FRAME) {
        return;
      }
      // And in UTF-16, which Jackson detects: read into trees, never scanned.
      byte[] utf16 = c.body().getBytes(StandardCharsets.UTF_16BE);
      assertEquals(legacy(c, utf16), current(c, utf16), "UTF-16: " + c.body());
    });
  }

  private String legacy(Case c) {
    return legacy(c, c.body().getBytes(StandardCharsets.UTF_8));
  }

  private String current(Case c) {
    return current(c, c.body().getBytes(StandardCharsets.UTF_8));
  }

  /** The legacy outcome, described as text so that a difference shows in the assertion message. */
  private String legacy(Case c, byte[] bytes) {
    try {
      return switch (c.route()) {
        case SINGLE -> records(legacyNormalizer.normalize(legacyParser.parseSingle(bytes), c.type(), bytes, "src",
            RECEIVED_AT, c.ip()));
        case BATCH -> records(legacyNormalizer.normalize(legacyParser.parseBatch(bytes), null, bytes, "src",
            RECEIVED_AT, c.ip()));
        case FRAME -> {
          LegacyIngest.ParsedBody body = legacyParser.parseFrame(bytes);
          StringBuilder out = new StringBuilder();
          for (LegacyIngest.Normalizer.Outcome outcome : legacyNormalizer.normalizeEach(body, bytes, "src",
              RECEIVED_AT, c.ip())) {
            JsonNode event = body.events().get(outcome.index());
            out.append(outcome(outcome.index(), outcome.messageId(), outcome.record(), outcome.error(),
                outcome.record() == null ? null : text(event.get("userId")),
                outcome.record() == null ? null : text(event.get("anonymousId"))));
          }
          yield out.toString();
        }
      };
    } catch (IngestException refused) {
      return refused(refused);
    }
  }

  private String current(Case c, byte[] bytes) {
    try {
      return switch (c.route()) {
        case SINGLE -> records(normalizer.normalize(parser.parseSingle(bytes), c.type(), bytes, "src", RECEIVED_AT,
            c.ip()));
        case BATCH -> records(normalizer.normalize(parser.parseBatch(bytes), null, bytes, "src", RECEIVED_AT,
            c.ip()));
        case FRAME -> {
          StringBuilder out = new StringBuilder();
          for (EventNormalizer.Outcome outcome : normalizer.normalizeEach(parser.parseFrame(bytes), null, bytes, "src",
              RECEIVED_AT, c.ip())) {
            out.append(outcome(outcome.index(), outcome.messageId(), outcome.record(), outcome.error(),
                outcome.userId(), outcome.anonymousId()));
          }
          yield out.toString();
        }
      };
    } catch (IngestException refused) {
      return refused(refused);
    }
  }

  private static String refused(IngestException refused) {
    return "refused " + refused.status() + ": " + refused.getMessage();
  }

  private static String outcome(int index, String messageId, LogRecord record, IngestException error, String userId,
      String anonymousId) {
    return "#" + index + " messageId=" + (isGenerated(messageId) ? GENERATED : messageId) + " "
        + (error != null ? refused(error) : records(List.of(record)) + " ids=" + userId + "," + anonymousId) + "\n";
  }

  private static String records(List<LogRecord> records) {
    StringBuilder out = new StringBuilder();
    for (LogRecord record : records) {
      ObjectNode value;
      try {
        value = (ObjectNode) RequestParser.MAPPER.readTree(record.value());
      } catch (IOException e) {
        throw new UncheckedIOException("a record must hold valid JSON: "
            + new String(record.value(), StandardCharsets.UTF_8), e);
      }
      assertNotNull(value.get("messageId"));
      assertEquals(record.messageId(), value.get("messageId").asText());
      boolean generated = isGenerated(record.messageId());
      if (generated) {
        value.put("messageId", GENERATED);
      }
      // Object equality ignores the order of fields, which is not part of the contract.
      out.append("key=").append(record.key()).append(" messageId=").append(generated ? GENERATED : record.messageId())
          .append(" value=").append(sorted(value)).append('\n');
    }
    assertTrue(out.length() > 0 || records.isEmpty());
    return out.toString();
  }

  /** The tree with every object's fields in name order, so that equal values print alike. */
  private static String sorted(JsonNode node) {
    try {
      Object plain = RequestParser.MAPPER.treeToValue(node, Object.class);
      return RequestParser.MAPPER.copy()
          .configure(com.fasterxml.jackson.databind.SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true)
          .writeValueAsString(plain);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A UUIDv7 of the router's, which no test event sends. */
  private static boolean isGenerated(String messageId) {
    return messageId != null && messageId.length() == 36 && messageId.charAt(14) == '7';
  }

  private static String text(JsonNode node) {
    return node != null && node.isTextual() ? node.asText() : null;
  }
}
