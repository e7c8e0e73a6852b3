package eventrouter.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cel.runtime.CelEvaluationException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class GuardTest {
  private static Map<String, Set<String>> requirements(String source) {
    return Expression.compile(source, "test").guard().requirements();
  }

  private static Facts facts(Map<String, Object> event) {
    return new Facts(event, Map.of("cart", Map.of("value", 10L)), Map.of("ltv", 900L), "u:ada", "ada", null,
        List.of("m-1"), Instant.parse("2026-11-24T10:00:00Z"));
  }

  @Test
  void readsTheEqualitiesAndListsOfATopLevelConjunction() {
    assertEquals(Map.of("type", Set.of("track"), "event", Set.of("Product Added")),
        requirements("event.type == 'track' && event.event == 'Product Added'"));
    assertEquals(Map.of("type", Set.of("track"), "event", Set.of("A", "B")),
        requirements("'track' == event.type && event.event in ['A', 'B'] && has(traits.ltv) && traits.ltv >= 500"));
    assertEquals(Map.of("event", Set.of("B")), requirements("event.event in ['A', 'B'] && event.event == 'B'"));
  }

  @Test
  void constrainsNothingItCannotProve() {
    assertEquals(Map.of(), requirements("event.type == 'track' || event.event == 'X'"));
    assertEquals(Map.of(), requirements("!(event.event == 'X')"));
    assertEquals(Map.of(), requirements("event.event != 'X'"));
    assertEquals(Map.of(), requirements("event.properties.plan == 'pro'"), "only top-level fields of event");
    assertEquals(Map.of(), requirements("session.sessionId == 'x'"));
    assertEquals(Map.of(), requirements("event.event in ['A', 1]"), "a list with a non-string is not read");
    assertEquals(Map.of(), requirements("session.cart.value + 1"));
  }

  @Test
  void anEventTheGuardTurnsAwayNeverSatisfiesTheExpression() throws Exception {
    List<Expression> expressions = new ArrayList<>();
    for (Rule rule : RuleEngine.load(Path.of("conf", "rules.json")).rules()) {
      if (rule instanceof Rule.Match match) {
        expressions.add(match.when());
      } else if (rule instanceof Rule.Threshold threshold) {
        expressions.add(threshold.when());
      } else if (rule instanceof Rule.Absence absence) {
        expressions.add(absence.start());
        if (absence.cancel() != null) {
          expressions.add(absence.cancel());
        }
      }
    }
    expressions.add(Expression.compile("event.type == 'track' && event.event in ['A', 'B']", "test"));
    List<Map<String, Object>> events = new ArrayList<>();
    for (Object type : new Object[] {"track", "page", "identify", 7L, null}) {
      for (Object name : new Object[] {"Product Added", "Order Completed", "Login Failed", "Renewal Declined",
          "Product Viewed", "A", "B", "Other", 3L, null}) {
        Map<String, Object> event = new HashMap<>();
        if (type != null) {
          event.put("type", type);
        }
        if (name != null) {
          event.put("event", name);
        }
        event.put("properties", Map.of("category", "shoes"));
        event.put("context", Map.of("ip", "10.0.0.1", "demo", true));
        events.add(event);
      }
    }
    int turnedAway = 0;
    int admittedAndHeld = 0;
    for (Expression expression : expressions) {
      for (Map<String, Object> event : events) {
        boolean holdsWithoutGuard;
        try {
          holdsWithoutGuard = Boolean.TRUE.equals(expression.evaluate(facts(event)));
        } catch (CelEvaluationException e) {
          holdsWithoutGuard = false;
        }
        if (!expression.guard().admits(event)) {
          turnedAway++;
          assertFalse(holdsWithoutGuard, expression + " holds for " + event + ", which its guard turned away");
        } else if (holdsWithoutGuard) {
          admittedAndHeld++;
        }
        assertEquals(holdsWithoutGuard, expression.holds(facts(event)), expression + " on " + event);
      }
    }
    assertTrue(turnedAway > events.size(), "the shipped rules are guarded: " + turnedAway);
    assertTrue(admittedAndHeld > 5, "and still match their events: " + admittedAndHeld);
  }
}
