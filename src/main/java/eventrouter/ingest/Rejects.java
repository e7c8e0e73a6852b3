package eventrouter.ingest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import eventrouter.log.EventLog;
import eventrouter.log.LogRecord;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Events refused on their own, kept rather than dropped: each goes, with its reason and its bytes as sent, to the
 * rejects topic, which the warehouse writes to {@code ingest_rejects}. A request is answered only once its rejects are
 * as durable as its events. Shared by every ingest instance of a node.
 */
public final class Rejects {
  private final EventLog log;
  private final MeterRegistry registry;
  private final ConcurrentHashMap<String, Counter> counters = new ConcurrentHashMap<>();

  public Rejects(EventLog log, MeterRegistry registry) {
    this.log = log;
    this.registry = registry;
  }

  /**
   * One refused event, with its log record.
   *
   * @param endpoint the path it came to, or {@code /v1/stream}
   * @param outcome its refusal; its place in a batch is kept, and null for a single event
   */
  Reject reject(String sourceId, Instant receivedAt, String endpoint, ParsedBody body, EventNormalizer.Outcome outcome) {
    Integer index = body.batch() ? outcome.index() : null;
    String messageId = outcome.messageId();
    IngestException error = outcome.error();
    byte[] raw = body.raw(outcome.index());
    String rejectId = UUID.randomUUID().toString();
    ObjectNode json = RequestParser.MAPPER.createObjectNode()
        .put("rejectId", rejectId)
        .put("sourceId", sourceId)
        .put("receivedAt", IsoTimes.format(receivedAt))
        .put("endpoint", storable(endpoint))
        .put("index", index)
        .put("messageId", storable(messageId))
        .put("status", error.status())
        .put("reason", error.reason())
        .put("error", storable(error.getMessage()))
        // Malformed UTF-8 becomes U+FFFD here: what is kept is as close to the bytes as text can be.
        .put("raw", storable(new String(raw, StandardCharsets.UTF_8)));
    try {
      return new Reject(new LogRecord(sourceId, rejectId, RequestParser.MAPPER.writeValueAsBytes(json)), sourceId,
          index, messageId, error);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree always serialises", e);
    }
  }

  /**
   * The text with what Postgres cannot store written out as its JSON escape: U+0000 (a NUL byte as sent, or a field
   * name's in an error message) and a UTF-16 surrogate without its pair become six characters, a backslash, {@code u}
   * and four hex digits, so that a refused event is kept however broken it was.
   */
  static String storable(String text) {
    int at = text == null ? -1 : EventNormalizer.firstUnstorable(text, 0);
    if (at < 0) {
      return text;
    }
    StringBuilder out = new StringBuilder(text.length() + 8);
    int from = 0;
    for (; at >= 0; at = EventNormalizer.firstUnstorable(text, from)) {
      out.append(text, from, at).append(String.format("\\u%04x", (int) text.charAt(at)));
      from = at + 1;
    }
    return out.append(text, from, text.length()).toString();
  }


  /** Appends the rejects and, once Kafka has them, counts them by source and reason. */
  Future<Void> append(Context context, List<Reject> rejects) {
    return log.append(context, rejects.stream().map(Reject::record).toList()).onSuccess(v -> {
      for (Reject reject : rejects) {
        String reason = reject.error().reason();
        counters.computeIfAbsent(reject.sourceId() + '\0' + reason, key -> Counter.builder("router.ingest.rejected")
                .description("events refused on their own and kept in ingest_rejects")
                .tag("source", reject.sourceId()).tag("reason", reason).register(registry))
            .increment();
      }
    });
  }

  /** A refused event: its log record, and what its answer names. */
  record Reject(LogRecord record, String sourceId, Integer index, String messageId, IngestException error) {
    /** As a client is told of it: {@code {index, messageId, reason, error}}. */
    JsonObject toJson() {
      return new JsonObject().put("index", index).put("messageId", messageId).put("reason", error.reason())
          .put("error", error.getMessage());
    }
  }
}
