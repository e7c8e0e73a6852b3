package eventrouter.log;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeader;

/**
 * What a stage that only routes needs of a log record, written into the record's headers at ingest (and for
 * signals), so that such a stage never parses the event. A record written before the headers existed has its head
 * read by streaming over its top-level fields instead, nested objects skipped, not built.
 */
public record RecordHead(String messageId, String type, String userId, String anonymousId, String receivedAt) {
  private static final JsonFactory JSON = new JsonFactory();
  private static final String MESSAGE_ID = "messageId";
  private static final String TYPE = "type";
  private static final String USER_ID = "userId";
  private static final String ANONYMOUS_ID = "anonymousId";
  private static final String RECEIVED_AT = "receivedAt";

  /** As record headers; an absent id is a header without a value. */
  Header[] toHeaders() {
    return new Header[] {header(MESSAGE_ID, messageId), header(TYPE, type), header(USER_ID, userId),
        header(ANONYMOUS_ID, anonymousId), header(RECEIVED_AT, receivedAt)};
  }

  /** The record's head: from its headers, or read from its value when it has none. */
  public static RecordHead of(Headers headers, String value) throws IOException {
    Header messageId = headers.lastHeader(MESSAGE_ID);
    if (messageId == null) {
      return read(value);
    }
    return new RecordHead(text(messageId), text(headers.lastHeader(TYPE)), text(headers.lastHeader(USER_ID)),
        text(headers.lastHeader(ANONYMOUS_ID)), text(headers.lastHeader(RECEIVED_AT)));
  }

  /** @throws IOException when the record is not a JSON object */
  public static RecordHead read(String json) throws IOException {
    String messageId = null;
    String type = null;
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
          case MESSAGE_ID -> messageId = text;
          case TYPE -> type = text;
          case USER_ID -> userId = text;
          case ANONYMOUS_ID -> anonymousId = text;
          case RECEIVED_AT -> receivedAt = text;
          default -> {
            // not part of the head
          }
        }
      }
      if (parser.currentToken() != JsonToken.END_OBJECT) {
        throw new IOException("a log record must be a JSON object");
      }
    }
    return new RecordHead(messageId, type, userId, anonymousId, receivedAt);
  }

  private static Header header(String name, String value) {
    return new RecordHeader(name, value == null ? null : value.getBytes(StandardCharsets.UTF_8));
  }

  private static String text(Header header) {
    return header == null || header.value() == null ? null : new String(header.value(), StandardCharsets.UTF_8);
  }
}
