package eventrouter.realtime;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import eventrouter.config.RouterConfig.RealtimeConfig;
import eventrouter.rules.CelValues;
import eventrouter.rules.DueTimer;
import eventrouter.rules.Action;
import eventrouter.rules.Evaluation;
import eventrouter.rules.Evaluation.ActionEffect;
import eventrouter.rules.Evaluation.ThresholdCheck;
import eventrouter.rules.Evaluation.TimerArm;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.ResponseType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Users' identity, sessions, carts, traits and timers in Redis. Every change for one event is atomic (one script
 * applies a wave of events, each on its own), so that instances and nodes working on the same user (an anonymous id
 * and its user id on two partitions) never race.
 */
final class SessionStore {
  private static final Logger LOG = LoggerFactory.getLogger(SessionStore.class);
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

  /**
   * Applies a wave of events (at most one per user) in one script call.
   *
   * @return each event's state, in order; {@link UserState#FAILED} for one whose script work failed (logged)
   */
  Future<List<UserState>> applyEvents(List<Arrival> wave) {
    List<String> args = new ArrayList<>(4 + wave.size() * 10);
    args.add(config.redisPrefix());
    args.add(Long.toString(config.sessionTimeoutMs()));
    args.add(Long.toString(config.dedupWindowMs()));
    args.add(Long.toString(config.stateTtlMs()));
    for (Arrival arrival : wave) {
      ObjectNode event = arrival.event();
      String type = event.path("type").asText();
      String name = event.path("event").asText("");
      args.add(arrival.messageId());
      args.add(arrival.dedupKey());
      args.add(event.path("userId").asText(""));
      args.add(event.path("anonymousId").asText(""));
      args.add(type);
      args.add(name);
      args.add(Long.toString(arrival.atMs()));
      args.add(type.equals("track") && CART_EVENTS.contains(name) ? objectText(event.get("properties")) : "");
      args.add(event.path("previousId").asText(""));
      JsonNode traits = event.path("traits").isObject() ? event.get("traits") : event.path("context").path("traits");
      if (type.equals("identify") && traits.isObject()) {
        args.add(Integer.toString(traits.size()));
        traits.fields().forEachRemaining(trait -> {
          args.add(trait.getKey());
          args.add(trait.getValue().toString());
        });
      } else {
        args.add("0");
      }
    }
    return redis.eval(LuaScript.APPLY_EVENTS, args).map(reply -> {
      List<UserState> states = new ArrayList<>(wave.size());
      for (int i = 0; i < reply.size(); i++) {
        states.add(toUserState(reply.get(i), wave.get(i)));
      }
      return states;
    });
  }

  /** What the rules decided for one event, to apply to the shared state. */
  record Decided(UserState state, Arrival arrival, Evaluation evaluation) {
  }

