package eventrouter.ingest;

import eventrouter.config.RouterConfig.RateLimit;
import eventrouter.config.RouterConfig.SourceConfig;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * A token bucket of events per source, shared by every ingest instance of this node. A request needs as many tokens
 * as it has events; a batch larger than the bucket is admitted when the bucket is full and leaves it in debt, so
 * the average rate holds without refusing large batches forever.
 */
public final class RateLimiter {
  private final LongSupplier nanoClock;
  private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();

  public RateLimiter(LongSupplier nanoClock) {
    this.nanoClock = nanoClock;
  }

  /** @return 0 when the events are admitted, otherwise the whole seconds to wait before retrying */
  public long tryAcquire(SourceConfig source, int events) {
    RateLimit limit = source.rateLimit();
    if (!limit.enabled()) {
      return 0;
    }
    Bucket bucket = buckets.computeIfAbsent(source.id(), id -> new Bucket(limit.capacity(), nanoClock.getAsLong()));
    return bucket.tryTake(events, limit, nanoClock.getAsLong());
  }

  private static final class Bucket {
    private double tokens;
    private long refilledAt;

    Bucket(double tokens, long now) {
      this.tokens = tokens;
      this.refilledAt = now;
    }

    synchronized long tryTake(int events, RateLimit limit, long now) {
      double elapsedSeconds = (now - refilledAt) / (double) TimeUnit.SECONDS.toNanos(1);
      tokens = Math.min(limit.capacity(), tokens + elapsedSeconds * limit.eventsPerSecond());
      refilledAt = now;
      double needed = Math.min(events, limit.capacity());
      if (tokens >= needed) {
        tokens -= events;
        return 0;
      }
      return Math.max(1, (long) Math.ceil((needed - tokens) / limit.eventsPerSecond()));
    }
  }
}
