package eventrouter.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import eventrouter.log.LogRecord;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class EventNormalizerTest {
  private static final Instant RECEIVED_AT = Instant.parse("2026-11-24T12:00:00Z");
  private final RequestParser parser = new RequestParser(2_500);
  private final EventNormalizer normalizer = new EventNormalizer(32_768);

  private List<LogRecord> batch(String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    return normalizer.normalize(parser.parseBatch(bytes), null, bytes, "src", RECEIVED_AT, "10.0.0.1");
  }

  private List<LogRecord> single(EventType type, String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    return normalizer.normalize(parser.parseSingle(bytes), type, bytes, "src", RECEIVED_AT, "10.0.0.1");
  }

  private static JsonNode json(LogRecord record) throws IOException {
    return RequestParser.MAPPER.readTree(record.value());
  }

  @Test
  @DisplayName("a device clock 1 h fast is corrected: timestamp = receivedAt − (sentAt − originalTimestamp)")
  void skewCorrection() throws IOException {
    JsonNode event = json(single(EventType.TRACK, "{\"event\":\"E\",\"userId\":\"u\","
        + "\"timestamp\":\"2026-11-24T12:59:50.000Z\",\"sentAt\":\"2026-11-24T13:00:00.000+0000\"}").get(0));
    assertEquals("2026-11-24T11:59:50Z", event.get("timestamp").asText());
    assertEquals("2026-11-24T12:59:50Z", event.get("originalTimestamp").asText());
    assertEquals("2026-11-24T13:00:00Z", event.get("sentAt").asText());
    assertEquals("2026-11-24T12:00:00Z", event.get("receivedAt").asText());
  }

  @Test
  @DisplayName("the batch's sentAt applies to events without their own; RudderStack's originalTimestamp wins")
  void batchSentAt() throws IOException {
    List<LogRecord> records = batch("{\"sentAt\":\"2026-11-24T11:00:10+01:00\",\"batch\":["
        + "{\"type\":\"track\",\"event\":\"A\",\"userId\":\"u\",\"originalTimestamp\":\"2026-11-24T11:00:00+01:00\","
        + "\"timestamp\":\"2000-01-01T00:00:00Z\"},"
        + "{\"type\":\"page\",\"anonymousId\":\"a\"}]}");
    JsonNode first = json(records.get(0));
    assertEquals("2026-11-24T11:59:50Z", first.get("timestamp").asText(), "10 s before it was sent, by the server");
    JsonNode second = json(records.get(1));
    assertEquals("2026-11-24T12:00:00Z", second.get("timestamp").asText(), "no device time: receivedAt");
    assertFalse(second.has("originalTimestamp"));
  }

  @Test
  @DisplayName("normalisation adds messageId, context.ip and sourceId, keys by userId and keeps unknown fields")
  void normalisation() throws IOException {
    LogRecord record = batch("{\"writeKey\":\"k\",\"batch\":[{\"type\":\"identify\",\"userId\":42,"
        + "\"anonymousId\":\"anon\",\"custom\":{\"kept\":true},\"writeKey\":\"k\"}]}").get(0);
    JsonNode event = json(record);
    assertEquals("42", record.key(), "numeric userIds become strings and key the record");
    assertEquals("42", event.get("userId").asText());
    assertEquals(record.messageId(), event.get("messageId").asText());
    assertEquals(36, record.messageId().length());
    assertEquals("10.0.0.1", event.get("context").get("ip").asText());
    assertEquals("src", event.get("sourceId").asText());
    assertTrue(event.get("custom").get("kept").asBoolean());
    assertFalse(event.has("writeKey"));
  }

  @Test
  @DisplayName("an anonymous event is keyed by anonymousId, and a client-sent context.ip is kept")
  void anonymousKey() throws IOException {
    LogRecord record = single(EventType.PAGE, "{\"anonymousId\":\"anon-1\",\"context\":{\"ip\":\"1.2.3.4\"}}").get(0);
    assertEquals("anon-1", record.key());
    assertEquals("1.2.3.4", json(record).get("context").get("ip").asText());
    assertEquals("page", json(record).get("type").asText());
  }

  @Test
  @DisplayName("each event's size is measured as sent, and the first oversized one is named")
  void sizes() {
    String small = "{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\"}";
    String large = "{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\",\"p\":\"" + "z".repeat(40_000) + "\"}";
    IngestException error = assertThrows(IngestException.class,
        () -> batch("{\"batch\":[" + small + ",  " + large + "]}"));
    assertEquals(413, error.status());
    assertEquals("batch[1] is " + large.length() + " bytes, more than the limit of 32768 bytes per event",
        error.getMessage());
  }

  @Test
  @DisplayName("a batch over the count limit is refused while parsing, naming the limit")
  void countLimit() {
    RequestParser strict = new RequestParser(2);
    String event = "{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\"}";
    IngestException error = assertThrows(IngestException.class, () -> strict.parseBatch(
        ("{\"batch\":[" + event + "," + event + "," + event + "]}").getBytes(StandardCharsets.UTF_8)));
    assertEquals(413, error.status());
    assertTrue(error.getMessage().contains("more than 2 events"));
  }

  @Test
  @DisplayName("a timestamp without a zone offset is refused, naming the field")
  void localTimestamp() {
    IngestException error = assertThrows(IngestException.class, () -> single(EventType.TRACK,
        "{\"event\":\"E\",\"userId\":\"u\",\"timestamp\":\"2026-11-24T12:00:00\"}"));
    assertEquals(400, error.status());
    assertTrue(error.getMessage().startsWith("timestamp must be an ISO-8601 date-time with a zone offset"));
  }
}
