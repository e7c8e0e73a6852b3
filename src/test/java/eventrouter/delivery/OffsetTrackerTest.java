package eventrouter.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.kafka.client.common.TopicPartition;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class OffsetTrackerTest {
  private final TopicPartition p0 = new TopicPartition("events", 0);

  @Test
  @DisplayName("the committed offset moves only over a contiguous run of settled records")
  void contiguous() {
    OffsetTracker tracker = new OffsetTracker();
    for (long offset = 10; offset < 15; offset++) {
      tracker.read(p0, offset);
    }
    assertEquals(5, tracker.unsettled());
    tracker.settled(p0, 11);
    tracker.settled(p0, 12);
    assertEquals(10, tracker.toCommit().get(p0).getOffset(), "10 is still out: nothing past it may commit");
    tracker.settled(p0, 10);
    assertEquals(13, tracker.toCommit().get(p0).getOffset());
    assertTrue(tracker.toCommit().isEmpty(), "unchanged since the last call");
    tracker.settled(p0, 14);
    tracker.settled(p0, 13);
    assertEquals(15, tracker.toCommit().get(p0).getOffset());
    assertEquals(0, tracker.unsettled());
  }

  @Test
  @DisplayName("a revoked partition is forgotten, and a late settle of it is ignored")
  void revoked() {
    OffsetTracker tracker = new OffsetTracker();
    tracker.read(p0, 1);
    tracker.read(p0, 2);
    tracker.forget(List.of(p0));
    assertEquals(0, tracker.unsettled());
    tracker.settled(p0, 1);
    assertTrue(tracker.toCommit().isEmpty());
  }
}
