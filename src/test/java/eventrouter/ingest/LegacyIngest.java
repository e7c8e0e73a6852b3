package eventrouter.ingest;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import eventrouter.log.LogRecord;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The ingest parse, normalisation and Basic auth parsing as they were before the fast path (commit a2d60f8), copied
 * unchanged but for names: {@link NormalizeBench}'s baseline, and the oracle the equivalence tests compare the router's output with.
 * Not used by the router.
 */
final class LegacyIngest {
  static final ObjectMapper MAPPER = new ObjectMapper();

  private LegacyIngest() {
  }

  /** The old IngestVerticle.writeKeyFromBasicAuth. */
  static String writeKeyFromBasicAuth(String header) {
    String[] parts = header.trim().split("\\s+", 2);
    if (parts.length == 2 && parts[0].equalsIgnoreCase("Basic")) {
      try {
        String decoded = new String(Base64.getDecoder().decode(parts[1]), StandardCharsets.UTF_8);
        String key = decoded.split(":", 2)[0];
        if (!key.isEmpty()) {
          return key;
        }
      } catch (IllegalArgumentException malformedBase64) {
        // reported below, like any other unusable header
      }
    }
    throw IngestException.unauthorized("Authorization header must be Basic base64(\"<writeKey>:\")");
  }

  /** The old ParsedBody. */
  record ParsedBody(ObjectNode envelope, List<ObjectNode> events, int[] eventSizes, boolean batch) {
  }

  /** The old RequestParser. */
  static final class Parser {

    private final int maxBatchEvents;

    Parser(int maxBatchEvents) {
      this.maxBatchEvents = maxBatchEvents;
    }

    public ParsedBody parseSingle(byte[] body) {
      JsonNode root;
      try {
        root = MAPPER.readTree(body);
      } catch (IOException e) {
        throw malformed(e);
      }
      if (!(root instanceof ObjectNode event)) {
        throw IngestException.badRequest("body must be a JSON object holding one event");
      }
      return new ParsedBody(event, List.of(event), new int[] {body.length}, false);
    }

    public ParsedBody parseBatch(byte[] body) {
      return parse(body, false);
    }

    /** A WebSocket frame: a {@code {"batch":[...]}} like a batch request, anything else one event. */
    public ParsedBody parseFrame(byte[] frame) {
      return parse(frame, true);
    }

    private ParsedBody parse(byte[] body, boolean singleWithoutBatch) {
      ObjectNode envelope = MAPPER.createObjectNode();
      List<ObjectNode> events = null;
      int[] sizes = null;
      try (JsonParser parser = MAPPER.createParser(body)) {
        if (parser.nextToken() != JsonToken.START_OBJECT) {
          throw IngestException.badRequest(singleWithoutBatch ? "a frame must be a JSON object: one event or a batch"
              : "body must be a JSON object with a batch array");
        }
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
          String name = parser.currentName();
          JsonToken value = parser.nextToken();
          if (!name.equals("batch")) {
            envelope.set(name, MAPPER.readTree(parser));
            continue;
          }
          if (value != JsonToken.START_ARRAY) {
            throw IngestException.badRequest("batch must be an array of events");
          }
          events = new ArrayList<>();
          int[] found = new int[16];
          while (parser.nextToken() != JsonToken.END_ARRAY) {
            int index = events.size();
            if (index == maxBatchEvents) {
              throw IngestException.tooLarge("batch holds more than " + maxBatchEvents + " events, the limit per request;"
                  + " split it into smaller batches");
            }
            if (parser.currentToken() != JsonToken.START_OBJECT) {
              throw IngestException.badRequest("batch[" + index + "] must be a JSON object");
            }
            long start = parser.currentTokenLocation().getByteOffset();
            events.add((ObjectNode) MAPPER.readTree(parser));
            long end = parser.currentLocation().getByteOffset();
            if (index == found.length) {
              found = Arrays.copyOf(found, found.length * 2);
            }
            found[index] = (int) (end - start);
          }
          sizes = Arrays.copyOf(found, events.size());
        }
        if (parser.currentToken() != JsonToken.END_OBJECT || parser.nextToken() != null) {
          throw IngestException.badRequest("body is not valid JSON: unexpected content after the top-level object");
        }
      } catch (IOException e) {
        throw malformed(e);
      }
      if (events == null && singleWithoutBatch) {
        return new ParsedBody(envelope, List.of(envelope), new int[] {body.length}, false);
      }
      if (events == null) {
        throw IngestException.badRequest("batch is required: a batch request must hold a batch array of events");
      }
      if (events.isEmpty()) {
        throw IngestException.badRequest("batch is empty: it must hold at least 1 event");
      }
      return new ParsedBody(envelope, events, sizes, true);
    }

