package eventrouter.realtime;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import eventrouter.config.RouterConfig.RealtimeConfig;
import eventrouter.rules.CelValues;
import eventrouter.rules.DueTimer;
import eventrouter.rules.Evaluation;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Users' identity, sessions, carts, traits and timers in Redis. Every change for one event is one atomic script, so
 * that instances and nodes working on the same user (an anonymous id and its user id on two partitions) never race.
 */
final class SessionStore {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final Set<String> CART_EVENTS = Set.of("Product Added", "Product Removed", "Order Completed",
      "Cart Cleared");
  private static final long TIMER_LEASE_MS = 30_000;

  private final RedisLink redis;
  private final RealtimeConfig config;

  SessionStore(RedisLink redis, RealtimeConfig config) {
    this.redis = redis;
    this.config = config;
  }

  Future<UserState> applyEvent(ObjectNode event, long atMs) {
    String type = event.path("type").asText();
    String name = event.path("event").asText("");
    String properties = type.equals("track") && CART_EVENTS.contains(name) ? objectText(event.get("properties")) : "";
    JsonNode traits = event.path("traits").isObject() ? event.get("traits") : event.path("context").path("traits");
    return redis.eval(LuaScript.APPLY_EVENT, List.of(config.redisPrefix(), event.path("messageId").asText(),
            event.path("userId").asText(""), event.path("anonymousId").asText(""), type, name, Long.toString(atMs),
            Long.toString(config.sessionTimeoutMs()), Long.toString(config.dedupWindowMs()),
            Long.toString(config.stateTtlMs()), properties,
            type.equals("identify") && traits.isObject() ? traits.toString() : "",
            event.path("previousId").asText("")))
        .map(reply -> toUserState(parse(reply.toString())));
  }

  /** @return the indexes into {@code evaluation.thresholds()} that tripped */
  Future<List<Integer>> applyEffects(UserState state, String messageId, long atMs, Evaluation evaluation) {
    ObjectNode effects = MAPPER.createObjectNode();
    effects.set("thresholds", MAPPER.valueToTree(evaluation.thresholds()));
    effects.set("arms", MAPPER.valueToTree(evaluation.arms()));
    effects.set("cancels", MAPPER.valueToTree(evaluation.cancels()));
    effects.set("actions", MAPPER.valueToTree(evaluation.actions()));
    return redis.eval(LuaScript.APPLY_EFFECTS, List.of(config.redisPrefix(), messageId, state.subject(),
            Long.toString(atMs), state.replay() ? "1" : "0", evaluation.signals().isEmpty() ? "0" : "1",
            Long.toString(config.dedupWindowMs()), Long.toString(config.stateTtlMs()), effects.toString()))
        .map(reply -> {
          List<Integer> tripped = new ArrayList<>();
          String text = reply.toString();
          if (!text.isEmpty()) {
            for (String index : text.split(",")) {
              tripped.add(Integer.parseInt(index));
            }
          }
          return tripped;
        });
  }

  /** The event's signals are durable: a later copy of it within the dedup window is skipped. */
  Future<Void> markDone(String messageId) {
    return redis.send(Request.cmd(Command.SET).arg(config.redisPrefix() + "seen:" + messageId).arg("d").arg("PX")
        .arg(config.dedupWindowMs())).mapEmpty();
  }

  Future<List<ClaimedTimer>> claimDueTimers(long nowMs, int limit) {
    return redis.eval(LuaScript.CLAIM_TIMERS, List.of(config.redisPrefix(), Long.toString(nowMs),
            Long.toString(TIMER_LEASE_MS), Integer.toString(limit)))
        .map(reply -> {
          List<ClaimedTimer> claimed = new ArrayList<>();
          for (Response item : reply) {
            claimed.add(toClaimedTimer(parse(item.toString())));
          }
          return claimed;
        });
  }

