package eventrouter.rules;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/** A rule: its id, the signal it raises with computed properties, and the actions it takes when it matches. */
public sealed interface Rule {
  String id();

  String signal();

  /** Signal properties, each computed by an expression. */
  Map<String, Expression> properties();

  List<Action> actions();

  RuleKind kind();

  /** When {@code when} holds for an event, raise the signal. */
  record Match(String id, Expression when, String signal, Map<String, Expression> properties, List<Action> actions)
      implements Rule {
    @Override
    public RuleKind kind() {
      return RuleKind.MATCH;
    }
  }

  /**
   * When {@code count} events matching {@code when} share a key within {@code window}, raise the signal, then stay
   * quiet for that key for {@code cooldown}.
   *
   * @param key the grouping expression, e.g. {@code event.context.ip}; null groups by user
   */
  record Threshold(String id, Expression when, Expression key, int count, Duration window, Duration cooldown,
      String signal, Map<String, Expression> properties, List<Action> actions) implements Rule {
    @Override
    public RuleKind kind() {
      return RuleKind.THRESHOLD;
    }
  }

  /**
   * A {@code start} event arms a timer of {@code after} for the user and a {@code cancel} event disarms it; when it
   * runs out, raise the signal. With {@code rearm}, each further start event restarts the timer; without, the first
   * start's deadline stands.
   */
  record Absence(String id, Expression start, Expression cancel, Duration after, boolean rearm, String signal,
      Map<String, Expression> properties, List<Action> actions) implements Rule {
    @Override
    public RuleKind kind() {
      return RuleKind.ABSENCE;
    }
  }
}
