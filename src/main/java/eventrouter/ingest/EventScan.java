package eventrouter.ingest;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.base.ParserBase;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * One event as the fast path reads it: a single pass over its tokens that keeps the byte ranges of its top-level
 * fields and the text of the few the router reads, without building a tree or decoding the values it only copies
 * (properties, traits, most of context).
 */
final class EventScan {
  // The top-level fields the router reads, replaces or removes. Everything else is copied as sent.
  static final int OTHER = 0;
  static final int TYPE = 1;
  static final int USER_ID = 2;
  static final int ANONYMOUS_ID = 3;
  static final int MESSAGE_ID = 4;
  static final int EVENT = 5;
  static final int GROUP_ID = 6;
  static final int PREVIOUS_ID = 7;
  static final int ORIGINAL_TIMESTAMP = 8;
  static final int TIMESTAMP = 9;
  static final int SENT_AT = 10;
  static final int RECEIVED_AT = 11;
  static final int CONTEXT = 12;
  static final int PROPERTIES = 13;
  static final int TRAITS = 14;
  static final int INTEGRATIONS = 15;
  static final int WRITE_KEY = 16;
  static final int SOURCE_ID = 17;
  static final int BATCH = 18;
  static final int SLOTS = 19;

  private static final boolean CHEAP_OFFSETS = cheapOffsetsWork();

  // What a field's value is.
  static final byte ABSENT = 0;
  static final byte NULL = 1;
  static final byte STRING = 2;
  static final byte OBJECT = 3;
  /** A number, boolean or array: never what the fast path accepts for a field it reads. */
  static final byte OTHER_VALUE = 4;

  /** The offset of the event's opening brace. */
  final int start;
  /** The offset of the event's closing brace. */
  int close;
  final byte[] kinds = new byte[SLOTS];
  /** The value of each string field the router reads. */
  final String[] texts = new String[SLOTS];
  /** Where each known field starts (its name's opening quote) and where the next field starts (or the closing brace). */
  final int[] fieldStarts = new int[SLOTS];
  final int[] fieldEnds = new int[SLOTS];
  /** A known field that appears twice: the tree decides which one counts. */
  boolean repeated;
  /** The offsets of context's and integrations' braces, when they are objects. */
  int contextOpen;
  int contextClose;
  int integrationsOpen;
  int integrationsClose;
  boolean contextHasFields;
  /** context.ip: ABSENT, NULL, or STRING for any other value. */
  byte contextIp;

  private EventScan(int start) {
    this.start = start;
  }

  int end() {
    return close + 1;
  }

