package eventrouter.ingest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import eventrouter.log.LogRecord;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Checks every event of a request against the client contract and normalises it for the log: type, ids,
 * required fields, sizes, message id, the four timestamps, {@code context.ip} and the source id. The first
 * problem fails the whole request, naming the event's index and the field, so nothing of it is stored.
 */
public final class EventNormalizer {
  private static final int MAX_ID_LENGTH = 1024;
  private static final List<String> OBJECT_FIELDS = List.of("context", "properties", "traits", "integrations");
  private static final byte[] ESCAPED_NUL = "\\u0000".getBytes(StandardCharsets.US_ASCII);

  private final int maxEventBytes;

  public EventNormalizer(int maxEventBytes) {
    this.maxEventBytes = maxEventBytes;
  }

  /** One event of a stream frame: its log record, or why it was refused. */
  public record Outcome(int index, String messageId, LogRecord record, IngestException error) {
  }

  /**
   * All or nothing, as HTTP wants: the first refused event fails the whole request, naming its index and field.
   *
   * @param endpointType the type named by the endpoint, or null for batch and import, where each event names its own
   * @param rawBody the body as received, used to skip the NUL scan for the many bodies that cannot contain one
   */
  public List<LogRecord> normalize(ParsedBody body, EventType endpointType, byte[] rawBody, String sourceId,
      Instant receivedAt, String clientIp) {
    Request request = new Request(body, endpointType, rawBody, sourceId, receivedAt, clientIp);
    List<LogRecord> records = new ArrayList<>(body.events().size());
    for (int i = 0; i < body.events().size(); i++) {
      records.add(request.normalizeAt(i));
    }
    return records;
  }

  /**
   * Each event on its own, as a WebSocket frame wants: a refused event costs only itself. A problem with the frame's
   * own fields (the batch's sentAt or context) still refuses the whole frame.
   */
  public List<Outcome> normalizeEach(ParsedBody body, byte[] rawBody, String sourceId, Instant receivedAt,
      String clientIp) {
    Request request = new Request(body, null, rawBody, sourceId, receivedAt, clientIp);
    List<Outcome> outcomes = new ArrayList<>(body.events().size());
    for (int i = 0; i < body.events().size(); i++) {
      JsonNode messageId = body.events().get(i).get("messageId");
      try {
        LogRecord record = request.normalizeAt(i);
        outcomes.add(new Outcome(i, record.messageId(), record, null));
      } catch (IngestException refused) {
        outcomes.add(new Outcome(i, messageId != null && messageId.isTextual() ? messageId.asText() : null, null,
            refused));
      }
    }
    return outcomes;
  }

  /** What every event of one request shares, computed once. */
  private final class Request {
    private final ParsedBody body;
    private final EventType endpointType;
    private final String sourceId;
    private final Instant receivedAt;
    private final String receivedAtText;
    private final String clientIp;
    private final Instant batchSentAt;
    private final boolean mayHoldNul;

    Request(ParsedBody body, EventType endpointType, byte[] rawBody, String sourceId, Instant receivedAt,
        String clientIp) {
      this.body = body;
      this.endpointType = endpointType;
      this.sourceId = sourceId;
      this.receivedAt = receivedAt;
      this.receivedAtText = IsoTimes.format(receivedAt);
      this.clientIp = clientIp;
      Instant sentAt = null;
      if (body.batch()) {
        sentAt = parseTime(body.envelope(), "sentAt", "sentAt");
        for (String field : List.of("context", "integrations")) {
          JsonNode value = body.envelope().get(field);
          if (value != null && !value.isNull() && !value.isObject()) {
            throw IngestException.badRequest(field + " must be a JSON object");
          }
        }
      }
      this.batchSentAt = sentAt;
      this.mayHoldNul = indexOf(rawBody, ESCAPED_NUL) >= 0;
    }

    LogRecord normalizeAt(int i) {
      String where = body.batch() ? "batch[" + i + "]" : "";
      if (body.eventSizes()[i] > maxEventBytes) {
        throw IngestException.tooLarge((body.batch() ? where : "event") + " is " + body.eventSizes()[i]
            + " bytes, more than the limit of " + maxEventBytes + " bytes per event");
      }
      ObjectNode event = body.events().get(i);
      if (mayHoldNul) {
        rejectNul(event, where);
      }
      return normalizeOne(event, endpointType, body, where, batchSentAt, receivedAt, receivedAtText, sourceId,
          clientIp);
    }
  }

