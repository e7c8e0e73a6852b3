package eventrouter.rules;

/**
 * A change a rule makes when its condition matches: set or increment a session attribute or a trait.
 *
 * @param value for SET, the new value; for INCREMENT, the amount (a number)
 */
public record Action(Scope scope, String name, Operation operation, Expression value) {
  public enum Scope { SESSION, TRAIT }

  public enum Operation { SET, INCREMENT }
}
