package eventrouter.log;

import io.vertx.core.Future;
import io.vertx.kafka.client.common.TopicPartition;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import io.vertx.kafka.client.consumer.OffsetAndMetadata;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * Which offsets a consumer may commit while its records finish out of order (users, or destinations, processed
 * concurrently): per partition, up to the oldest record still in flight, so that a crash never skips unfinished
 * work. Used from one event loop.
 */
public final class OffsetTracker {
  private final Map<TopicPartition, TreeSet<Long>> inFlight = new HashMap<>();
  private final Map<TopicPartition, Long> nextAfterSeen = new HashMap<>();
  private final Map<TopicPartition, Long> committed = new HashMap<>();
  private int inFlightCount;

  public void started(TopicPartition partition, long offset) {
    inFlight.computeIfAbsent(partition, p -> new TreeSet<>()).add(offset);
    nextAfterSeen.merge(partition, offset + 1, Math::max);
    inFlightCount++;
  }

  public void finished(TopicPartition partition, long offset) {
    TreeSet<Long> offsets = inFlight.get(partition);
    if (offsets != null && offsets.remove(offset)) {
      inFlightCount--;
    }
  }

  public int inFlight() {
    return inFlightCount;
  }

  /**
   * Offsets that moved since the last successful commit: each partition's oldest unfinished record, or past its
   * newest. Pass them to {@link #committed} once Kafka has taken them, so a failed commit is tried again.
   */
  public Map<TopicPartition, OffsetAndMetadata> committable() {
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    nextAfterSeen.forEach((partition, next) -> {
      TreeSet<Long> pending = inFlight.get(partition);
      long safe = pending == null || pending.isEmpty() ? next : pending.first();
      if (safe > committed.getOrDefault(partition, -1L)) {
        offsets.put(partition, new OffsetAndMetadata(safe, null));
      }
    });
    return offsets;
  }

  /**
   * Commits, through {@code consumer}, the offsets that moved since the last successful commit. A failed commit
   * changes nothing here, so the next call tries those offsets again; the future fails with Kafka's error.
   */
  public Future<Void> commitTo(KafkaConsumer<?, ?> consumer) {
    Map<TopicPartition, OffsetAndMetadata> moved = committable();
    if (moved.isEmpty()) {
      return Future.succeededFuture();
    }
    return consumer.commit(moved).onSuccess(v -> committed(moved)).mapEmpty();
  }

  public void committed(Map<TopicPartition, OffsetAndMetadata> offsets) {
    offsets.forEach((partition, offset) -> committed.merge(partition, offset.getOffset(), Math::max));
  }

  /** Partitions given to another consumer: forget them; their records finish here but are not committed here. */
  public void revoked(Collection<TopicPartition> partitions) {
    for (TopicPartition partition : partitions) {
      TreeSet<Long> offsets = inFlight.remove(partition);
      inFlightCount -= offsets == null ? 0 : offsets.size();
      nextAfterSeen.remove(partition);
      committed.remove(partition);
    }
  }
}
