package eventrouter.realtime;

import java.time.Instant;
import java.util.concurrent.atomic.AtomicReference;

/** Whether the real-time path is keeping up, shared by its instances and read by {@code GET /health}. */
public final class RealtimeHealth {
  /** @param problem null when healthy */
  public record State(String problem, Instant since) {
  }

  private final AtomicReference<State> state = new AtomicReference<>(new State(null, Instant.now()));

  public State state() {
    return state.get();
  }

  void degraded(String problem) {
    state.updateAndGet(current -> current.problem() == null ? new State(problem, Instant.now()) : current);
  }

  void healthy() {
    state.updateAndGet(current -> current.problem() == null ? current : new State(null, Instant.now()));
  }
}
