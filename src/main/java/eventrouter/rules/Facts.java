package eventrouter.rules;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * What rules see for one event: the event, the user's session and traits after the event was applied, who the user
 * is, and the time the router received the event (the time every window and timer is measured from, so that a replay
 * decides the same way).
 *
 * @param subject the resolved user the session belongs to: {@code u:<userId>} or {@code a:<anonymousId>}
 * @param causes the message ids that caused this evaluation (the event's own id; a timer's start events)
 */
public record Facts(
    Map<String, Object> event,
    Map<String, Object> session,
    Map<String, Object> traits,
    String subject,
    String userId,
    String anonymousId,
    List<String> causes,
    Instant at) {
}