  private LogRecord normalizeOne(ObjectNode event, EventType endpointType, ParsedBody body, String where,
      Instant batchSentAt, Instant receivedAt, String receivedAtText, String sourceId, String clientIp) {
    event.remove("writeKey"); // a credential, never stored
    EventType type = endpointType != null ? endpointType : typeOf(event, where);
    event.put("type", type.wireName());
    if (body.batch()) {
      mergeMissing(event, "context", body.envelope().get("context"));
      mergeMissing(event, "integrations", body.envelope().get("integrations"));
    }
    for (String field : OBJECT_FIELDS) {
      JsonNode value = event.get(field);
      if (value != null && !value.isNull() && !value.isObject()) {
        throw IngestException.badRequest(name(where, field) + " must be a JSON object");
      }
    }
    String userId = optionalId(event, "userId", where);
    String anonymousId = optionalId(event, "anonymousId", where);
    if (userId == null && anonymousId == null) {
      throw IngestException.badRequest(name(where, "userId") + " or " + name(where, "anonymousId")
          + " is required: every event must name its user");
    }
    for (String field : type.requiredFields()) {
      if (optionalId(event, field, where) == null) {
        throw IngestException.badRequest(name(where, field) + " is required for " + type.wireName() + " events");
      }
    }
    String messageId = optionalId(event, "messageId", where);
    if (messageId == null) {
      messageId = MessageIds.next(receivedAt.toEpochMilli());
      event.put("messageId", messageId);
    }

    Instant original = parseTime(event, "originalTimestamp", name(where, "originalTimestamp"));
    if (original == null) {
      original = parseTime(event, "timestamp", name(where, "timestamp"));
    }
    Instant sentAt = parseTime(event, "sentAt", name(where, "sentAt"));
    if (sentAt == null) {
      sentAt = batchSentAt;
    }
    // Segment's and RudderStack's skew correction: the device clock's error is (sentAt - now on the device when
    // sent), so subtracting the event's age on the device from the server's receive time cancels it.
    Instant timestamp = original == null ? receivedAt
        : sentAt == null ? original
        : receivedAt.minus(Duration.between(original, sentAt));
    if (original != null) {
      event.put("originalTimestamp", IsoTimes.format(original));
    }
    if (sentAt != null) {
      event.put("sentAt", IsoTimes.format(sentAt));
    }
    event.put("receivedAt", receivedAtText);
    event.put("timestamp", timestamp.equals(receivedAt) ? receivedAtText : IsoTimes.format(timestamp));

    ObjectNode context = event.get("context") instanceof ObjectNode existing ? existing : event.putObject("context");
    if (!context.hasNonNull("ip") && clientIp != null) {
      context.put("ip", clientIp);
    }
    event.put("sourceId", sourceId);

    try {
      return new LogRecord(userId != null ? userId : anonymousId, messageId,
          RequestParser.MAPPER.writeValueAsBytes(event));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a parsed JSON tree always serialises", e);
    }
  }

  private static EventType typeOf(ObjectNode event, String where) {
    JsonNode raw = event.get("type");
    if (raw == null || raw.isNull()) {
      throw IngestException.badRequest(name(where, "type") + " is required: one of " + EventType.WIRE_NAMES);
    }
    EventType type = raw.isTextual() ? EventType.fromWireName(raw.asText()) : null;
    if (type == null) {
      throw IngestException.badRequest(name(where, "type") + " must be one of " + EventType.WIRE_NAMES + " (got "
          + abbreviate(raw.toString()) + ")");
    }
    return type;
  }

  /** An id field: absent, null or empty means missing; numbers become strings, as the warehouse stores text. */
  private static String optionalId(ObjectNode event, String field, String where) {
    JsonNode raw = event.get(field);
    if (raw == null || raw.isNull()) {
      return null;
    }
    if (raw.isNumber()) {
      event.put(field, raw.asText());
      return raw.asText();
    }
    if (!raw.isTextual()) {
      throw IngestException.badRequest(name(where, field) + " must be a string");
    }
    String value = raw.asText();
    if (value.length() > MAX_ID_LENGTH) {
      throw IngestException.tooLarge(name(where, field) + " is " + value.length() + " characters, more than the limit of "
          + MAX_ID_LENGTH);
    }
    return value.isEmpty() ? null : value;
  }

  private static Instant parseTime(ObjectNode node, String field, String fieldName) {
    JsonNode raw = node.get(field);
    if (raw == null || raw.isNull()) {
      return null;
    }
    Instant parsed = raw.isTextual() ? IsoTimes.parse(raw.asText()) : null;
    if (parsed == null) {
      throw IngestException.badRequest(fieldName + " must be an ISO-8601 date-time with a zone offset between years"
          + " 1 and 9999, such as 2024-05-01T12:00:00.000Z (got " + abbreviate(raw.toString()) + ")");
    }
    return parsed;
  }

  /** Copies fields the event lacks from the batch's defaults, recursing into objects both have; the event wins. */
  private static void mergeMissing(ObjectNode target, String field, JsonNode defaults) {
    if (defaults == null || defaults.isNull()) {
      return;
    }
    JsonNode own = target.get(field);
    if (own == null || own.isNull()) {
      target.set(field, defaults.deepCopy());
    } else if (own instanceof ObjectNode ownObject && defaults instanceof ObjectNode defaultObject) {
      defaultObject.fields().forEachRemaining(entry -> mergeMissing(ownObject, entry.getKey(), entry.getValue()));
    }
  }

  /** Postgres text and jsonb cannot hold U+0000, so such an event would be accepted but could never be stored. */
  private static void rejectNul(JsonNode node, String path) {
    if (node.isTextual() && node.asText().indexOf('\0') >= 0) {
      throw IngestException.badRequest(path + " contains a NUL character (\\u0000), which the warehouse cannot store");
    }
    if (node.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> entry = it.next();
        String child = name(path, entry.getKey());
        if (entry.getKey().indexOf('\0') >= 0) {
          throw IngestException.badRequest(child + " has a field name with a NUL character (\\u0000), which the"
              + " warehouse cannot store");
        }
        rejectNul(entry.getValue(), child);
      }
    } else if (node.isArray()) {
      for (int i = 0; i < node.size(); i++) {
        rejectNul(node.get(i), path + "[" + i + "]");
      }
    }
  }

  private static String name(String where, String field) {
    return where.isEmpty() ? field : where + "." + field;
  }

  private static String abbreviate(String text) {
    return text.length() <= 64 ? text : text.substring(0, 61) + "...";
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i <= haystack.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