  /**
   * Reads the object the parser is at the start of, up to and including its closing brace.
   *
   * @param parser a parser over the whole of {@code body}, so that its byte offsets are offsets into it
   */
  static EventScan read(JsonParser parser, byte[] body) throws IOException {
    EventScan scan = new EventScan(offset(parser));
    int previous = -1;
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      int slot = slotOf(parser.currentName());
      JsonToken value = parser.nextToken();
      if (slot == OTHER && previous < 0) {
        parser.skipChildren();
        continue;
      }
      int nameAt = nameStart(parser, body);
      if (previous >= 0) {
        scan.fieldEnds[previous] = nameAt;
      }
      if (slot == OTHER) {
        parser.skipChildren();
        previous = -1;
        continue;
      }
      if (scan.kinds[slot] != ABSENT) {
        scan.repeated = true;
      }
      scan.fieldStarts[slot] = nameAt;
      previous = slot;
      switch (value) {
        case VALUE_NULL -> scan.kinds[slot] = NULL;
        case VALUE_STRING -> {
          scan.kinds[slot] = STRING;
          if (slot <= SENT_AT || slot == WRITE_KEY) {
            scan.texts[slot] = parser.getText();
          }
        }
        case START_OBJECT -> {
          scan.kinds[slot] = OBJECT;
          if (slot == CONTEXT) {
            scan.readContext(parser);
          } else if (slot == INTEGRATIONS) {
            scan.integrationsOpen = offset(parser);
            parser.skipChildren();
            scan.integrationsClose = offset(parser);
          } else {
            parser.skipChildren();
          }
        }
        default -> {
          scan.kinds[slot] = OTHER_VALUE;
          parser.skipChildren();
        }
      }
    }
    scan.close = offset(parser);
    if (previous >= 0) {
      scan.fieldEnds[previous] = scan.close;
    }
    return scan;
  }

  /** Context's own fields: only whether it has any and what its ip is; the rest is copied as sent. */
  private void readContext(JsonParser parser) throws IOException {
    contextOpen = offset(parser);
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      contextHasFields = true;
      boolean ip = "ip".equals(parser.currentName());
      JsonToken value = parser.nextToken();
      if (ip) {
        contextIp = value == JsonToken.VALUE_NULL ? NULL : STRING;
      }
      parser.skipChildren();
    }
    contextClose = offset(parser);
  }

  /** Whether locations come without objects here (see {@link #cheapOffsetsWork}); for tests. */
  static boolean cheapOffsets() {
    return CHEAP_OFFSETS;
  }

  /** The byte offset of the token the parser is at, which is not a field name. */
  private static int offset(JsonParser parser) {
    return CHEAP_OFFSETS ? (int) ((ParserBase) parser).getTokenCharacterOffset() - 1
        : (int) parser.currentTokenLocation().getByteOffset();
  }

  /**
   * The offset of the opening quote of the name of the value the parser is at. Asking the parser for a token's
   * location costs an object each time, and the scan asks for nearly every field; so it is found from the value's
   * offset instead, back over the colon to the name's closing quote, then to the first quote before it that is not
   * escaped (one with an even number of backslashes before it: the raw text of a name holds no other).
   */
  private static int nameStart(JsonParser parser, byte[] body) throws IOException {
    int at = offset(parser) - 1;
    while (at >= 0 && isWhitespace(body[at])) {
      at--;
    }
    if (at < 0 || body[at--] != ':') {
      throw new JsonParseException(parser, "no colon before the value");
    }
    while (at >= 0 && isWhitespace(body[at])) {
      at--;
    }
    if (at < 0 || body[at--] != '"') {
      throw new JsonParseException(parser, "no name before the value");
    }
    for (; at >= 0; at--) {
      if (body[at] == '"') {
        int backslashes = 0;
        while (at - backslashes - 1 >= 0 && body[at - backslashes - 1] == '\\') {
          backslashes++;
        }
        if (backslashes % 2 == 0) {
          return at;
        }
      }
    }
    throw new JsonParseException(parser, "no opening quote for the name");
  }

  private static boolean isWhitespace(byte b) {
    return b == ' ' || b == '\n' || b == '\r' || b == '\t';
  }

  /**
   * Whether this Jackson's parser gives a token's byte offset as {@code getTokenCharacterOffset() - 1} without an
   * object, and {@link #nameStart} finds each name where the parser says it is: checked once, on a sample with every
   * kind of token, names with escapes and odd spacing. When not, the scan asks the parser for each location.
   */
  private static boolean cheapOffsetsWork() {
    byte[] sample = (" {\"a\" : \"x\\\"y\", \"b\\\"\\\\\":{\"c\":[1, -2.5e3, true,false, null, {}, []]},"
        + "\n\t\"d\"\r: \"\"  ,\"\":{\"\\u0065\":12}} ").getBytes(StandardCharsets.UTF_8);
    try (JsonParser parser = RequestParser.MAPPER.getFactory().createParser(sample)) {
      if (!(parser instanceof ParserBase base)) {
        return false;
      }
      long nameAt = -1;
      for (JsonToken token = parser.nextToken(); token != null; token = parser.nextToken()) {
        long expected = parser.currentTokenLocation().getByteOffset();
        if (token == JsonToken.FIELD_NAME) {
          nameAt = expected;
          continue;
        }
        if (base.getTokenCharacterOffset() - 1 != expected) {
          return false;
        }
        if (nameAt >= 0) {
          if (nameStart(parser, sample) != nameAt) {
            return false;
          }
          nameAt = -1;
        }
      }
      return true;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  static int slotOf(String name) {
    return switch (name) {
      case "type" -> TYPE;
      case "userId" -> USER_ID;
      case "anonymousId" -> ANONYMOUS_ID;
      case "messageId" -> MESSAGE_ID;
      case "event" -> EVENT;
      case "groupId" -> GROUP_ID;
      case "previousId" -> PREVIOUS_ID;
      case "originalTimestamp" -> ORIGINAL_TIMESTAMP;
      case "timestamp" -> TIMESTAMP;
      case "sentAt" -> SENT_AT;
      case "receivedAt" -> RECEIVED_AT;
      case "context" -> CONTEXT;
      case "properties" -> PROPERTIES;
      case "traits" -> TRAITS;
      case "integrations" -> INTEGRATIONS;
      case "writeKey" -> WRITE_KEY;
      case "sourceId" -> SOURCE_ID;
      case "batch" -> BATCH;
      default -> OTHER;
    };
  }
}
