package eventrouter.delivery;

import eventrouter.config.DestinationConfig.DeliveryPolicy;
import java.time.Duration;
import java.time.Instant;

/**
 * What happens after a retryable failure: another attempt after {@code min(max, base·2^(n-1))} less up to
 * {@code jitter} of it (or after the destination's {@code Retry-After}), unless that would pass the attempt limit or
 * the deadline, in which case the delivery becomes a dead letter now. Plain Java with the clock passed in.
 */
final class Backoff {
  private Backoff() {
  }

  /** Retry after {@code delayMs}, or a dead letter for {@code reason}. */
  record Decision(boolean deadLetter, long delayMs, String reason) {
  }

  /** @param random in [0, 1) */
  static long delayMs(DeliveryPolicy policy, int attempt, double random) {
    double exponential = policy.backoffBaseMs() * Math.pow(2, Math.min(Math.max(attempt, 1) - 1, 30));
    long capped = (long) Math.min(policy.backoffMaxMs(), exponential);
    return capped - (long) (capped * policy.jitter() * random);
  }

  /**
   * @param attempts attempts made so far, the failed one included
   * @param retryAfterMs the destination's Retry-After, or -1
   */
  static Decision afterFailure(DeliveryPolicy policy, int attempts, Instant createdAt, Instant now, long retryAfterMs,
      double random) {
    if (attempts >= policy.maxAttempts()) {
      return new Decision(true, 0, "gave up after " + attempts + " attempts (maxAttempts " + policy.maxAttempts()
          + ")");
    }
    long delay = retryAfterMs >= 0 ? retryAfterMs : delayMs(policy, attempts, random);
    Instant deadline = createdAt.plusMillis(policy.retryDeadlineMs());
    if (now.plusMillis(delay).isAfter(deadline)) {
      return new Decision(true, 0, "the next attempt, in " + delay + " ms, would pass the retry deadline of "
          + policy.retryDeadlineMs() + " ms (" + Duration.between(createdAt, now).toMillis() + " ms spent)");
    }
    return new Decision(false, delay, null);
  }
}
