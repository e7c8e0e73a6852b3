package eventrouter.config;

import static eventrouter.config.ConfigKeys.*;

import eventrouter.config.DestinationConfig.CircuitPolicy;
import eventrouter.config.DestinationConfig.DeliveryPolicy;
import eventrouter.config.DestinationConfig.Stream;
import eventrouter.config.DestinationConfig.Type;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads {@code conf/destinations.json} (or the file {@code ROUTER_DESTINATIONS} names): a JSON array of destinations.
 * Every field is checked here, and each policy value that a destination leaves out falls back to the
 * {@code delivery.*} default. A problem fails with the destination's index, its id and the field.
 */
final class DestinationsFile {
  private static final Set<String> COMMON = Set.of("id", "type", "enabled", "streams", "filter", "payload",
      "timeoutMs", "maxInFlight", "maxAttempts", "retryDeadlineMs", "backoffBaseMs", "backoffMaxMs", "jitter",
      "rateLimit", "ordered", "queueSize", "circuitFailureRate", "circuitMinCalls", "circuitWindowCalls",
      "circuitSlowCallMs", "circuitOpenMs", "circuitOpenMaxMs", "circuitTrialCalls");
  private static final Map<Type, Set<String>> BY_TYPE = Map.of(
      Type.WEBHOOK, Set.of("url", "secret", "headers", "batch"),
      Type.KAFKA, Set.of("bootstrap", "topic"),
      Type.WEBSOCKET, Set.of());

  private final String file;
  private final DeliveryPolicy defaults;

  private DestinationsFile(String file, DeliveryPolicy defaults) {
    this.file = file;
    this.defaults = defaults;
  }

  /**
   * @param explicit whether the file was named by the user; a missing default file means no destinations
   */
  static List<DestinationConfig> read(Path path, boolean explicit, DeliveryPolicy defaults) {
    return parse(JsonArrayFile.read(path, explicit, DESTINATIONS, "destinations"), path.toString(), defaults);
  }

