package eventrouter.ingest;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Parses request bodies. Batches are read as a token stream so that each event's size as sent is known from the
 * parser's byte offsets, without encoding the event again.
 */
public final class RequestParser {
  static final ObjectMapper MAPPER = new ObjectMapper();

  private final int maxBatchEvents;

  public RequestParser(int maxBatchEvents) {
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
