package eventrouter.realtime;

import java.util.Map;

/**
 * A user's state after an event was applied, as rules see it.
 *
 * @param status {@code new} (applied now), {@code replay} (applied before a crash; evaluate again, apply nothing
 *     twice), {@code duplicate} (fully processed within the dedup window: skip) or {@code failed} (Redis refused
 *     the work: skip)
 * @param subject {@code u:<userId>} or {@code a:<anonymousId>}
 * @param userId the canonical userId, or null while the user is anonymous
 * @param session the session hash with {@code cart} and {@code attributes}
 */
record UserState(String status, String subject, String userId, Map<String, Object> session,
    Map<String, Object> traits) {
  static final UserState DUPLICATE = new UserState("duplicate", null, null, Map.of(), Map.of());
  static final UserState FAILED = new UserState("failed", null, null, Map.of(), Map.of());

  /** Nothing to evaluate: a duplicate, or an event whose state could not be applied. */
  boolean skipped() {
    return duplicate() || "failed".equals(status);
  }

  boolean duplicate() {
    return "duplicate".equals(status);
  }

  boolean replay() {
    return "replay".equals(status);
  }
}
