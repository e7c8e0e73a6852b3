package eventrouter.rules;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.UUID;

/**
 * A signal a rule raised, with its cause. Its id is derived from the rule and what caused it, so that evaluating the
 * same cause again (a replay after a crash) raises a signal with the same id, which every consumer deduplicates.
 */
public record Signal(String id, String name, Rule rule, ObjectNode properties, List<String> causes, String userId,
    String anonymousId, String subject, Instant raisedAt, long lateByMs) {

  /** A deterministic id: a name-based UUID of the rule and the discriminating cause. */
  static String idFor(String ruleId, String discriminator) {
    return UUID.nameUUIDFromBytes((ruleId + "|" + discriminator).getBytes(StandardCharsets.UTF_8)).toString();
  }

  public String key() {
    return userId != null ? userId : anonymousId;
  }

  /** The signal as an event of type {@code signal}, the shape written to the signals topic. */
  public byte[] toJson() {
    ObjectNode json = CelValues.MAPPER.createObjectNode();
    String at = DateTimeFormatter.ISO_INSTANT.format(raisedAt);
    json.put("type", "signal");
    json.put("event", name);
    json.put("messageId", id);
    json.put("userId", userId);
    json.put("anonymousId", anonymousId);
    json.set("properties", properties);
    ObjectNode ruleJson = json.putObject("rule");
    ruleJson.put("id", rule.id());
    ruleJson.put("kind", rule.kind().wireName());
    ruleJson.put("late", lateByMs > 0);
    ruleJson.put("lateByMs", lateByMs);
    causes.forEach(json.putArray("causes")::add);
    json.put("subject", subject);
    json.put("timestamp", at);
    json.put("receivedAt", at);
    json.put("sourceId", "rules");
    try {
      return CelValues.MAPPER.writeValueAsBytes(json);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree always serialises", e);
    }
  }
}
