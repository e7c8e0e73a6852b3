package eventrouter.rules;

import dev.cel.common.ast.CelConstant;
import dev.cel.common.ast.CelExpr;
import dev.cel.common.ast.CelExpr.ExprKind.Kind;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What an expression's top-level conjunction requires of the event's string fields, such as
 * {@code event.type == 'track'} or {@code event.event in ['A', 'B']}, read once from its syntax tree. An event that
 * fails one of them cannot make the expression true (a false conjunct makes {@code &&} false whatever the others give,
 * and a missing field is an error, which never holds), so {@link Expression#holds} answers false without evaluating
 * it. Most rules name one or two events, and most events match none of them: this skips nearly all CEL evaluations.
 */
final class Guard {
  static final Guard NONE = new Guard(Map.of());

  /** A field of {@code event} → the values it may have; a value outside the set makes the expression false. */
  private final Map<String, Set<String>> allowed;

  private Guard(Map<String, Set<String>> allowed) {
    this.allowed = allowed;
  }

  static Guard of(CelExpr expression) {
    Map<String, Set<String>> allowed = new HashMap<>();
    collect(expression, allowed);
    return allowed.isEmpty() ? NONE : new Guard(Map.copyOf(allowed));
  }

  /** Whether the expression may hold for this event; false only when it certainly cannot. */
  boolean admits(Map<String, Object> event) {
    for (Map.Entry<String, Set<String>> requirement : allowed.entrySet()) {
      if (!(event.get(requirement.getKey()) instanceof String value) || !requirement.getValue().contains(value)) {
        return false;
      }
    }
    return true;
  }

  Map<String, Set<String>> requirements() {
    return allowed;
  }

  private static void collect(CelExpr expression, Map<String, Set<String>> allowed) {
    if (expression.getKind() != Kind.CALL) {
      return;
    }
    List<CelExpr> args = expression.call().args();
    switch (expression.call().function()) {
      case "_&&_" -> args.forEach(arg -> collect(arg, allowed));
      case "_==_" -> {
        String field = eventField(args.get(0));
        String value = stringConstant(args.get(1));
        if (field == null || value == null) {
          field = eventField(args.get(1));
          value = stringConstant(args.get(0));
        }
        if (field != null && value != null) {
          restrict(allowed, field, Set.of(value));
        }
      }
      case "@in" -> {
        String field = eventField(args.get(0));
        Set<String> values = stringConstants(args.get(1));
        if (field != null && values != null) {
          restrict(allowed, field, values);
        }
      }
      default -> {
        // anything else (||, !, functions) constrains nothing we can read cheaply
      }
    }
  }

  /** {@code event.<field>}, else null. */
  private static String eventField(CelExpr expression) {
    if (expression.getKind() != Kind.SELECT || expression.select().testOnly()) {
      return null;
    }
    CelExpr operand = expression.select().operand();
    return operand.getKind() == Kind.IDENT && operand.ident().name().equals("event") ? expression.select().field()
        : null;
  }

  private static String stringConstant(CelExpr expression) {
    return expression.getKind() == Kind.CONSTANT
        && expression.constant().getKind() == CelConstant.Kind.STRING_VALUE ? expression.constant().stringValue() : null;
  }

  /** A list literal of string constants only, else null. */
  private static Set<String> stringConstants(CelExpr expression) {
    if (expression.getKind() != Kind.LIST) {
      return null;
    }
    Set<String> values = new HashSet<>();
    for (CelExpr element : expression.list().elements()) {
      String value = stringConstant(element);
      if (value == null) {
        return null;
      }
      values.add(value);
    }
    return values;
  }

  private static void restrict(Map<String, Set<String>> allowed, String field, Set<String> values) {
    allowed.merge(field, values, (before, also) -> {
      Set<String> both = new HashSet<>(before);
      both.retainAll(also);
      return both;
    });
  }
}
