package eventrouter.rules;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * What one event decided. Match signals are final; threshold checks and timers need the shared state in Redis to
 * be applied atomically, after which {@link RuleEngine#thresholdSignal} raises the thresholds that tripped.
 */
public record Evaluation(List<Signal> signals, List<ThresholdCheck> thresholds, List<TimerArm> arms,
    List<String> cancels, List<ActionEffect> actions) {

  public boolean isEmpty() {
    return signals.isEmpty() && thresholds.isEmpty() && arms.isEmpty() && cancels.isEmpty() && actions.isEmpty();
  }

  /**
   * Count this event under {@code key} for the rule; trip when {@code count} fall within the window and the key is
   * not cooling down. {@code signalId} is what a trip raises, so that a replay recognises its own earlier trip.
   */
  public record ThresholdCheck(String ruleId, String key, long windowMs, int count, long cooldownMs, String signalId,
      String member) {
  }

  /** Arm (or with {@code rearm}, restart) the rule's timer for the event's user, due at {@code dueMs}. */
  public record TimerArm(String ruleId, long dueMs, boolean rearm, String payload) {
  }

  public record ActionEffect(Action.Scope scope, String name, Action.Operation operation, JsonNode value) {
  }
}
