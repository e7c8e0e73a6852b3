package eventrouter.log;

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
      tracker.started(p0, offset);
    }
    assertEquals(5, tracker.inFlight());
    tracker.finished(p0, 11);
    tracker.finished(p0, 12);
    assertEquals(10, tracker.committable().get(p0).getOffset(), "10 is still out: nothing past it may commit");
    tracker.finished(p0, 10);
    assertEquals(13, tracker.committable().get(p0).getOffset());
    assertEquals(13, tracker.committable().get(p0).getOffset(), "a commit that did not succeed is offered again");
    tracker.committed(tracker.committable());
    assertTrue(tracker.committable().isEmpty(), "unchanged since the last successful commit");
    tracker.finished(p0, 14);
    tracker.finished(p0, 13);
    assertEquals(15, tracker.committable().get(p0).getOffset());
    assertEquals(0, tracker.inFlight());
  }

  @Test
  @DisplayName("a revoked partition is forgotten, and a late settle of it is ignored")
  void revoked() {
    OffsetTracker tracker = new OffsetTracker();
    tracker.started(p0, 1);
    tracker.started(p0, 2);
    tracker.revoked(List.of(p0));
    assertEquals(0, tracker.inFlight());
    tracker.finished(p0, 1);
    assertTrue(tracker.committable().isEmpty());
  }
}
