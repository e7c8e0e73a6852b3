package eventrouter.rules;

import java.util.List;
import java.util.Map;

/**
 * An absence timer that ran out, with what the rule needs to raise its signal: the start event it was armed by and
 * the user's session and traits at the time it fires.
 */
public record DueTimer(String ruleId, String subject, long dueMs, Map<String, Object> startEvent, String userId,
    String anonymousId, List<String> causes, Map<String, Object> session, Map<String, Object> traits) {
}
