package eventrouter.realtime;

import java.util.Map;

/**
 * A user's state after an event was applied, as rules see it.
 *
 * @param status {@code new} (applied now), {@code replay} (applied before a crash; evaluate again, apply nothing
 *     twice) or {@code duplicate} (fully processed within the dedup window: skip)
 * @param subject {@code u:<userId>} or {@code a:<anonymousId>}
 * @param userId the canonical userId, or null while the user is anonymous
 * @param session the session hash with {@code cart} and {@code attributes}
 */
record UserState(String status, String subject, String userId, Map<String, Object> session,
    Map<String, Object> traits) {

  boolean duplicate() {
    return "duplicate".equals(status);
  }

  boolean replay() {
    return "replay".equals(status);
  }
}