    private static IngestException malformed(IOException e) {
      if (e instanceof JsonProcessingException json) {
        JsonLocation at = json.getLocation();
        String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
        return IngestException.badRequest("body is not valid JSON" + where + ": " + json.getOriginalMessage());
      }
      return IngestException.badRequest("body could not be read: " + e.getMessage());
    }
}

  /** The old EventNormalizer. */
  static final class Normalizer {
    private static final int MAX_ID_LENGTH = 1024;
    private static final Pattern OFFSET_WITHOUT_COLON = Pattern.compile("([+-]\\d{2})(\\d{2})$");
    private static final List<String> OBJECT_FIELDS = List.of("context", "properties", "traits", "integrations");
    private static final byte[] ESCAPED_NUL = "\\u0000".getBytes(StandardCharsets.US_ASCII);

    private final int maxEventBytes;

    Normalizer(int maxEventBytes) {
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
        this.receivedAtText = DateTimeFormatter.ISO_INSTANT.format(receivedAt);
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
        event.put("originalTimestamp", DateTimeFormatter.ISO_INSTANT.format(original));
      }
      if (sentAt != null) {
        event.put("sentAt", DateTimeFormatter.ISO_INSTANT.format(sentAt));
      }
      event.put("receivedAt", receivedAtText);
      event.put("timestamp", DateTimeFormatter.ISO_INSTANT.format(timestamp));

      ObjectNode context = event.get("context") instanceof ObjectNode existing ? existing : event.putObject("context");
      if (!context.hasNonNull("ip") && clientIp != null) {
        context.put("ip", clientIp);
      }
      event.put("sourceId", sourceId);

      try {
        return new LogRecord(userId != null ? userId : anonymousId, messageId,
            MAPPER.writeValueAsBytes(event));
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
        // 400 since the client contract kept 413 for a request that is too large (issue 11); was tooLarge.
        throw IngestException.badRequest(name(where, field) + " is " + value.length() + " characters, more than the"
            + " limit of " + MAX_ID_LENGTH);
      }
      return value.isEmpty() ? null : value;
    }

    private static Instant parseTime(ObjectNode node, String field, String fieldName) {
      JsonNode raw = node.get(field);
      if (raw == null || raw.isNull()) {
        return null;
      }
      String text = raw.isTextual() ? raw.asText() : null;
      try {
        if (text == null) {
          throw new DateTimeParseException("not a string", raw.toString(), 0);
        }
        // Some SDKs write the offset as +0000; java.time wants +00:00.
        OffsetDateTime parsed = OffsetDateTime.parse(OFFSET_WITHOUT_COLON.matcher(text).replaceFirst("$1:$2"));
        if (parsed.getYear() < 1 || parsed.getYear() > 9999) {
          throw new DateTimeParseException("year out of range", text, 0);
        }
        return parsed.toInstant();
      } catch (DateTimeParseException e) {
        throw IngestException.badRequest(fieldName + " must be an ISO-8601 date-time with a zone offset between years"
            + " 1 and 9999, such as 2024-05-01T12:00:00.000Z (got " + abbreviate(raw.toString()) + ")");
      }
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
}