  Future<Void> completeTimer(ClaimedTimer claimed) {
    return redis.eval(LuaScript.COMPLETE_TIMER, List.of(config.redisPrefix(), claimed.member(), claimed.due()))
        .mapEmpty();
  }

  /** Identity, session (with cart), traits and armed timers of a user, by userId or anonymousId. */
  Future<JsonObject> describe(String id) {
    return redis.eval(LuaScript.DESCRIBE_USER, List.of(config.redisPrefix(), id)).map(reply -> {
      JsonNode raw = parse(reply.toString());
      ObjectNode user = MAPPER.createObjectNode();
      user.put("subject", raw.path("subject").asText());
      String userId = raw.path("userId").asText("");
      if (userId.isEmpty()) {
        user.putNull("userId");
      } else {
        user.put("userId", userId);
      }
      user.set("linkedIds", raw.path("linkedIds").isArray() ? raw.get("linkedIds") : MAPPER.createArrayNode());
      user.set("session", sessionOf(raw));
      user.set("traits", objectOrEmpty(raw.get("traits")));
      user.set("timers", raw.path("timers").isArray() ? raw.get("timers") : MAPPER.createArrayNode());
      return new JsonObject(user.toString());
    });
  }

  private UserState toUserState(JsonNode reply) {
    String status = reply.path("status").asText();
    if (status.equals("duplicate")) {
      return new UserState(status, null, null, Map.of(), Map.of());
    }
    String userId = reply.path("userId").asText("");
    return new UserState(status, reply.path("subject").asText(), userId.isEmpty() ? null : userId,
        CelValues.mapFromJson(sessionOf(reply)), CelValues.mapFromJson(objectOrEmpty(reply.get("traits"))));
  }

  private ClaimedTimer toClaimedTimer(JsonNode claim) {
    JsonNode payload = parse(claim.path("payload").asText());
    List<String> causes = new ArrayList<>();
    payload.path("causes").forEach(cause -> causes.add(cause.asText()));
    String due = claim.path("due").asText();
    String subject = claim.path("subject").asText();
    // The start event may predate the login; the timer has moved to the user since, so the signal names the user.
    String userId = subject.startsWith("u:") ? subject.substring(2) : textOrNull(payload.get("userId"));
    DueTimer timer = new DueTimer(claim.path("ruleId").asText(), subject, Long.parseLong(due),
        CelValues.mapFromJson(payload.get("event")), userId,
        textOrNull(payload.get("anonymousId")), causes, CelValues.mapFromJson(sessionOf(claim)),
        CelValues.mapFromJson(objectOrEmpty(claim.get("traits"))));
    return new ClaimedTimer(claim.path("member").asText(), due, timer);
  }

  /** The session hash with the cart folded in; Lua's cjson writes an empty array as {}, so lists are repaired. */
  private static ObjectNode sessionOf(JsonNode reply) {
    ObjectNode session = objectOrEmpty(reply.get("session")).deepCopy();
    ObjectNode cart = objectOrEmpty(reply.get("cart")).deepCopy();
    if (!cart.path("items").isArray()) {
      cart.set("items", MAPPER.createArrayNode());
    }
    if (!cart.has("value")) {
      cart.put("value", 0);
    }
    if (!cart.has("count")) {
      cart.put("count", 0);
    }
    session.set("cart", cart);
    if (!session.path("attributes").isObject()) {
      session.set("attributes", MAPPER.createObjectNode());
    }
    return session;
  }

  private static ObjectNode objectOrEmpty(JsonNode node) {
    return node instanceof ObjectNode object ? object : MAPPER.createObjectNode();
  }

  private static String textOrNull(JsonNode node) {
    return node == null || node.isNull() ? null : node.asText();
  }

  private static String objectText(JsonNode node) {
    return node != null && node.isObject() ? node.toString() : "{}";
  }

  private static JsonNode parse(String json) {
    try {
      return MAPPER.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a Lua script returned malformed JSON: " + json, e);
    }
  }
}
