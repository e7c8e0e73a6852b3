package eventrouter.ingest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Parses request bodies. Each event is scanned ({@link EventScan}) in one pass over the body's tokens, which gives its
 * size as sent and the byte ranges the normaliser copies, without building a tree.
 *
 * <p>The scan refuses nothing itself. A body it does not take as it is (malformed JSON, a repeated field name, a
 * non-object event, a limit exceeded) is parsed again into trees, the way every body was before, and that parse
 * accepts it or names the problem exactly as it always did. A repeated name is the one thing that parse accepts and
 * the scan does not: the tree keeps the last value, while copying the bytes would keep both.
 */
public final class RequestParser {
  static final ObjectMapper MAPPER = new ObjectMapper();
  /** The scan's parser: as {@link #MAPPER}'s, and it also reports a repeated field name at any depth. */
  private static final JsonFactory SCANNING = MAPPER.getFactory().copy()
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  private final int maxBatchEvents;

  public RequestParser(int maxBatchEvents) {
    this.maxBatchEvents = maxBatchEvents;
  }

  public ParsedBody parseSingle(byte[] body) {
    try (JsonParser parser = SCANNING.createParser(body)) {
      if (parser.nextToken() == JsonToken.START_OBJECT && inBytes(parser)) {
        // As readTree does, whatever follows the object is not read.
        return ParsedBody.ofScans(body, null, List.of(EventScan.read(parser, body)), new int[] {body.length}, false);
      }
    } catch (IOException notScanned) {
      // the tree parse below names the problem, or accepts the body
    }
    return parseSingleTree(body);
  }

  public ParsedBody parseBatch(byte[] body) {
    ParsedBody scanned = scan(body, false);
    return scanned != null ? scanned : parseTrees(body, false);
  }

  /** A WebSocket frame: a {@code {"batch":[...]}} like a batch request, anything else one event. */
  public ParsedBody parseFrame(byte[] frame) {
    ParsedBody scanned = scan(frame, true);
    return scanned != null ? scanned : parseTrees(frame, true);
  }

  /** @return the scanned body, or null when the tree parse must decide */
  private ParsedBody scan(byte[] body, boolean singleWithoutBatch) {
    try (JsonParser parser = SCANNING.createParser(body)) {
      if (parser.nextToken() != JsonToken.START_OBJECT || !inBytes(parser)) {
        return null;
      }
      if (singleWithoutBatch) {
        EventScan event = EventScan.read(parser, body);
        if (event.kinds[EventScan.BATCH] == EventScan.ABSENT) {
          return parser.nextToken() == null
              ? ParsedBody.ofScans(body, null, List.of(event), new int[] {body.length}, false) : null;
        }
      }
      return singleWithoutBatch ? scanBatch(body) : scanBatch(body, parser);
    } catch (IOException notScanned) {
      return null;
    }
  }

  /** A body in UTF-16 or UTF-32 is read as characters, without the byte offsets the scan copies by. */
  private static boolean inBytes(JsonParser parser) {
    return parser.currentTokenLocation().getByteOffset() >= 0;
  }

  /** A frame that named a batch: read again from its start, as a batch. */
  private ParsedBody scanBatch(byte[] body) throws IOException {
    try (JsonParser parser = SCANNING.createParser(body)) {
      parser.nextToken();
      return scanBatch(body, parser);
    }
  }

  /** The same walk as {@link #parseTrees}, with each event scanned rather than read into a tree. */
  private ParsedBody scanBatch(byte[] body, JsonParser parser) throws IOException {
    ObjectNode envelope = MAPPER.createObjectNode();
    List<EventScan> events = null;
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String name = parser.currentName();
      JsonToken value = parser.nextToken();
      if (!name.equals("batch")) {
        envelope.set(name, MAPPER.readTree(parser));
        continue;
      }
      if (value != JsonToken.START_ARRAY) {
        return null;
      }
      events = new ArrayList<>();
      while (parser.nextToken() != JsonToken.END_ARRAY) {
        if (events.size() == maxBatchEvents || parser.currentToken() != JsonToken.START_OBJECT) {
          return null;
        }
        events.add(EventScan.read(parser, body));
      }
    }
    if (parser.currentToken() != JsonToken.END_OBJECT || parser.nextToken() != null || events == null
        || events.isEmpty()) {
      return null;
    }
    int[] sizes = new int[events.size()];
    for (int i = 0; i < sizes.length; i++) {
      sizes[i] = events.get(i).end() - events.get(i).start;
    }
    return ParsedBody.ofScans(body, envelope, events, sizes, true);
  }

  private ParsedBody parseSingleTree(byte[] body) {
    JsonNode root;
    try {
      root = MAPPER.readTree(body);
    } catch (IOException e) {
      throw malformed(e);
    }
    if (!(root instanceof ObjectNode event)) {
      throw IngestException.badRequest("body must be a JSON object holding one event");
    }
    return ParsedBody.ofTrees(body, event, List.of(event), new int[] {0}, new int[] {body.length}, false);
  }

  private ParsedBody parseTrees(byte[] body, boolean singleWithoutBatch) {
    ObjectNode envelope = MAPPER.createObjectNode();
    List<JsonNode> events = null;
    int[] starts = null;
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
        int[] foundStarts = new int[16];
        int[] found = new int[16];
        while (parser.nextToken() != JsonToken.END_ARRAY) {
          int index = events.size();
          if (index == maxBatchEvents) {
            throw IngestException.tooLarge("batch holds more than " + maxBatchEvents + " events, the limit per request;"
                + " split it into smaller batches");
          }
          // An item that is not an object is kept as it is: it is rejected alone (ParsedBody.event says why).
          long start = parser.currentTokenLocation().getByteOffset();
          JsonNode item = MAPPER.readTree(parser);
          events.add(item == null ? NullNode.getInstance() : item);
          long end = parser.currentLocation().getByteOffset();
          if (index == found.length) {
            found = Arrays.copyOf(found, found.length * 2);
            foundStarts = Arrays.copyOf(foundStarts, foundStarts.length * 2);
          }
          foundStarts[index] = (int) start;
          found[index] = (int) (end - start);
        }
        starts = Arrays.copyOf(foundStarts, events.size());
        sizes = Arrays.copyOf(found, events.size());
      }
      if (parser.currentToken() != JsonToken.END_OBJECT || parser.nextToken() != null) {
        throw IngestException.badRequest("body is not valid JSON: unexpected content after the top-level object");
      }
    } catch (IOException e) {
      throw malformed(e);
    }
    if (events == null && singleWithoutBatch) {
      return ParsedBody.ofTrees(body, envelope, List.of(envelope), new int[] {0}, new int[] {body.length}, false);
    }
    if (events == null) {
      throw IngestException.badRequest("batch is required: a batch request must hold a batch array of events");
    }
    if (events.isEmpty()) {
      throw IngestException.badRequest("batch is empty: it must hold at least 1 event");
    }
    return ParsedBody.ofTrees(body, envelope, events, starts, sizes, true);
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
