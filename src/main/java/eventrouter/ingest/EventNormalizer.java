package eventrouter.ingest;

import static eventrouter.ingest.EventScan.ABSENT;
import static eventrouter.ingest.EventScan.ANONYMOUS_ID;
import static eventrouter.ingest.EventScan.CONTEXT;
import static eventrouter.ingest.EventScan.INTEGRATIONS;
import static eventrouter.ingest.EventScan.MESSAGE_ID;
import static eventrouter.ingest.EventScan.NULL;
import static eventrouter.ingest.EventScan.OBJECT;
import static eventrouter.ingest.EventScan.ORIGINAL_TIMESTAMP;
import static eventrouter.ingest.EventScan.PROPERTIES;
import static eventrouter.ingest.EventScan.RECEIVED_AT;
import static eventrouter.ingest.EventScan.SENT_AT;
import static eventrouter.ingest.EventScan.SOURCE_ID;
import static eventrouter.ingest.EventScan.STRING;
import static eventrouter.ingest.EventScan.TIMESTAMP;
import static eventrouter.ingest.EventScan.TRAITS;
import static eventrouter.ingest.EventScan.TYPE;
import static eventrouter.ingest.EventScan.USER_ID;
import static eventrouter.ingest.EventScan.WRITE_KEY;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.node.ObjectNode;
import eventrouter.log.LogRecord;
import eventrouter.log.RecordHead;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Checks every event of a request against the client contract and normalises it for the log: type, ids,
 * required fields, sizes, message id, the four timestamps, {@code context.ip} and the source id. The first
 * problem fails the whole request, naming the event's index and the field, so nothing of it is stored.
 *
 * <p>Two paths give the same result. The fast path takes a scanned event ({@link EventScan}) that needs nothing
 * unusual, and writes it by copying the bytes it was sent as, less the fields the router replaces, followed by the
 * router's own fields. Every other event, and every refusal, goes the tree path: the event is read into a tree, edited
 * and serialised, which is also what names the problem. Both write the same fields with the same values; only the
 * JSON text of what the router does not touch may differ, as the fast path keeps it as sent (a number written
 * {@code 1.50} stays so, where the tree path writes {@code 1.5}; escapes stay as they were).
 */
public final class EventNormalizer {
  private static final int MAX_ID_LENGTH = 1024;
  private static final List<String> OBJECT_FIELDS = List.of("context", "properties", "traits", "integrations");
  private static final ObjectWriter WRITER = RequestParser.MAPPER.writer();
  private static final int[] NONE = new int[0];
  /** Stands for the event's context as sent, with {@code "ip"} added before its closing brace. */
  private static final byte[] ADD_IP = new byte[0];
  /** The id fields each type requires besides userId/anonymousId, as scan slots. */
  private static final Map<EventType, int[]> REQUIRED_SLOTS = new EnumMap<>(EventType.class);
  private static final Map<EventType, byte[]> TYPE_FIELDS = new EnumMap<>(EventType.class);
  /** Stands for an id or a timestamp the fast path does not take; the tree path then decides. */
  private static final String UNUSUAL_ID = new String("unusual id");
  private static final Instant UNUSUAL_TIME = Instant.MIN;

  static {
    for (EventType type : EventType.values()) {
      REQUIRED_SLOTS.put(type, type.requiredFields().stream().mapToInt(EventScan::slotOf).toArray());
      TYPE_FIELDS.put(type, ascii("\"type\":\"" + type.wireName() + "\""));
    }
  }

  private final int maxEventBytes;
  /** The last source's {@code "sourceId":…} field; sources are few, so this is nearly always a hit. */
  private SourceField lastSource;

  public EventNormalizer(int maxEventBytes) {
    this.maxEventBytes = maxEventBytes;
  }

  /**
   * One event of a stream frame: its log record, or why it was refused.
   *
   * @param userId the normalised event's userId when it is a string, which a WebSocket then belongs to
   * @param anonymousId likewise its anonymousId
   */
  public record Outcome(int index, String messageId, LogRecord record, IngestException error, String userId,
      String anonymousId) {
  }

  private record SourceField(String sourceId, byte[] field) {
  }

