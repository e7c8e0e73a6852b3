package eventrouter.ingest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import java.util.Base64;
import java.util.Map;

/** The event of a pixel request: its query string, read as rudder-server's pixel endpoints read it. */
final class PixelEvents {
  /** A transparent 1×1 GIF. */
  static final Buffer GIF = Buffer.buffer(Base64.getDecoder().decode(
      "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"));

  private PixelEvents() {
  }

  /**
   * One JSON object from the parameters: {@code a.b=c} becomes {@code {"a":{"b":"c"}}}; every value stays a string
   * (the query string has no types); a repeated name keeps its last value.
   *
   * @param writeKeyParam the credential's name, left out of the event
   */
  static byte[] fromQuery(MultiMap params, String writeKeyParam) {
    ObjectNode event = RequestParser.MAPPER.createObjectNode();
    for (Map.Entry<String, String> param : params) {
      if (param.getKey().equals(writeKeyParam) || param.getKey().isEmpty()) {
        continue;
      }
      String[] path = param.getKey().split("\\.", -1);
      ObjectNode parent = event;
      for (int i = 0; i < path.length - 1; i++) {
        JsonNode child = parent.get(path[i]);
        parent = child instanceof ObjectNode object ? object : parent.putObject(path[i]);
      }
      parent.put(path[path.length - 1], param.getValue());
    }
    try {
      return RequestParser.MAPPER.writeValueAsBytes(event);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree always serialises", e);
    }
  }
}
