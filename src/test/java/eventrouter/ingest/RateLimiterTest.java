package eventrouter.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;

import eventrouter.config.RouterConfig.RateLimit;
import eventrouter.config.RouterConfig.SourceConfig;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class RateLimiterTest {
  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final RateLimiter limiter = new RateLimiter(now::get);
  private final SourceConfig source = new SourceConfig("s", "k", new RateLimit(10, 20));

  private void advanceMillis(long millis) {
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(millis));
  }

  @Test
  @DisplayName("a full bucket admits its burst, then refills at the configured rate")
  void burstThenRefill() {
    assertEquals(0, limiter.tryAcquire(source, 20));
    assertEquals(1, limiter.tryAcquire(source, 1), "empty: wait about a tenth of a second, rounded up to 1 s");
    advanceMillis(500);
    assertEquals(0, limiter.tryAcquire(source, 5), "half a second refilled 5 tokens");
    assertEquals(1, limiter.tryAcquire(source, 1));
  }

  @Test
  @DisplayName("a batch larger than the bucket passes when the bucket is full and leaves a debt to wait out")
  void largeBatchGoesIntoDebt() {
    assertEquals(0, limiter.tryAcquire(source, 50));
    assertEquals(5, limiter.tryAcquire(source, 20), "30 tokens of debt plus 20 needed at 10/s");
    advanceMillis(5_000);
    assertEquals(0, limiter.tryAcquire(source, 20));
  }

  @Test
  @DisplayName("a source without a limit is never refused")
  void off() {
    SourceConfig free = new SourceConfig("free", "k2", RateLimit.OFF);
    for (int i = 0; i < 1_000; i++) {
      assertEquals(0, limiter.tryAcquire(free, 2_500));
    }
  }
}
