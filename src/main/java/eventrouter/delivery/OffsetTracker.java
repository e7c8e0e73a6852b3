package eventrouter.delivery;

import io.vertx.kafka.client.common.TopicPartition;
import io.vertx.kafka.client.consumer.OffsetAndMetadata;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * Which log offsets may be committed: per partition, the lowest record not yet settled for every destination (or one
 * past the last record read, when all are settled). Records settle out of order across destinations; the committed
 * offset only moves over a contiguous run of settled records. Event loop only.
 */
final class OffsetTracker {
  private static final class Partition {
    final TreeSet<Long> unsettled = new TreeSet<>();
    long nextToRead = -1;
    long committed = -1;
  }

  private final Map<TopicPartition, Partition> partitions = new HashMap<>();
  private int unsettled;

  void read(TopicPartition tp, long offset) {
    Partition p = partitions.computeIfAbsent(tp, k -> new Partition());
    if (p.unsettled.add(offset)) {
      unsettled++;
    }
    p.nextToRead = Math.max(p.nextToRead, offset + 1);
  }

  void settled(TopicPartition tp, long offset) {
    Partition p = partitions.get(tp);
    if (p != null && p.unsettled.remove(offset)) {
      unsettled--;
    }
  }

  /** Records read and not yet settled, over every partition. */
  int unsettled() {
    return unsettled;
  }

  /** The offsets that moved since the last call; the caller commits them. */
  Map<TopicPartition, OffsetAndMetadata> toCommit() {
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    partitions.forEach((tp, p) -> {
      long next = p.unsettled.isEmpty() ? p.nextToRead : p.unsettled.first();
      if (next > p.committed) {
        p.committed = next;
        offsets.put(tp, new OffsetAndMetadata(next, null));
      }
    });
    return offsets;
  }

  /** After a rebalance took these partitions away: their new owner reads from the last commit. */
  void forget(Collection<TopicPartition> revoked) {
    for (TopicPartition tp : revoked) {
      Partition p = partitions.remove(tp);
      if (p != null) {
        unsettled -= p.unsettled.size();
      }
    }
  }
}
