package eventrouter.rules;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cel.runtime.CelEvaluationException;
import eventrouter.rules.Evaluation.ActionEffect;
import eventrouter.rules.Evaluation.ThresholdCheck;
import eventrouter.rules.Evaluation.TimerArm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A compiled rule set. {@link #evaluate} decides what one event does; {@link #thresholdSignal} and {@link #fire}
 * raise the signals whose decision needed shared state (a count in a window, a timer that ran out).
 */
public final class RuleEngine {
  /** A timer that fires later than this after its due time is marked late (normal resolution is ~100 ms). */
  public static final long LATE_AFTER_MS = 1_000;

  private final List<Rule> rules;
  private final Map<String, Rule> byId;

  RuleEngine(List<Rule> rules) {
    this.rules = List.copyOf(rules);
    this.byId = rules.stream().collect(Collectors.toUnmodifiableMap(Rule::id, Function.identity()));
  }

  /** Reads and compiles a rules file; any problem fails with the rule, field, expression and position. */
  public static RuleEngine load(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new RuleException("cannot read rules file " + file + ": " + e.getMessage());
    }
    return parse(text, file.toString());
  }

  public static RuleEngine parse(String json, String origin) {
    JsonNode root;
    try {
      root = CelValues.MAPPER.readTree(json);
    } catch (JsonProcessingException e) {
      throw new RuleException(origin + " is not valid JSON: " + e.getOriginalMessage());
    }
    JsonNode list = root == null ? null : root.get("rules");
    if (list == null || !list.isArray()) {
      throw new RuleException(origin + " must be an object with a \"rules\" array");
    }
    List<Rule> rules = new ArrayList<>();
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < list.size(); i++) {
      RuleReader reader = new RuleReader(list.get(i), origin + " rules[" + i + "]");
      if (!reader.enabled()) {
        continue;
      }
      Rule rule = reader.read();
      if (!ids.add(rule.id())) {
        throw new RuleException(origin + ": rule id \"" + rule.id() + "\" is used twice");
      }
      rules.add(rule);
    }
    return new RuleEngine(rules);
  }

  public List<Rule> rules() {
    return rules;
  }

  public Optional<Rule> rule(String id) {
    return Optional.ofNullable(byId.get(id));
  }

  /** Decides what one event does under every rule. Pure: the same facts always give the same decisions. */
  public Evaluation evaluate(Facts facts) {
    List<Signal> signals = new ArrayList<>();
    List<ThresholdCheck> thresholds = new ArrayList<>();
    List<TimerArm> arms = new ArrayList<>();
    List<String> cancels = new ArrayList<>();
    List<ActionEffect> actions = new ArrayList<>();
    String messageId = facts.causes().get(0);
    for (Rule rule : rules) {
      if (rule instanceof Rule.Match match) {
        if (match.when().holds(facts)) {
          signals.add(signal(match, Signal.idFor(match.id(), messageId), facts, 0));
          actions.addAll(actionsOf(match, facts));
        }
      } else if (rule instanceof Rule.Threshold threshold) {
        String key = threshold.when().holds(facts) ? keyOf(threshold, facts) : null;
        if (key != null) {
          thresholds.add(new ThresholdCheck(threshold.id(), key, threshold.window().toMillis(), threshold.count(),
              threshold.cooldown().toMillis(), Signal.idFor(threshold.id(), key + "|" + messageId), messageId));
          actions.addAll(actionsOf(threshold, facts));
        }
      } else if (rule instanceof Rule.Absence absence) {
        if (absence.cancel() != null && absence.cancel().holds(facts)) {
          cancels.add(absence.id());
        } else if (absence.start().holds(facts)) {
          arms.add(new TimerArm(absence.id(), facts.at().plus(absence.after()).toEpochMilli(), absence.rearm(),
              timerPayload(facts)));
          actions.addAll(actionsOf(absence, facts));
        }
      }
    }
    return new Evaluation(signals, thresholds, arms, cancels, actions);
  }

  /** The signal of a threshold check that tripped, or empty if its rule is gone since (a reload). */
  public Optional<Signal> thresholdSignal(ThresholdCheck check, Facts facts) {
    return rule(check.ruleId()).map(rule -> signal(rule, check.signalId(), facts, 0));
  }

  /** The signal of an absence timer that ran out, or empty if its rule is gone since (a reload). */
  public Optional<Signal> fire(DueTimer timer, Instant now) {
    Rule rule = byId.get(timer.ruleId());
    if (!(rule instanceof Rule.Absence)) {
      return Optional.empty();
    }
    Facts facts = new Facts(timer.startEvent(), timer.session(), timer.traits(), timer.subject(), timer.userId(),
        timer.anonymousId(), timer.causes(), now);
    long late = now.toEpochMilli() - timer.dueMs();
    return Optional.of(signal(rule, Signal.idFor(rule.id(), timer.subject() + "|" + timer.dueMs()), facts,
        late > LATE_AFTER_MS ? late : 0));
  }

  private static Signal signal(Rule rule, String id, Facts facts, long lateByMs) {
    ObjectNode properties = CelValues.MAPPER.createObjectNode();
    rule.properties().forEach((name, expression) -> {
      try {
        properties.set(name, CelValues.toJson(expression.evaluate(facts)));
      } catch (CelEvaluationException e) {
        properties.putNull(name); // a missing field in one property must not lose the signal
      }
    });
    return new Signal(id, rule.signal(), rule, properties, facts.causes(), facts.userId(), facts.anonymousId(),
        facts.subject(), facts.at(), lateByMs);
  }

  private static String keyOf(Rule.Threshold rule, Facts facts) {
    if (rule.key() == null) {
      return facts.subject();
    }
    try {
      Object key = rule.key().evaluate(facts);
      return key == null || key instanceof com.google.protobuf.NullValue ? null : String.valueOf(key);
    } catch (CelEvaluationException e) {
      return null; // no key (say, no IP in the event): the event cannot count towards any group
    }
  }

  private static List<ActionEffect> actionsOf(Rule rule, Facts facts) {
    List<ActionEffect> effects = new ArrayList<>();
    for (Action action : rule.actions()) {
      try {
        effects.add(new ActionEffect(action.scope(), action.name(), action.operation(),
            CelValues.toJson(action.value().evaluate(facts))));
      } catch (CelEvaluationException e) {
        // the value cannot be computed for this event: skip this action only
      }
    }
    return effects;
  }

  private static String timerPayload(Facts facts) {
    ObjectNode payload = CelValues.MAPPER.createObjectNode();
    payload.set("event", CelValues.toJson(facts.event()));
    payload.put("userId", facts.userId());
    payload.put("anonymousId", facts.anonymousId());
    facts.causes().forEach(payload.putArray("causes")::add);
    return payload.toString();
  }

  /** Reads one rule's JSON, naming the rule and field in every error. */
  private static final class RuleReader {
    private final JsonNode json;
    private final String where;

    RuleReader(JsonNode json, String where) {
      if (json == null || !json.isObject()) {
        throw new RuleException(where + " must be an object");
      }
      this.json = json;
      String id = json.path("id").asText("");
      this.where = id.isEmpty() ? where : "rule \"" + id + "\"";
    }

    boolean enabled() {
      return json.path("enabled").asBoolean(true);
    }

    Rule read() {
      String id = text("id");
      if (!id.matches("[A-Za-z0-9._-]{1,64}")) {
        throw new RuleException(where + ": id must be 1 to 64 letters, digits, '.', '_' or '-'");
      }
      String kind = text("kind");
      String signal = text("signal");
      Map<String, Expression> properties = properties();
      List<Action> actions = actions();
      return switch (kind) {
        case "match" -> new Rule.Match(id, expression("when"), signal, properties, actions);
        case "threshold" -> {
          Duration window = duration("window", null);
          yield new Rule.Threshold(id, expression("when"), json.has("key") ? expression("key") : null,
              positiveInt("count"), window, duration("cooldown", window), signal, properties, actions);
        }
        case "absence" -> new Rule.Absence(id, expression("start"),
            json.has("cancel") ? expression("cancel") : null, duration("after", null),
            json.path("rearm").asBoolean(true), signal, properties, actions);
        default -> throw new RuleException(where + ": kind must be match, threshold or absence (got \"" + kind + "\")");
      };
    }

    private String text(String field) {
      JsonNode value = json.get(field);
      if (value == null || !value.isTextual() || value.asText().isBlank()) {
        throw new RuleException(where + ": " + field + " is required and must be a non-empty string");
      }
      return value.asText();
    }

    private Expression expression(String field) {
      return Expression.compile(text(field), where + " " + field);
    }

    private int positiveInt(String field) {
      JsonNode value = json.get(field);
      if (value == null || !value.canConvertToInt() || !value.isIntegralNumber() || value.intValue() < 1) {
        throw new RuleException(where + ": " + field + " must be a positive integer");
      }
      return value.intValue();
    }

    private Duration duration(String field, Duration fallback) {
      JsonNode value = json.get(field);
      if (value == null && fallback != null) {
        return fallback;
      }
      Duration parsed = value != null && value.isTextual() ? Durations.parse(value.asText()) : null;
      if (parsed == null || parsed.isNegative() || parsed.isZero()) {
        throw new RuleException(where + ": " + field + " must be a positive duration such as \"500ms\", \"60s\","
            + " \"30m\" or \"2h\"" + (value == null ? "" : " (got " + value + ")"));
      }
      return parsed;
    }

    private Map<String, Expression> properties() {
      Map<String, Expression> properties = new LinkedHashMap<>();
      JsonNode node = json.get("properties");
      if (node == null) {
        return properties;
      }
      if (!node.isObject()) {
        throw new RuleException(where + ": properties must be an object of name: expression");
      }
      node.fields().forEachRemaining(entry -> {
        if (!entry.getValue().isTextual()) {
          throw new RuleException(where + ": properties." + entry.getKey() + " must be a CEL expression string");
        }
        properties.put(entry.getKey(), Expression.compile(entry.getValue().asText(),
            where + " properties." + entry.getKey()));
      });
      return properties;
    }

    private List<Action> actions() {
      List<Action> actions = new ArrayList<>();
      JsonNode node = json.get("actions");
      if (node == null) {
        return actions;
      }
      if (!node.isArray()) {
        throw new RuleException(where + ": actions must be an array");
      }
      for (int i = 0; i < node.size(); i++) {
        JsonNode action = node.get(i);
        String at = where + " actions[" + i + "]";
        Action.Scope scope = action.has("session") ? Action.Scope.SESSION
            : action.has("trait") ? Action.Scope.TRAIT : null;
        Action.Operation operation = action.has("set") ? Action.Operation.SET
            : action.has("increment") ? Action.Operation.INCREMENT : null;
        if (scope == null || operation == null || !action.path(scope == Action.Scope.SESSION ? "session" : "trait")
            .isTextual()) {
          throw new RuleException(at + " must be {\"session\"|\"trait\": name, \"set\"|\"increment\": expression}");
        }
        String name = action.get(scope == Action.Scope.SESSION ? "session" : "trait").asText();
        JsonNode value = action.get(operation == Action.Operation.SET ? "set" : "increment");
        if (!value.isTextual()) {
          throw new RuleException(at + ": the value must be a CEL expression string");
        }
        actions.add(new Action(scope, name, operation, Expression.compile(value.asText(), at)));
      }
      return actions;
    }
  }
}