  static List<DestinationConfig> parse(JsonArray array, String file, DeliveryPolicy defaults) {
    DestinationsFile reader = new DestinationsFile(file, defaults);
    List<DestinationConfig> destinations = new ArrayList<>();
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < array.size(); i++) {
      DestinationConfig destination = reader.destination(array.getValue(i), i);
      if (!ids.add(destination.id())) {
        throw new ConfigException("destinations[" + i + "].id in " + file + ": id \"" + destination.id()
            + "\" is used twice");
      }
      destinations.add(destination);
    }
    return List.copyOf(destinations);
  }

  private static CircuitPolicy circuit(Field field, CircuitPolicy defaults) {
    CircuitPolicy circuit = new CircuitPolicy(
        field.policy("circuitFailureRate", DELIVERY_CIRCUIT_FAILURE_RATE, defaults.failureRate()),
        field.policy("circuitMinCalls", DELIVERY_CIRCUIT_MIN_CALLS, defaults.minCalls()),
        field.policy("circuitWindowCalls", DELIVERY_CIRCUIT_WINDOW_CALLS, defaults.windowCalls()),
        field.policy("circuitSlowCallMs", DELIVERY_CIRCUIT_SLOW_CALL_MS, defaults.slowCallMs()),
        field.policy("circuitOpenMs", DELIVERY_CIRCUIT_OPEN_MS, defaults.openMs()),
        field.policy("circuitOpenMaxMs", DELIVERY_CIRCUIT_OPEN_MAX_MS, defaults.openMaxMs()),
        field.policy("circuitTrialCalls", DELIVERY_CIRCUIT_TRIAL_CALLS, defaults.trialCalls()));
    if (circuit.openMaxMs() < circuit.openMs()) {
      throw field.fail("circuitOpenMaxMs", "must be at least circuitOpenMs (" + circuit.openMs() + ")",
          circuit.openMaxMs());
    }
    return circuit;
  }

  private DestinationConfig destination(Object raw, int index) {
    String at = "destinations[" + index + "]";
    if (!(raw instanceof JsonObject json)) {
      throw new ConfigException(at + " in " + file + " must be an object {\"id\", \"type\", ...}");
    }
    String id = json.getValue("id") instanceof String s && s.matches("[A-Za-z0-9._-]{1,64}") ? s : null;
    if (id == null) {
      throw new ConfigException(at + ".id in " + file + " must be 1 to 64 letters, digits, '.', '_' or '-' (got "
          + json.getValue("id") + ")");
    }
    Field field = new Field(at, id, json);
    Type type = field.oneOf("type", Type.class, null);
    for (String name : json.fieldNames()) {
      for (ReplacedKey replaced : REPLACED) {
        if (replaced.path().equals("delivery." + name)) {
          throw field.fail(name, "was replaced: " + replaced.replacement().replace("delivery.", ""),
              json.getValue(name));
        }
      }
      if (!COMMON.contains(name) && !BY_TYPE.get(type).contains(name)) {
        throw field.fail(name, "is not a setting of a " + type.wireName() + " destination (known: "
            + new java.util.TreeSet<>(union(COMMON, BY_TYPE.get(type))) + ")", json.getValue(name));
      }
    }
    boolean enabled = field.bool("enabled", true);
    Set<Stream> streams = streams(field, json.getValue("streams"));
    String filter = field.optionalString("filter");
    Object payload = json.getValue("payload");
    if (payload != null && !(payload instanceof String) && !(payload instanceof JsonObject)) {
      throw field.fail("payload", "must be a CEL expression (a string) or an object of field to CEL expression",
          payload);
    }
    DeliveryPolicy policy = new DeliveryPolicy(
        field.policy("timeoutMs", DELIVERY_TIMEOUT_MS, defaults.timeoutMs()),
        field.policy("maxInFlight", DELIVERY_MAX_IN_FLIGHT, defaults.maxInFlight()),
        field.policy("maxAttempts", DELIVERY_MAX_ATTEMPTS, defaults.maxAttempts()),
        field.policy("retryDeadlineMs", DELIVERY_RETRY_DEADLINE_MS, (int) defaults.retryDeadlineMs()),
        field.policy("backoffBaseMs", DELIVERY_BACKOFF_BASE_MS, defaults.backoffBaseMs()),
        field.policy("backoffMaxMs", DELIVERY_BACKOFF_MAX_MS, defaults.backoffMaxMs()),
        field.policy("jitter", DELIVERY_JITTER, defaults.jitter()),
        field.rateLimit(),
        field.bool("ordered", false),
        field.policy("queueSize", DELIVERY_QUEUE_SIZE, defaults.queueSize()),
        circuit(field, defaults.circuit()));
    if (policy.backoffMaxMs() < policy.backoffBaseMs()) {
      throw field.fail("backoffMaxMs", "must be at least backoffBaseMs (" + policy.backoffBaseMs() + ")",
          policy.backoffMaxMs());
    }
    DestinationConfig.Webhook webhook = type == Type.WEBHOOK ? webhook(field, json) : null;
    DestinationConfig.Kafka kafka = null;
    if (type == Type.KAFKA) {
      String bootstrap = field.optionalString("bootstrap");
      if (bootstrap != null && !KAFKA_BOOTSTRAP.check().test(bootstrap)) {
        throw field.fail("bootstrap", "must be " + KAFKA_BOOTSTRAP.checkDoc(), bootstrap);
      }
      String topic = field.optionalString("topic");
      if (topic == null || !KAFKA_TOPIC.check().test(topic)) {
        throw field.fail("topic", "must be " + KAFKA_TOPIC.checkDoc(), topic);
      }
      kafka = new DestinationConfig.Kafka(bootstrap, topic);
    }
    return new DestinationConfig(id, type, enabled, streams, filter, payload, policy, webhook, kafka);
  }

  private DestinationConfig.Webhook webhook(Field field, JsonObject json) {
    String url = field.optionalString("url");
    if (url == null || !isHttpUrl(url)) {
      throw field.fail("url", "must be an http:// or https:// URL", url);
    }
    String secret = field.optionalString("secret");
    if (secret == null || secret.length() < 16) {
      throw field.fail("secret", "must be a string of at least 16 characters (it signs every request)",
          secret == null ? null : "<" + secret.length() + " characters>");
    }
    Map<String, String> headers = new LinkedHashMap<>();
    Object rawHeaders = json.getValue("headers");
    if (rawHeaders != null) {
      if (!(rawHeaders instanceof JsonObject headerJson)
          || !headerJson.stream().allMatch(e -> e.getValue() instanceof String)) {
        throw field.fail("headers", "must be an object of header name to string value", rawHeaders);
      }
      headerJson.forEach(e -> headers.put(e.getKey(), (String) e.getValue()));
    }
    int batchMaxEvents = 1;
    int batchMaxMs = 0;
    Object rawBatch = json.getValue("batch");
    if (rawBatch != null) {
      if (!(rawBatch instanceof JsonObject batch)
          || !(batch.getValue("maxEvents", 1) instanceof Number events) || events.intValue() < 1
          || events.intValue() > 10_000
          || !(batch.getValue("maxMs", 100) instanceof Number ms) || ms.intValue() < 0 || ms.intValue() > 60_000
          || !Set.of("maxEvents", "maxMs").containsAll(batch.fieldNames())) {
        throw field.fail("batch", "must be {\"maxEvents\": 1 to 10000, \"maxMs\": 0 to 60000}", rawBatch);
      }
      batchMaxEvents = events.intValue();
      batchMaxMs = ms.intValue();
    }
    return new DestinationConfig.Webhook(url, secret, Map.copyOf(headers), batchMaxEvents, batchMaxMs);
  }

  private static Set<Stream> streams(Field field, Object raw) {
    if (raw == null) {
      return EnumSet.allOf(Stream.class);
    }
    Set<Stream> streams = EnumSet.noneOf(Stream.class);
    if (raw instanceof JsonArray array && !array.isEmpty()) {
      for (Object item : array) {
        Stream stream = item instanceof String s ? parseEnum(Stream.class, s) : null;
        if (stream == null) {
          throw field.fail("streams", "must be a non-empty array of \"events\" and \"signals\"", raw);
        }
        streams.add(stream);
      }
      return streams;
    }
    throw field.fail("streams", "must be a non-empty array of \"events\" and \"signals\"", raw);
  }

  private static boolean isHttpUrl(String url) {
    try {
      URI uri = new URI(url);
      return (uri.getScheme() != null && (uri.getScheme().equals("http") || uri.getScheme().equals("https")))
          && uri.getHost() != null;
    } catch (URISyntaxException e) {
      return false;
    }
  }

  private static <E extends Enum<E>> E parseEnum(Class<E> type, String value) {
    for (E constant : type.getEnumConstants()) {
      if (constant.name().equalsIgnoreCase(value)) {
        return constant;
      }
    }
    return null;
  }

  private static Set<String> union(Set<String> a, Set<String> b) {
    Set<String> all = new HashSet<>(a);
    all.addAll(b);
    return all;
  }

  /** Reads one destination's fields; failures name the destination, the field and the file. */
  private final class Field {
    private final String at;
    private final String id;
    private final JsonObject json;

    Field(String at, String id, JsonObject json) {
      this.at = at;
      this.id = id;
      this.json = json;
    }

    ConfigException fail(String name, String requirement, Object got) {
      return new ConfigException(at + "." + name + " (destination \"" + id + "\") in " + file + " " + requirement
          + " (got " + (got instanceof String ? "\"" + got + "\"" : got) + ")");
    }

    <E extends Enum<E>> E oneOf(String name, Class<E> type, E fallback) {
      Object raw = json.getValue(name);
      if (raw == null && fallback != null) {
        return fallback;
      }
      E value = raw instanceof String s ? parseEnum(type, s) : null;
      if (value == null) {
        throw fail(name, "must be one of " + java.util.Arrays.stream(type.getEnumConstants())
            .map(e -> e.name().toLowerCase()).toList(), raw);
      }
      return value;
    }

    boolean bool(String name, boolean fallback) {
      Object raw = json.getValue(name);
      if (raw == null) {
        return fallback;
      }
      if (!(raw instanceof Boolean b)) {
        throw fail(name, "must be true or false", raw);
      }
      return b;
    }

    String optionalString(String name) {
      Object raw = json.getValue(name);
      if (raw == null) {
        return null;
      }
      if (!(raw instanceof String s) || s.isBlank()) {
        throw fail(name, "must be a non-empty string", raw);
      }
      return s;
    }

    /** Checked as the {@code delivery.*} key of the same name is checked. */
    <T> T policy(String name, ConfigKey<T> key, T fallback) {
      Object raw = json.getValue(name);
      if (raw == null) {
        return fallback;
      }
      try {
        return key.convert(raw, file);
      } catch (ConfigException e) {
        throw fail(name, "must be " + key.checkDoc(), raw);
      }
    }

    double rateLimit() {
      Object raw = json.getValue("rateLimit");
      if (raw == null) {
        return 0;
      }
      if (!(raw instanceof JsonObject limit) || !(limit.getValue("eventsPerSecond") instanceof Number eps)
          || eps.doubleValue() < 0 || limit.size() != 1) {
        throw fail("rateLimit", "must be {\"eventsPerSecond\": number >= 0}", raw);
      }
      return eps.doubleValue();
    }
  }
}
