package eventrouter.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.config.DestinationConfig.CircuitPolicy;
import eventrouter.config.DestinationConfig.DeliveryPolicy;
import java.time.Instant;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class BackoffTest {
  private static DeliveryPolicy policy(int maxAttempts, long deadlineMs, double jitter) {
    return new DeliveryPolicy(1000, 4, maxAttempts, deadlineMs, 100, 1000, jitter, 0, false, 100,
        new CircuitPolicy(50, 20, 30_000, 5_000, 5_000, 60_000, 10));
  }

  @Test
  @DisplayName("the delay is min(max, base·2^(n-1)), less up to the jitter share")
  void exponentialCappedWithJitter() {
    DeliveryPolicy noJitter = policy(10, 60_000, 0);
    assertEquals(100, Backoff.delayMs(noJitter, 1, 0.7));
    assertEquals(200, Backoff.delayMs(noJitter, 2, 0.7));
    assertEquals(400, Backoff.delayMs(noJitter, 3, 0.7));
    assertEquals(800, Backoff.delayMs(noJitter, 4, 0.7));
    assertEquals(1000, Backoff.delayMs(noJitter, 5, 0.7));
    assertEquals(1000, Backoff.delayMs(noJitter, 500, 0.7));
    DeliveryPolicy jitter = policy(10, 60_000, 0.2);
    assertEquals(400, Backoff.delayMs(jitter, 3, 0));
    assertEquals(320, Backoff.delayMs(jitter, 3, 1.0));
  }

  @Test
  @DisplayName("retries stop at the attempt limit and before the deadline; Retry-After replaces the backoff")
  void boundedByAttemptsAndDeadline() {
    Instant created = Instant.parse("2026-01-01T00:00:00Z");
    DeliveryPolicy policy = policy(3, 1_000, 0);
    Backoff.Decision second = Backoff.afterFailure(policy, 1, created, created.plusMillis(10), -1, 0.5);
    assertFalse(second.deadLetter());
    assertEquals(100, second.delayMs());
    Backoff.Decision limit = Backoff.afterFailure(policy, 3, created, created.plusMillis(10), -1, 0.5);
    assertTrue(limit.deadLetter());
    assertTrue(limit.reason().contains("3 attempts"), limit.reason());
    Backoff.Decision late = Backoff.afterFailure(policy, 2, created, created.plusMillis(900), -1, 0.5);
    assertTrue(late.deadLetter(), "200 ms from 900 ms passes the 1000 ms deadline");
    assertTrue(late.reason().contains("retry deadline of 1000 ms"), late.reason());
    Backoff.Decision retryAfter = Backoff.afterFailure(policy(10, 60_000, 0.2), 1, created, created, 5_000, 0.5);
    assertEquals(5_000, retryAfter.delayMs());
  }
}
