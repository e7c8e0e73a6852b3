package eventrouter.delivery;

import eventrouter.config.DestinationConfig.Stream;
import io.vertx.core.Promise;
import java.time.Instant;

/**
 * One event (or signal) on its way to one destination. Lives on the delivery verticle's event loop only. A delivery
 * read from the log carries {@link #settled}, which completes once it is delivered, parked in the retry store or a
 * dead letter: that is when its log offset may be committed. A delivery claimed from the retry store has a
 * {@link #retryId}.
 */
final class Delivery {
  final String destination;
  final String messageId;
  final Stream stream;
  final String userId;
  final String anonymousId;
  /** The ordering unit: userId, else anonymousId (the log's partitioning key). */
  final String userKey;
  /** The body, as JSON text, already shaped by the destination's payload. */
  final String payload;
  final Instant receivedAt;
  /** When the router first took this delivery; the retry deadline counts from here. */
  final Instant createdAt;
  /** Arrival order, for ordered destinations. */
  final long seq;
  final Promise<Void> settled = Promise.promise();
  Long retryId;
  int attempts;
  Instant firstAttemptAt;
  Instant lastAttemptAt;
  int lastStatus;
  String lastError;
  /** When it joined the ready queue, for batching. */
  long readyAtNanos;

  Delivery(String destination, String messageId, Stream stream, String userId, String anonymousId, String payload,
      Instant receivedAt, Instant createdAt, long seq) {
    this.destination = destination;
    this.messageId = messageId;
    this.stream = stream;
    this.userId = userId;
    this.anonymousId = anonymousId;
    this.userKey = userId != null ? userId : anonymousId;
    this.payload = payload;
    this.receivedAt = receivedAt;
    this.createdAt = createdAt;
    this.seq = seq;
  }

  /** The receiver deduplicates on this: the same for every attempt, across restarts and replays. */
  String idempotencyKey() {
    return messageId + ":" + destination;
  }

  void recordAttempt(Instant at) {
    attempts++;
    if (firstAttemptAt == null) {
      firstAttemptAt = at;
    }
    lastAttemptAt = at;
  }

  void recordFailure(int status, String error) {
    lastStatus = status;
    lastError = error;
  }
}