  /**
   * All or nothing, as HTTP wants: the first refused event fails the whole request, naming its index and field.
   *
   * @param endpointType the type named by the endpoint, or null for batch and import, where each event names its own
   * @param rawBody the body as received, scanned once for the escape a NUL character needs
   */
  public List<LogRecord> normalize(ParsedBody body, EventType endpointType, byte[] rawBody, String sourceId,
      Instant receivedAt, String clientIp) {
    Request request = new Request(body, endpointType, rawBody, sourceId, receivedAt, clientIp);
    List<LogRecord> records = new ArrayList<>(body.size());
    for (int i = 0; i < body.size(); i++) {
      records.add(request.normalizeAt(i));
    }
    return records;
  }

  /**
   * Each event on its own, as a batch and a WebSocket frame want: a refused event costs only itself. A problem with
   * the request's own fields (the batch's sentAt or context) still refuses the whole request.
   *
   * @param endpointType the type named by the endpoint, or null where each event names its own
   */
  public List<Outcome> normalizeEach(ParsedBody body, EventType endpointType, byte[] rawBody, String sourceId,
      Instant receivedAt, String clientIp) {
    Request request = new Request(body, endpointType, rawBody, sourceId, receivedAt, clientIp);
    List<Outcome> outcomes = new ArrayList<>(body.size());
    for (int i = 0; i < body.size(); i++) {
      EventScan scan = body.scan(i);
      String messageId = scan != null ? (scan.kinds[MESSAGE_ID] == STRING ? scan.texts[MESSAGE_ID] : null)
          : sentMessageId(body, i);
      try {
        LogRecord record = request.normalizeAt(i);
        scan = body.scan(i);
        outcomes.add(scan != null
            ? new Outcome(i, record.messageId(), record, null, scan.texts[USER_ID], scan.texts[ANONYMOUS_ID])
            : new Outcome(i, record.messageId(), record, null, textOrNull(body.event(i).get("userId")),
                textOrNull(body.event(i).get("anonymousId"))));
      } catch (IngestException refused) {
        outcomes.add(new Outcome(i, messageId, null, refused, null, null));
      }
    }
    return outcomes;
  }

  /** The messageId as sent (read before normalising changes the tree), or null for an item that is no object. */
  private static String sentMessageId(ParsedBody body, int index) {
    try {
      return textOrNull(body.event(index).get("messageId"));
    } catch (IngestException notAnObject) {
      return null;
    }
  }

  /** What every event of one request shares, computed once. */
  private final class Request {
    private final ParsedBody body;
    private final byte[] bytes;
    private final EventType endpointType;
    private final String sourceId;
    private final Instant receivedAt;
    private final String receivedAtText;
    private final String clientIp;
    private final Instant batchSentAt;
    private final ObjectNode contextDefaults;
    private final ObjectNode integrationsDefaults;
    /** Where the body may hold something the warehouse cannot store ({@link #suspects}), in order. */
    private final int[] suspects;
    private String batchSentAtText;
    private byte[] contextFromBatch;
    private byte[] integrationsFromBatch;
    private byte[] contextOfIp;
    private byte[] ipField;
    private byte[] sourceIdField;
    private Output output;
    /** The last object {@link #covers} looked at, and its answer. */
    private ObjectNode lastDefaults;
    private int lastOpen;
    private int lastClose;
    private boolean lastCovered;

    Request(ParsedBody body, EventType endpointType, byte[] rawBody, String sourceId, Instant receivedAt,
        String clientIp) {
      this.body = body;
      this.bytes = body.bytes();
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
      this.contextDefaults = body.batch() ? objectOrNull(body.envelope().get("context")) : null;
      this.integrationsDefaults = body.batch() ? objectOrNull(body.envelope().get("integrations")) : null;
      this.suspects = suspects(rawBody);
    }

    LogRecord normalizeAt(int i) {
      if (body.eventSize(i) > maxEventBytes) {
        throw IngestException.eventTooLarge("event_too_large", (body.batch() ? "batch[" + i + "]" : "event") + " is " + body.eventSize(i)
            + " bytes, more than the limit of " + maxEventBytes + " bytes per event");
      }
      EventScan scan = body.scan(i);
      boolean suspect = scan != null ? holdsSuspect(scan.start, scan.end()) : suspects.length > 0;
      if (scan != null && !suspect) {
        LogRecord record = normalizeScanned(scan);
        if (record != null) {
          return record;
        }
      }
      String where = body.batch() ? "batch[" + i + "]" : "";
      ObjectNode event = body.event(i);
      if (suspect) {
        rejectUnstorable(event, where);
      }
      return normalizeTree(event, where);
    }

