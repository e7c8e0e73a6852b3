package eventrouter.ingest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;

/**
 * A request body split into its events. An event is either scanned ({@link EventScan}: its fields' byte ranges, for
 * the normaliser's fast path) or a tree; a scanned event becomes a tree only when something asks for one.
 */
public final class ParsedBody {
  private final byte[] bytes;
  private final ObjectNode envelope;
  private final List<EventScan> scans;
  /** The events read as trees; in a batch, an item that is not an object stays as it was sent, to be rejected. */
  private final JsonNode[] trees;
  private final int[] eventStarts;
  private final int[] eventSizes;
  private final boolean batch;

  private ParsedBody(byte[] bytes, ObjectNode envelope, List<EventScan> scans, JsonNode[] trees, int[] eventStarts,
      int[] eventSizes, boolean batch) {
    this.bytes = bytes;
    this.envelope = envelope;
    this.scans = scans;
    this.trees = trees;
    this.eventStarts = eventStarts;
    this.eventSizes = eventSizes;
    this.batch = batch;
  }

  /**
   * A body read into trees, as every body was before the fast path.
   *
   * @param events the batch's items (any JSON value) or the single event
   * @param eventStarts where each item starts in {@code bytes}
   */
  static ParsedBody ofTrees(byte[] bytes, ObjectNode envelope, List<JsonNode> events, int[] eventStarts,
      int[] eventSizes, boolean batch) {
    return new ParsedBody(bytes, envelope, null, events.toArray(JsonNode[]::new), eventStarts, eventSizes, batch);
  }

  /** @param envelope the batch's own fields, or null for a single event */
  static ParsedBody ofScans(byte[] bytes, ObjectNode envelope, List<EventScan> scans, int[] eventSizes,
      boolean batch) {
    return new ParsedBody(bytes, envelope, scans, new JsonNode[scans.size()], null, eventSizes, batch);
  }

  /**
   * The batch's own fields ({@code context}, {@code integrations}, {@code sentAt}, {@code writeKey}); for a
   * single-event request, the event itself.
   */
  public ObjectNode envelope() {
    return envelope != null ? envelope : event(0);
  }

  /** The number of events. */
  public int size() {
    return trees.length;
  }

  /**
   * The event as a tree. A scanned event is parsed from its bytes the first time.
   *
   * @throws IngestException for a batch item that is not a JSON object
   */
  public ObjectNode event(int index) {
    if (trees[index] == null) {
      EventScan scan = scans.get(index);
      try {
        trees[index] = RequestParser.MAPPER.readTree(bytes, scan.start, scan.end() - scan.start);
      } catch (IOException e) {
        // The scan passes over the strings it copies without decoding them; decoding may find what it did not.
        throw IngestException.invalidEvent("malformed_json", (batch ? "batch[" + index + "]" : "the event")
            + " is not valid JSON: " + (e instanceof JsonProcessingException json ? json.getOriginalMessage()
            : e.getMessage()));
      }
    }
    if (!(trees[index] instanceof ObjectNode event)) {
      throw IngestException.invalidEvent("not_an_object", "batch[" + index + "] must be a JSON object");
    }
    return event;
  }

  /** The event's bytes as sent (after any gzip), for a reject. */
  public byte[] raw(int index) {
    if (!batch) {
      return bytes;
    }
    int start = scans != null ? scans.get(index).start : eventStarts[index];
    // A body in UTF-16 or UTF-32 has no byte offsets (RequestParser.inBytes): then the whole body stands for it.
    return start < 0 ? bytes : Arrays.copyOfRange(bytes, start, start + eventSizes[index]);
  }

  /** @return the event's scan, or null when the body was read into trees (or the event was made one) */
  EventScan scan(int index) {
    return scans == null || trees[index] != null ? null : scans.get(index);
  }

  /** Each event's size in bytes as sent, for the per-event limit. */
  public int eventSize(int index) {
    return eventSizes[index];
  }

  /** Whether the events came in a {@code batch} array, which decides how errors name them. */
  public boolean batch() {
    return batch;
  }

  byte[] bytes() {
    return bytes;
  }

  /** The body's {@code writeKey} (the batch's, or the single event's) when it is a string, else null. */
  public String writeKey() {
    if (envelope == null && scans != null && trees[0] == null) {
      EventScan scan = scans.get(0);
      return scan.kinds[EventScan.WRITE_KEY] == EventScan.STRING ? scan.texts[EventScan.WRITE_KEY] : null;
    }
    JsonNode key = envelope().get("writeKey");
    return key != null && key.isTextual() ? key.asText() : null;
  }
}
