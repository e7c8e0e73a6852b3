package eventrouter.delivery;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;

/**
 * The few top-level fields delivery needs from a log record, read by streaming over it: nested objects
 * ({@code properties}, {@code context}) are skipped, not built. A destination without filter or payload expressions
 * sends the record's bytes as they are, so it never needs more than this.
 */
record EventHead(String messageId, String userId, String anonymousId, String receivedAt) {
  private static final JsonFactory JSON = new JsonFactory();

  /** @throws IOException when the record is not a JSON object */
  static EventHead read(String json) throws IOException {
    String messageId = null;
    String userId = null;
    String anonymousId = null;
    String receivedAt = null;
    try (JsonParser parser = JSON.createParser(json)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException("a log record must be a JSON object");
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        if (value.isStructStart()) {
          parser.skipChildren();
          continue;
        }
        String text = value == JsonToken.VALUE_NULL ? null : parser.getText();
        switch (field) {
          case "messageId" -> messageId = text;
          case "userId" -> userId = text;
          case "anonymousId" -> anonymousId = text;
          case "receivedAt" -> receivedAt = text;
          default -> {
            // not needed for delivery
          }
        }
      }
      if (parser.currentToken() != JsonToken.END_OBJECT) {
        throw new IOException("a log record must be a JSON object");
      }
    }
    return new EventHead(messageId, userId, anonymousId, receivedAt);
  }
}