    /**
     * The fast path. It refuses nothing: it returns null for every event it does not take as it is, and the tree
     * path then gives the same answer it always gave. So each check here is one of the tree path's, in the form the
     * events that pass it have.
     */
    private LogRecord normalizeScanned(EventScan scan) {
      byte[] kinds = scan.kinds;
      if (scan.repeated) {
        return null;
      }
      EventType type = endpointType;
      if (type == null) {
        type = kinds[TYPE] == STRING ? EventType.fromWireName(scan.texts[TYPE]) : null;
        if (type == null) {
          return null;
        }
      }
      if (!objectOrMissing(kinds[CONTEXT]) || !objectOrMissing(kinds[PROPERTIES]) || !objectOrMissing(kinds[TRAITS])
          || !objectOrMissing(kinds[INTEGRATIONS])) {
        return null;
      }
      String userId = id(scan, USER_ID);
      String anonymousId = id(scan, ANONYMOUS_ID);
      if (userId == UNUSUAL_ID || anonymousId == UNUSUAL_ID || userId == null && anonymousId == null) {
        return null;
      }
      for (int slot : REQUIRED_SLOTS.get(type)) {
        String value = id(scan, slot);
        if (value == null || value == UNUSUAL_ID) {
          return null;
        }
      }
      String messageId = id(scan, MESSAGE_ID);
      if (messageId == UNUSUAL_ID) {
        return null;
      }

      int originalSlot = ORIGINAL_TIMESTAMP;
      Instant original = time(scan, ORIGINAL_TIMESTAMP);
      if (original == null) {
        originalSlot = TIMESTAMP;
        original = time(scan, TIMESTAMP);
      }
      Instant sentAt = time(scan, SENT_AT);
      if (original == UNUSUAL_TIME || sentAt == UNUSUAL_TIME) {
        return null;
      }
      // A timestamp sent in the form the log stores stays where it is, as sent; any other is written again.
      String sentAtText = null;
      boolean sentAtAsSent = false;
      if (sentAt != null) {
        sentAtAsSent = IsoTimes.isCanonical(scan.texts[SENT_AT], sentAt);
        sentAtText = sentAtAsSent ? scan.texts[SENT_AT] : IsoTimes.format(sentAt);
      } else if (batchSentAt != null) {
        sentAt = batchSentAt;
        sentAtText = batchSentAtText();
      }
      Instant timestamp = skewCorrected(original, sentAt);
      String originalText = null;
      boolean originalAsSent = false;
      if (original != null) {
        boolean canonical = IsoTimes.isCanonical(scan.texts[originalSlot], original);
        originalText = canonical ? scan.texts[originalSlot] : IsoTimes.format(original);
        originalAsSent = canonical && originalSlot == ORIGINAL_TIMESTAMP;
      }
      String timestampText = timestamp.equals(receivedAt) ? receivedAtText
          : timestamp.equals(original) ? originalText : IsoTimes.format(timestamp);

      byte[] context = contextValue(scan);
      byte[] integrations = integrationsDefaults == null ? null
          : kinds[INTEGRATIONS] != OBJECT ? integrationsFromBatch()
          : covers(scan.integrationsOpen, scan.integrationsClose, integrationsDefaults) ? null
          : merged(scan.integrationsOpen, scan.integrationsClose, integrationsDefaults, false);
      boolean generated = messageId == null;
      if (generated) {
        messageId = MessageIds.next(receivedAt.toEpochMilli());
      }

      Output out = output();
      out.cut(scan, WRITE_KEY);
      out.cut(scan, TYPE);
      out.cut(scan, RECEIVED_AT);
      out.cut(scan, SOURCE_ID);
      out.cut(scan, TIMESTAMP);
      if (original != null && !originalAsSent) {
        out.cut(scan, ORIGINAL_TIMESTAMP);
      }
      if (sentAtText != null && !sentAtAsSent) {
        out.cut(scan, SENT_AT);
      }
      if (generated) {
        out.cut(scan, MESSAGE_ID);
      }
      if (context != null) {
        out.cut(scan, CONTEXT);
      }
      if (integrations != null) {
        out.cut(scan, INTEGRATIONS);
      }
      out.copyKept(bytes, scan);
      out.field(TYPE_FIELDS.get(type));
      if (generated) {
        out.stringField("messageId", messageId);
      }
      if (original != null && !originalAsSent) {
        out.stringField("originalTimestamp", originalText);
      }
      if (sentAtText != null && !sentAtAsSent) {
        out.stringField("sentAt", sentAtText);
      }
      out.stringField("receivedAt", receivedAtText);
      out.stringField("timestamp", timestampText);
      if (context == ADD_IP) {
        out.contextWithIp(bytes, scan.contextOpen, scan.contextClose, scan.contextHasFields, ipField());
      } else if (context != null) {
        out.rawField("context", context);
      }
      if (integrations != null) {
        out.rawField("integrations", integrations);
      }
      out.field(sourceIdField());
      return new LogRecord(out.finish(),
          new RecordHead(messageId, type.wireName(), userId, anonymousId, receivedAtText));
    }

