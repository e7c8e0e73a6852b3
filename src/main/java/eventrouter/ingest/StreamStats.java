package eventrouter.ingest;

import io.vertx.core.json.JsonObject;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Open WebSockets across the ingest instances of a node: the per-write-key connection limit, and what operators see
 * at {@code GET /admin/streams}.
 */
public final class StreamStats {
  private final ConcurrentHashMap<String, AtomicInteger> openBySource = new ConcurrentHashMap<>();
  private final AtomicLong mostUnacked = new AtomicLong();
  private final AtomicLong pushed = new AtomicLong();
  private final AtomicLong pushesDropped = new AtomicLong();

  /** Takes a connection slot for the source, or refuses when it already holds {@code limit}. */
  boolean tryOpen(String sourceId, int limit) {
    AtomicInteger open = openBySource.computeIfAbsent(sourceId, id -> new AtomicInteger());
    if (open.incrementAndGet() > limit) {
      open.decrementAndGet();
      return false;
    }
    return true;
  }

  void closed(String sourceId) {
    openBySource.get(sourceId).decrementAndGet();
  }

  void unacked(int count) {
    mostUnacked.accumulateAndGet(count, Math::max);
  }

  void pushed(boolean delivered) {
    (delivered ? pushed : pushesDropped).incrementAndGet();
  }

  public JsonObject toJson() {
    JsonObject bySource = new JsonObject();
    openBySource.forEach((source, open) -> bySource.put(source, open.get()));
    return new JsonObject()
        .put("openBySource", bySource)
        .put("mostUnackedSeen", mostUnacked.get())
        .put("framesPushed", pushed.get())
        .put("framesDroppedSlowSocket", pushesDropped.get());
  }
}
