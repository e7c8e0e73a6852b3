package eventrouter.delivery;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/** A destination's optional rate limit in events per second, with one second's worth of burst. Event loop only. */
final class TokenBucket {
  private final double perSecond;
  private final double capacity;
  private final LongSupplier nanoClock;
  private double tokens;
  private long refilledAt;

  /** @param perSecond 0 for no limit */
  TokenBucket(double perSecond, LongSupplier nanoClock) {
    this.perSecond = perSecond;
    this.capacity = Math.max(1, perSecond);
    this.nanoClock = nanoClock;
    this.tokens = capacity;
    this.refilledAt = nanoClock.getAsLong();
  }

  /** @return 0 when {@code n} events may go now (and takes them), else the milliseconds to wait */
  long tryTake(int n) {
    if (perSecond <= 0) {
      return 0;
    }
    long now = nanoClock.getAsLong();
    tokens = Math.min(capacity, tokens + (now - refilledAt) / (double) TimeUnit.SECONDS.toNanos(1) * perSecond);
    refilledAt = now;
    double needed = Math.min(n, capacity);
    if (tokens >= needed) {
      tokens -= n;
      return 0;
    }
    return Math.max(1, (long) Math.ceil((needed - tokens) / perSecond * 1000));
  }
}