    /** The context to write in place of the event's own, {@link #ADD_IP}, or null to keep it as sent. */
    private byte[] contextValue(EventScan scan) {
      if (scan.kinds[CONTEXT] != OBJECT) {
        return contextDefaults != null ? contextFromBatch() : contextOfIp();
      }
      if (contextDefaults != null && !covers(scan.contextOpen, scan.contextClose, contextDefaults)) {
        return merged(scan.contextOpen, scan.contextClose, contextDefaults, true);
      }
      if (clientIp == null || scan.contextIp == STRING) {
        return null;
      }
      return scan.contextIp == NULL ? merged(scan.contextOpen, scan.contextClose, null, true) : ADD_IP;
    }

    /**
     * Whether merging the defaults into the object from {@code open} to {@code close} would change nothing: the tree
     * path's {@link #mergeMissing} adds only what the event lacks, and an event usually has it. The events of a batch
     * from one device often carry the very same context, so the last answer is kept for the same bytes.
     */
    private boolean covers(int open, int close, ObjectNode defaults) {
      if (defaults == lastDefaults && Arrays.equals(bytes, open, close + 1, bytes, lastOpen, lastClose + 1)) {
        return lastCovered;
      }
      boolean covered;
      try (JsonParser parser = RequestParser.MAPPER.createParser(bytes, open, close + 1 - open)) {
        parser.nextToken();
        covered = coversDefaults(parser, defaults, true);
      } catch (IOException e) {
        covered = false;
      }
      lastDefaults = defaults;
      lastOpen = open;
      lastClose = close;
      lastCovered = covered;
      return covered;
    }

    /** The object starting at {@code open}, read into a tree, merged and given the ip as the tree path does. */
    private byte[] merged(int open, int close, ObjectNode defaults, boolean withIp) {
      try {
        ObjectNode own = (ObjectNode) RequestParser.MAPPER.readTree(bytes, open, close + 1 - open);
        if (defaults != null) {
          defaults.fields().forEachRemaining(entry -> mergeMissing(own, entry.getKey(), entry.getValue()));
        }
        if (withIp && !own.hasNonNull("ip") && clientIp != null) {
          own.put("ip", clientIp);
        }
        return WRITER.writeValueAsBytes(own);
      } catch (IOException e) {
        throw new IllegalStateException("a scanned object always parses", e);
      }
    }

    private Instant skewCorrected(Instant original, Instant sentAt) {
      if (original == null) {
        return receivedAt;
      }
      if (sentAt == null) {
        return original;
      }
      // Segment's and RudderStack's skew correction: the device clock's error is (sentAt - now on the device when
      // sent), so subtracting the event's age on the device from the server's receive time cancels it. This is
      // receivedAt.minus(Duration.between(original, sentAt)), exactly, without the Duration.
      return Instant.ofEpochSecond(receivedAt.getEpochSecond() - sentAt.getEpochSecond() + original.getEpochSecond(),
          (long) receivedAt.getNano() - sentAt.getNano() + original.getNano());
    }

