package eventrouter.rules;

/** A rule file that cannot be used; the message names the rule, the field, the expression and the error position. */
public final class RuleException extends RuntimeException {
  public RuleException(String message) {
    super(message);
  }
}
