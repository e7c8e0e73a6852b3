package eventrouter.rules;

/** The three kinds of rule. */
public enum RuleKind {
  /** An expression holds for an event. */
  MATCH,
  /** N matching events per key within a sliding window. */
  THRESHOLD,
  /** A start event, then no cancel event within a duration. */
  ABSENCE;

  public String wireName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