    private LogRecord normalizeTree(ObjectNode event, String where) {
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
          throw IngestException.invalidEvent("invalid_field", name(where, field) + " must be a JSON object");
        }
      }
      String userId = optionalId(event, "userId", where);
      String anonymousId = optionalId(event, "anonymousId", where);
      if (userId == null && anonymousId == null) {
        throw IngestException.invalidEvent("missing_id", name(where, "userId") + " or " + name(where, "anonymousId")
            + " is required: every event must name its user");
      }
      for (String field : type.requiredFields()) {
        if (optionalId(event, field, where) == null) {
          throw IngestException.invalidEvent("missing_field", name(where, field) + " is required for " + type.wireName() + " events");
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
      Instant timestamp = skewCorrected(original, sentAt);
      if (original != null) {
        event.put("originalTimestamp", IsoTimes.format(original));
      }
      if (sentAt != null) {
        event.put("sentAt", sentAt == batchSentAt ? batchSentAtText() : IsoTimes.format(sentAt));
      }
      event.put("receivedAt", receivedAtText);
      event.put("timestamp", timestamp.equals(receivedAt) ? receivedAtText : IsoTimes.format(timestamp));

      ObjectNode context = event.get("context") instanceof ObjectNode existing ? existing : event.putObject("context");
      if (!context.hasNonNull("ip") && clientIp != null) {
        context.put("ip", clientIp);
      }
      event.put("sourceId", sourceId);

      try {
        return new LogRecord(WRITER.writeValueAsBytes(event),
            new RecordHead(messageId, type.wireName(), userId, anonymousId, receivedAtText));
      } catch (JsonProcessingException e) {
        throw new IllegalStateException("a parsed JSON tree always serialises", e);
      }
    }

    private boolean holdsSuspect(int from, int to) {
      if (suspects.length == 0) {
        return false;
      }
      int at = Arrays.binarySearch(suspects, from);
      int next = at >= 0 ? at : -at - 1;
      return next < suspects.length && suspects[next] < to;
    }

    private String batchSentAtText() {
      if (batchSentAtText == null) {
        batchSentAtText = IsoTimes.format(batchSentAt);
      }
      return batchSentAtText;
    }

    /** An event without a context gets a copy of the batch's, with the ip when it has none. */
    private byte[] contextFromBatch() {
      if (contextFromBatch == null) {
        ObjectNode context = contextDefaults.deepCopy();
        if (!context.hasNonNull("ip") && clientIp != null) {
          context.put("ip", clientIp);
        }
        contextFromBatch = serialise(context);
      }
      return contextFromBatch;
    }

    private byte[] integrationsFromBatch() {
      if (integrationsFromBatch == null) {
        integrationsFromBatch = serialise(integrationsDefaults);
      }
      return integrationsFromBatch;
    }

    /** {@code {"ip":"…"}}, or {@code {}} when the client's address is unknown. */
    private byte[] contextOfIp() {
      if (contextOfIp == null) {
        contextOfIp = ipField() == null ? new byte[] {'{', '}'} : concat(new byte[] {'{'}, ipField(), new byte[] {'}'});
      }
      return contextOfIp;
    }

    /** {@code "ip":"…"}, or null when the client's address is unknown. */
    private byte[] ipField() {
      if (ipField == null && clientIp != null) {
        ipField = stringField("ip", clientIp);
      }
      return ipField;
    }

    private byte[] sourceIdField() {
      if (sourceIdField == null) {
        SourceField cached = lastSource;
        if (cached == null || !cached.sourceId().equals(sourceId)) {
          cached = new SourceField(sourceId, stringField("sourceId", sourceId));
          lastSource = cached;
        }
        sourceIdField = cached.field();
      }
      return sourceIdField;
    }

    /** One buffer for all the events of the request; each record gets a copy of its part. */
    private Output output() {
      if (output == null) {
        output = new Output(bytes.length / Math.max(1, body.size()) + 512);
      }
      output.reset();
      return output;
    }
  }

  /**
   * An event's JSON as sent, less the fields the router cuts, then the router's fields. A cut field's range runs
   * from its name to the next field's name, so it takes its comma along; what is left between cuts is trimmed of
   * the separators at its end and joined with commas.
   */
  private static final class Output {
    private static final byte[] CONTEXT_NAME = ascii("\"context\":");
    private final int[] cutStarts = new int[EventScan.SLOTS];
    private final int[] cutEnds = new int[EventScan.SLOTS];
    private int cuts;
    private byte[] buffer;
    private int length;
    private boolean anyField;