  /**
   * Applies the rules' effects for a wave of events in one script call; an event left with nothing to make durable
   * is marked done by it.
   *
   * @return per event, the indexes into its {@code evaluation.thresholds()} that tripped, or null where the script
   *     work failed (logged)
   */
  Future<List<List<Integer>>> applyEffects(List<Decided> wave) {
    List<String> args = new ArrayList<>(2 + wave.size() * 16);
    args.add(config.redisPrefix());
    args.add(Long.toString(config.stateTtlMs()));
    for (Decided decided : wave) {
      Evaluation evaluation = decided.evaluation();
      args.add(decided.arrival().messageId());
      args.add(decided.arrival().dedupKey());
      args.add(decided.state().subject());
      args.add(Long.toString(decided.arrival().atMs()));
      args.add(decided.state().replay() ? "1" : "0");
      args.add(evaluation.signals().isEmpty() ? "0" : "1");
      args.add(Integer.toString(evaluation.thresholds().size()));
      args.add(Integer.toString(evaluation.cancels().size()));
      args.add(Integer.toString(evaluation.arms().size()));
      args.add(Integer.toString(evaluation.actions().size()));
      for (ThresholdCheck check : evaluation.thresholds()) {
        args.addAll(List.of(check.ruleId(), check.key(), Long.toString(check.windowMs()),
            Integer.toString(check.count()), Long.toString(check.cooldownMs()), check.signalId(), check.member()));
      }
      args.addAll(evaluation.cancels());
      for (TimerArm arm : evaluation.arms()) {
        args.addAll(List.of(arm.ruleId(), Long.toString(arm.dueMs()), arm.rearm() ? "1" : "0", arm.payload()));
      }
      for (ActionEffect action : evaluation.actions()) {
        args.addAll(List.of(action.scope() == Action.Scope.SESSION ? "S" : "T", action.name(),
            action.operation() == Action.Operation.INCREMENT ? "I" : "S",
            action.value() == null ? "null" : action.value().toString()));
      }
    }
    return redis.eval(LuaScript.APPLY_EFFECTS, args).map(reply -> {
      List<List<Integer>> tripped = new ArrayList<>(wave.size());
      for (int i = 0; i < reply.size(); i++) {
        Response item = reply.get(i);
        if (isFailure(item)) {
          LOG.error("Redis refused the effects of event {}; skipping it: {}", wave.get(i).arrival().messageId(),
              item.get(1));
          tripped.add(null);
          continue;
        }
        List<Integer> indexes = new ArrayList<>(item.size());
        item.forEach(index -> indexes.add(index.toInteger()));
        tripped.add(indexes);
      }
      return tripped;
    });
  }

  /** These events' signals are durable: a later copy of one within the dedup window is skipped. */
  Future<Void> markDone(List<Arrival> events) {
    List<Future<Response>> sets = new ArrayList<>(events.size());
    for (Arrival event : events) {
      sets.add(redis.send(Request.cmd(Command.HSET).arg(config.redisPrefix() + "dd:" + event.dedupKey())
          .arg(event.messageId()).arg("d")));
    }
    return Future.all(sets).mapEmpty();
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

  /** Reads one event's reply: { status, subject, userId, the user's hash (see lib.lua) }. */
  private static UserState toUserState(Response reply, Arrival arrival) {
    String status = reply.get(0).toString();
    if (status.equals("duplicate")) {
      return UserState.DUPLICATE;
    }
    if (isFailure(reply)) {
      LOG.error("Redis refused the work for event {}; skipping it: {}", arrival.messageId(), reply.get(1));
      return UserState.FAILED;
    }
    ObjectNode session = MAPPER.createObjectNode();
    ObjectNode attributes = session.putObject("attributes");
    ObjectNode traits = MAPPER.createObjectNode();
    JsonNode cart = null;
    Response hash = reply.get(3);
    for (int i = 0; i + 1 < hash.size(); i += 2) {
      String field = hash.get(i).toString();
      String value = hash.get(i + 1).toString();
      if (field.startsWith("a.")) {
        attributes.set(field.substring(2), parse(value));
      } else if (field.startsWith("t.")) {
        traits.set(field.substring(2), parse(value));
      } else if (field.equals("cart")) {
        cart = parse(value);
      } else if (field.equals("sessionId")) {
        session.put(field, value);
      } else if (!field.startsWith("_")) { // _ttlAt and _v are bookkeeping
        session.set(field, parse(value));
      }
    }
    String userId = reply.get(2).toString();
    return new UserState(status, reply.get(1).toString(), userId.isEmpty() ? null : userId,
        CelValues.mapFromJson(sessionOf(session, objectOrEmpty(cart))), CelValues.mapFromJson(traits));
  }

  private static boolean isFailure(Response reply) {
    return reply.type() == ResponseType.MULTI && reply.size() == 2 && reply.get(0).type() == ResponseType.BULK
        && "error".equals(reply.get(0).toString());
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
    return sessionOf(objectOrEmpty(reply.get("session")).deepCopy(), objectOrEmpty(reply.get("cart")).deepCopy());
  }

  private static ObjectNode sessionOf(ObjectNode session, ObjectNode cart) {
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