    Output(int capacity) {
      buffer = new byte[capacity];
    }

    void reset() {
      cuts = 0;
      length = 0;
      anyField = false;
    }

    void cut(EventScan scan, int slot) {
      if (scan.kinds[slot] == ABSENT) {
        return;
      }
      // Insertion sort: a handful of cuts, usually in order already.
      int at = cuts++;
      int start = scan.fieldStarts[slot];
      while (at > 0 && cutStarts[at - 1] > start) {
        cutStarts[at] = cutStarts[at - 1];
        cutEnds[at] = cutEnds[at - 1];
        at--;
      }
      cutStarts[at] = start;
      cutEnds[at] = scan.fieldEnds[slot];
    }

    void copyKept(byte[] bytes, EventScan scan) {
      put((byte) '{');
      int from = scan.start + 1;
      for (int i = 0; i < cuts; i++) {
        keep(bytes, from, cutStarts[i]);
        from = cutEnds[i];
      }
      keep(bytes, from, scan.close);
    }

    private void keep(byte[] bytes, int from, int to) {
      while (to > from && isWhitespace(bytes[to - 1])) {
        to--;
      }
      if (to > from && bytes[to - 1] == ',') {
        to--;
        while (to > from && isWhitespace(bytes[to - 1])) {
          to--;
        }
      }
      while (from < to && isWhitespace(bytes[from])) {
        from++;
      }
      if (from < to) {
        separate();
        put(bytes, from, to - from);
      }
    }

    void field(byte[] field) {
      separate();
      put(field, 0, field.length);
    }

    /** A field whose value is ASCII that needs no escaping: timestamps and generated ids. */
    void stringField(String name, String asciiValue) {
      separate();
      put((byte) '"');
      putAscii(name);
      put((byte) '"');
      put((byte) ':');
      put((byte) '"');
      putAscii(asciiValue);
      put((byte) '"');
    }

    /** The context as sent, less its closing brace, then the ip and the brace. */
    void contextWithIp(byte[] bytes, int open, int close, boolean hasFields, byte[] ipField) {
      separate();
      put(CONTEXT_NAME, 0, CONTEXT_NAME.length);
      put(bytes, open, close - open);
      if (hasFields) {
        put((byte) ',');
      }
      put(ipField, 0, ipField.length);
      put((byte) '}');
    }

    void rawField(String name, byte[] json) {
      separate();
      put((byte) '"');
      putAscii(name);
      put((byte) '"');
      put((byte) ':');
      put(json, 0, json.length);
    }

    byte[] finish() {
      put((byte) '}');
      return Arrays.copyOf(buffer, length);
    }

    private void separate() {
      if (anyField) {
        put((byte) ',');
      }
      anyField = true;
    }

    private void putAscii(String text) {
      int n = text.length();
      ensure(n);
      for (int i = 0; i < n; i++) {
        buffer[length++] = (byte) text.charAt(i);
      }
    }

    private void put(byte b) {
      ensure(1);
      buffer[length++] = b;
    }

    private void put(byte[] bytes, int from, int count) {
      ensure(count);
      System.arraycopy(bytes, from, buffer, length, count);
      length += count;
    }

    private void ensure(int more) {
      if (length + more > buffer.length) {
        buffer = Arrays.copyOf(buffer, Math.max(buffer.length * 2, length + more));
      }
    }

    private static boolean isWhitespace(byte b) {
      return b == ' ' || b == '\n' || b == '\r' || b == '\t';
    }
  }

  /** An id field as the fast path takes it: absent or null, else a non-empty string within the limit. */
  private static String id(EventScan scan, int slot) {
    return switch (scan.kinds[slot]) {
      case ABSENT, NULL -> null;
      case STRING -> {
        String value = scan.texts[slot];
        yield value.isEmpty() || value.length() > MAX_ID_LENGTH ? UNUSUAL_ID : value;
      }
      default -> UNUSUAL_ID;
    };
  }

  private static Instant time(EventScan scan, int slot) {
    return switch (scan.kinds[slot]) {
      case ABSENT, NULL -> null;
      case STRING -> {
        Instant parsed = IsoTimes.parse(scan.texts[slot]);
        yield parsed != null ? parsed : UNUSUAL_TIME;
      }
      default -> UNUSUAL_TIME;
    };
  }

  private static boolean objectOrMissing(byte kind) {
    return kind == ABSENT || kind == NULL || kind == OBJECT;
  }

  /**
   * See {@link Request#covers(int, ObjectNode)}; the parser is at the object's start.
   *
   * @param outermost whether the parser may be left inside the object once the answer is known
   */
  private static boolean coversDefaults(JsonParser parser, ObjectNode defaults, boolean outermost)
      throws IOException {
    int needed = 0;
    for (Iterator<JsonNode> it = defaults.elements(); it.hasNext(); ) {
      if (!it.next().isNull()) {
        needed++;
      }
    }
    int found = 0;
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      JsonNode fallback = defaults.get(parser.currentName());
      JsonToken value = parser.nextToken();
      if (fallback == null || fallback.isNull()) {
        parser.skipChildren();
        continue;
      }
      if (value == JsonToken.VALUE_NULL) {
        return false; // the tree path replaces a null with the default
      }
      found++;
      if (value == JsonToken.START_OBJECT && fallback instanceof ObjectNode nested) {
        if (!coversDefaults(parser, nested, false)) {
          return false;
        }
      } else {
        parser.skipChildren();
      }
      if (outermost && found == needed) {
        return true; // names do not repeat, so the fields after these cannot change the answer
      }
    }
    return found == needed;
  }

  private static EventType typeOf(ObjectNode event, String where) {
    JsonNode raw = event.get("type");
    if (raw == null || raw.isNull()) {
      throw IngestException.invalidEvent("invalid_type", name(where, "type") + " is required: one of " + EventType.WIRE_NAMES);
    }
    EventType type = raw.isTextual() ? EventType.fromWireName(raw.asText()) : null;
    if (type == null) {
      throw IngestException.invalidEvent("invalid_type", name(where, "type") + " must be one of " + EventType.WIRE_NAMES + " (got "
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
      throw IngestException.invalidEvent("invalid_field", name(where, field) + " must be a string");
    }
    String value = raw.asText();
    if (value.length() > MAX_ID_LENGTH) {
      throw IngestException.invalidEvent("field_too_long", name(where, field) + " is " + value.length()
          + " characters, more than the limit of " + MAX_ID_LENGTH);
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
      throw IngestException.invalidEvent("invalid_timestamp", fieldName + " must be an ISO-8601 date-time with a zone offset between years"
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

  /**
   * What an event may carry as JSON but Postgres' jsonb cannot store, so that it would be acknowledged and then never
   * stored: U+0000 (in a value or a name), a UTF-16 surrogate without its pair, and a number beyond a double's range
   * (about ±1.8e308, JSON's numbers in every SDK; Jackson reads such a number as infinite). A number too small for a
   * double is read as 0 and stored so.
   */
  private static void rejectUnstorable(JsonNode node, String path) {
    if (node.isTextual()) {
      rejectUnstorableText(node.asText(), path, false);
    } else if (node.isNumber()) {
      if ((node.isDouble() || node.isFloat()) && !Double.isFinite(node.doubleValue())) {
        throw IngestException.invalidEvent("number_out_of_range", path + " is a number beyond the range of a JSON"
            + " number (about ±1.8e308), which the warehouse cannot store");
      }
    } else if (node.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> entry = it.next();
        String child = name(path, entry.getKey());
        rejectUnstorableText(entry.getKey(), child, true);
        rejectUnstorable(entry.getValue(), child);
      }
    } else if (node.isArray()) {
      for (int i = 0; i < node.size(); i++) {
        rejectUnstorable(node.get(i), path + "[" + i + "]");
      }
    }
  }

  private static void rejectUnstorableText(String text, String path, boolean name) {
    int at = firstUnstorable(text, 0);
    if (at < 0) {
      return;
    }
    char c = text.charAt(at);
    if (c == '\0') {
      throw IngestException.invalidEvent("nul_character", path + (name ? " has a field name with" : " contains")
          + " a NUL character (\\u0000), which the warehouse cannot store");
    }
    throw IngestException.invalidEvent("unpaired_surrogate", path + (name ? " has a field name with" : " contains")
        + String.format(" \\u%04x, half of a UTF-16 surrogate pair without its other half, which the warehouse"
        + " cannot store", (int) c));
  }

  /**
   * Where {@code text}, from {@code from} on, first holds a character Postgres cannot store: U+0000, or a UTF-16
   * surrogate without its pair. -1 when it holds none.
   */
  static int firstUnstorable(String text, int from) {
    for (int i = from; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\0') {
        return i;
      }
      if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
        i++; // a pair: one character
      } else if (Character.isSurrogate(c)) {
        return i;
      }
    }
    return -1;
  }

  /**
   * Where the body may hold what {@link #rejectUnstorable} refuses, in order: the backslash-u escapes of U+0000 and
   * of U+D800 to U+DFFF, an exponent of three digits or more after a digit, and bytes that are never
   * UTF-8 or encode a surrogate. The events holding one go the tree path, whose check decides: most are false alarms
   * (an escaped backslash, a surrogate pair, an exponent in a string). One pass over the bytes.
   */
  static int[] suspects(byte[] body) {
    int[] found = NONE;
    int count = 0;
    for (int i = 0; i < body.length; i++) {
      int b = body[i] & 0xFF;
      boolean suspect = switch (b) {
        case '\\' -> isSuspectEscape(body, i);
        case 'e', 'E' -> isLongExponent(body, i);
        default -> b >= 0xC0 && (b <= 0xC1 || b >= 0xF5
            || (b == 0xED && i + 1 < body.length && (body[i + 1] & 0xFF) >= 0xA0));
      };
      if (suspect) {
        found = add(found, count++, i);
      }
    }
    return count == found.length ? found : Arrays.copyOf(found, count);
  }


  /** The backslash-u escape of U+0000, or of a UTF-16 surrogate (U+D800 to U+DFFF). */
  private static boolean isSuspectEscape(byte[] body, int at) {
    if (body[at] != '\\' || at + 5 >= body.length || body[at + 1] != 'u') {
      return false;
    }
    byte first = body[at + 2];
    byte second = body[at + 3];
    boolean nul = first == '0' && second == '0' && body[at + 4] == '0' && body[at + 5] == '0';
    boolean surrogate = (first == 'd' || first == 'D')
        && ((second >= '8' && second <= '9') || (second >= 'a' && second <= 'f') || (second >= 'A' && second <= 'F'));
    return nul || surrogate;
  }

  /** An exponent marker after a digit, followed by a sign or none and at least three digits. */
  private static boolean isLongExponent(byte[] body, int at) {
    if (at == 0 || body[at - 1] < '0' || body[at - 1] > '9') {
      return false;
    }
    int j = at + 1;
    if (j < body.length && (body[j] == '+' || body[j] == '-')) {
      j++;
    }
    int digits = 0;
    while (j < body.length && body[j] >= '0' && body[j] <= '9' && digits < 3) {
      j++;
      digits++;
    }
    return digits == 3;
  }

  private static int[] add(int[] found, int count, int position) {
    int[] grown = count < found.length ? found : Arrays.copyOf(found, Math.max(4, count * 2));
    grown[count] = position;
    return grown;
  }

  private static ObjectNode objectOrNull(JsonNode node) {
    return node instanceof ObjectNode object ? object : null;
  }

  private static String textOrNull(JsonNode node) {
    return node != null && node.isTextual() ? node.asText() : null;
  }

  private static byte[] serialise(JsonNode node) {
    try {
      return WRITER.writeValueAsBytes(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a parsed JSON tree always serialises", e);
    }
  }

  /** {@code "name":"value"} with the value escaped as JSON needs. */
  private static byte[] stringField(String name, String value) {
    return concat(ascii("\"" + name + "\":\""), JsonStringEncoder.getInstance().quoteAsUTF8(value), new byte[] {'"'});
  }

  private static byte[] ascii(String text) {
    return text.getBytes(StandardCharsets.US_ASCII);
  }

  private static byte[] concat(byte[]... parts) {
    int length = 0;
    for (byte[] part : parts) {
      length += part.length;
    }
    byte[] joined = new byte[length];
    int at = 0;
    for (byte[] part : parts) {
      System.arraycopy(part, 0, joined, at, part.length);
      at += part.length;
    }
    return joined;
  }

  private static String name(String where, String field) {
    return where.isEmpty() ? field : where + "." + field;
  }

  private static String abbreviate(String text) {
    return text.length() <= 64 ? text : text.substring(0, 61) + "...";
  }
}
