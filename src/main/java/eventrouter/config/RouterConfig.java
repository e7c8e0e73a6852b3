package eventrouter.config;

import static eventrouter.config.ConfigKeys.*;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * The whole router configuration, read once at start-up and checked before anything is deployed.
 * Embedded services are chosen by a null URL.
 */
public record RouterConfig(
    HttpConfig http,
    Path dataDir,
    String nodeId,
    ClusterConfig cluster,
    String adminToken,
    List<SourceConfig> sources,
    RateLimit defaultRateLimit,
    KafkaConfig kafka,
    RedisConfig redis,
    PostgresConfig postgres,
    IngestConfig ingest,
    RealtimeConfig realtime,
    WarehouseConfig warehouse,
    TraitsConfig traits,
    DeliveryConfig delivery) {

  /** @param forwardedHeaders which proxy headers to trust: none, x-forward, forward or all */
  public record HttpConfig(String host, int port, String forwardedHeaders) {
  }

  /**
   * The clustered event bus; off (one node, no Hazelcast) unless members are listed.
   *
   * @param members every node's {@code host:port}, this one's included; empty when not clustered
   */
  public record ClusterConfig(List<String> members, String host, int port, int eventBusPort) {
    public ClusterConfig {
      members = List.copyOf(members);
    }

    public boolean enabled() {
      return !members.isEmpty();
    }
  }

  /**
   * @param bootstrap null for the embedded broker
   * @param events how ingest's producer batches the events topic
   * @param signals how the real-time path's producer batches the signals topic
   */
  /**
   * @param sessionTimeoutMs how long a dead node's consumers keep their partitions; a restarted node's consumers,
   *     which come back with the same static member ids, take theirs back at once
   */
  public record KafkaConfig(String bootstrap, int embeddedPort, String topic, String signalsTopic,
      String rejectsTopic, int partitions, int replicationFactor, int ackTimeoutMs, int sessionTimeoutMs,
      ProducerBatching events, ProducerBatching signals) {
    /** Every topic the router writes and reads. */
    public List<String> topics() {
      return List.of(topic, signalsTopic, rejectsTopic);
    }
  }

  public record ProducerBatching(int lingerMs, String compression) {
  }

  /** @param url null for the embedded server */
  public record RedisConfig(String url, int embeddedPort) {
  }

  /** @param url null for the embedded server */
  public record PostgresConfig(String url, int embeddedPort, int poolSize) {
  }

  public record IngestConfig(int instances, int maxEventBytes, int maxRequestBytes, int bodyTimeoutMs,
      int maxBatchEvents, StreamConfig stream) {
  }

  /** The WebSocket endpoint /v1/stream. */
  public record StreamConfig(int maxUnacked, long pingIntervalMs, long idleTimeoutMs, int maxConnectionsPerKey) {
  }

  /** A token bucket; {@code eventsPerSecond == 0} turns it off. */
  public record RateLimit(double eventsPerSecond, int burst) {
    public static final RateLimit OFF = new RateLimit(0, 0);

    public boolean enabled() {
      return eventsPerSecond > 0;
    }

    /** The bucket's capacity: the configured burst, or one second's worth of events. */
    public double capacity() {
      return burst > 0 ? burst : Math.max(1, eventsPerSecond);
    }
  }

  /**
   * A source is one write key; every event records the id of the source it came through.
   *
   * @param allowedOrigins the browser origins that may send with this key ({@code scheme://host[:port]}, a host may
   *     start with {@code *.}); empty means any origin
   */
  public record SourceConfig(String id, String writeKey, RateLimit rateLimit, List<String> allowedOrigins) {
    public SourceConfig {
      allowedOrigins = List.copyOf(allowedOrigins);
    }

    public SourceConfig(String id, String writeKey, RateLimit rateLimit) {
      this(id, writeKey, rateLimit, List.of());
    }

    @Override
    public String toString() {
      return "SourceConfig[id=" + id + ", rateLimit=" + rateLimit + ", allowedOrigins=" + allowedOrigins
          + "]"; // never log the key
    }
  }

  public record RealtimeConfig(String rulesFile, int instances, String groupId, long sessionTimeoutMs,
      long dedupWindowMs, long stateTtlMs, int maxInFlight, long timerPollMs, String redisPrefix) {
  }

  public record WarehouseConfig(int instances, String groupId, int batchSize, int flushMs, int retryBaseMs,
      int retryMaxMs, boolean typedTables, int typedMaxColumns, int typedMaxTables) {
  }

  /**
   * Traits computed in the warehouse and copied into the real-time traits in Redis ({@code traits.TraitsVerticle}).
   *
   * @param traits none when the default file is absent: then nothing is computed
   */
  public record TraitsConfig(String file, int refreshMs, int sweepMs, int batchUsers, List<TraitDefinition> traits) {
  }

  /**
   * @param name what rules read as {@code traits.<name>}
   * @param sql a query that takes the user ids as {@code $1} (text[]) and returns rows of (user id, value)
   */
  public record TraitDefinition(String name, String sql, String description) {
  }

  /**
   * Delivery: the consumer that feeds it, the global policy defaults and the destinations.
   *
   * @param destinationsFile where the destinations were read from
   * @param retryPollMs how often each destination looks for parked deliveries that are due
   */
  public record DeliveryConfig(String destinationsFile, String groupId, int retryPollMs,
      DestinationConfig.DeliveryPolicy defaults, List<DestinationConfig> destinations) {
  }

  /** Reads and checks every key; the first problem fails with the key's name. */
  public static RouterConfig from(Settings settings) {
    RateLimit defaultLimit = new RateLimit(settings.get(RATE_LIMIT_EPS), settings.get(RATE_LIMIT_BURST));
    KafkaConfig kafka = new KafkaConfig(settings.get(KAFKA_BOOTSTRAP), settings.get(KAFKA_EMBEDDED_PORT),
        settings.get(KAFKA_TOPIC), settings.get(KAFKA_SIGNALS_TOPIC), settings.get(KAFKA_REJECTS_TOPIC),
        settings.get(KAFKA_PARTITIONS), settings.get(KAFKA_REPLICATION),
        settings.get(KAFKA_ACK_TIMEOUT_MS), settings.get(KAFKA_SESSION_TIMEOUT_MS),
        new ProducerBatching(settings.get(KAFKA_LINGER_MS), settings.get(KAFKA_COMPRESSION)),
        new ProducerBatching(settings.get(KAFKA_SIGNALS_LINGER_MS), settings.get(KAFKA_SIGNALS_COMPRESSION)));
    WarehouseConfig warehouse = new WarehouseConfig(settings.get(WAREHOUSE_INSTANCES), settings.get(WAREHOUSE_GROUP),
        settings.get(WAREHOUSE_BATCH_SIZE), settings.get(WAREHOUSE_FLUSH_MS), settings.get(WAREHOUSE_RETRY_BASE_MS),
        settings.get(WAREHOUSE_RETRY_MAX_MS), settings.get(WAREHOUSE_TYPED_TABLES),
        settings.get(WAREHOUSE_TYPED_MAX_COLUMNS), settings.get(WAREHOUSE_TYPED_MAX_TABLES));
    if (warehouse.retryMaxMs() < warehouse.retryBaseMs()) {
      throw new ConfigException(WAREHOUSE_RETRY_MAX_MS.path() + " (" + warehouse.retryMaxMs() + ") must be at least "
          + WAREHOUSE_RETRY_BASE_MS.path() + " (" + warehouse.retryBaseMs() + ")");
    }
    if (Set.copyOf(kafka.topics()).size() < kafka.topics().size()) {
      throw new ConfigException(KAFKA_TOPIC.path() + ", " + KAFKA_SIGNALS_TOPIC.path() + " and "
          + KAFKA_REJECTS_TOPIC.path() + " must all differ (got " + kafka.topics() + ")");
    }
    IngestConfig ingest = new IngestConfig(settings.get(INGEST_INSTANCES), settings.get(MAX_EVENT_BYTES),
        settings.get(MAX_REQUEST_BYTES), settings.get(BODY_TIMEOUT_MS), settings.get(MAX_BATCH_EVENTS),
        new StreamConfig(
            settings.get(STREAM_MAX_UNACKED), settings.get(STREAM_PING_MS), settings.get(STREAM_IDLE_MS),
            settings.get(STREAM_MAX_CONNECTIONS)));
    if (ingest.stream().idleTimeoutMs() <= ingest.stream().pingIntervalMs()) {
      throw new ConfigException(STREAM_IDLE_MS.path() + " (" + ingest.stream().idleTimeoutMs() + ") must be longer than "
          + STREAM_PING_MS.path() + " (" + ingest.stream().pingIntervalMs() + "), or every socket would time out");
    }
    if (ingest.maxEventBytes() > ingest.maxRequestBytes()) {
      throw new ConfigException(MAX_EVENT_BYTES.path() + " (" + ingest.maxEventBytes() + ") must not exceed "
          + MAX_REQUEST_BYTES.path() + " (" + ingest.maxRequestBytes() + ")");
    }
    return new RouterConfig(
        new HttpConfig(settings.get(HTTP_HOST), settings.get(HTTP_PORT), settings.get(HTTP_FORWARDED_HEADERS)),
        Path.of(settings.get(DATA_DIR)),
        settings.get(NODE_ID),
        new ClusterConfig(settings.get(CLUSTER_MEMBERS) == null ? List.of()
            : List.of(settings.get(CLUSTER_MEMBERS).split(",")), settings.get(CLUSTER_HOST),
            settings.get(CLUSTER_PORT), settings.get(CLUSTER_BUS_PORT)),
        settings.get(ADMIN_TOKEN),
        readSources(settings, defaultLimit),
        defaultLimit,
        kafka,
        new RedisConfig(settings.get(REDIS_URL), settings.get(REDIS_EMBEDDED_PORT)),
        new PostgresConfig(settings.get(PG_URL), settings.get(PG_EMBEDDED_PORT), settings.get(PG_POOL_SIZE)),
        ingest,
        new RealtimeConfig(settings.get(RULES_FILE), settings.get(REALTIME_INSTANCES), settings.get(REALTIME_GROUP),
            settings.get(SESSION_TIMEOUT_MS), settings.get(DEDUP_WINDOW_MS), settings.get(STATE_TTL_MS),
            settings.get(REALTIME_MAX_IN_FLIGHT), settings.get(TIMER_POLL_MS), settings.get(REDIS_PREFIX)),
        warehouse,
        readTraits(settings),
        readDelivery(settings));
  }

  private static TraitsConfig readTraits(Settings settings) {
    String file = settings.get(TRAITS_FILE);
    return new TraitsConfig(file, settings.get(TRAITS_REFRESH_MS), settings.get(TRAITS_SWEEP_MS),
        settings.get(TRAITS_BATCH_USERS), TraitsFile.read(Path.of(file), settings.isSet(TRAITS_FILE)));
  }

  private static DeliveryConfig readDelivery(Settings settings) {
    DestinationConfig.DeliveryPolicy defaults = new DestinationConfig.DeliveryPolicy(settings.get(DELIVERY_TIMEOUT_MS),
        settings.get(DELIVERY_MAX_IN_FLIGHT), settings.get(DELIVERY_MAX_ATTEMPTS),
        settings.get(DELIVERY_RETRY_DEADLINE_MS), settings.get(DELIVERY_BACKOFF_BASE_MS),
        settings.get(DELIVERY_BACKOFF_MAX_MS), settings.get(DELIVERY_JITTER), 0, false,
        settings.get(DELIVERY_QUEUE_SIZE), new DestinationConfig.CircuitPolicy(
            settings.get(DELIVERY_CIRCUIT_FAILURE_RATE), settings.get(DELIVERY_CIRCUIT_MIN_CALLS),
            settings.get(DELIVERY_CIRCUIT_WINDOW_CALLS), settings.get(DELIVERY_CIRCUIT_SLOW_CALL_MS),
            settings.get(DELIVERY_CIRCUIT_OPEN_MS), settings.get(DELIVERY_CIRCUIT_OPEN_MAX_MS),
            settings.get(DELIVERY_CIRCUIT_TRIAL_CALLS)));
    if (defaults.backoffMaxMs() < defaults.backoffBaseMs()) {
      throw new ConfigException(DELIVERY_BACKOFF_MAX_MS.path() + " (" + defaults.backoffMaxMs()
          + ") must be at least " + DELIVERY_BACKOFF_BASE_MS.path() + " (" + defaults.backoffBaseMs() + ")");
    }
    if (defaults.circuit().openMaxMs() < defaults.circuit().openMs()) {
      throw new ConfigException(DELIVERY_CIRCUIT_OPEN_MAX_MS.path() + " (" + defaults.circuit().openMaxMs()
          + ") must be at least " + DELIVERY_CIRCUIT_OPEN_MS.path() + " (" + defaults.circuit().openMs() + ")");
    }
    String file = settings.get(DESTINATIONS);
    List<DestinationConfig> destinations = DestinationsFile.read(Path.of(file), settings.isSet(DESTINATIONS), defaults);
    return new DeliveryConfig(file, settings.get(DELIVERY_GROUP), settings.get(DELIVERY_RETRY_POLL_MS),
        defaults, destinations);
  }

  public RouterConfig withSecrets(String nodeId, String adminToken, List<SourceConfig> sources) {
    return new RouterConfig(http, dataDir, nodeId, cluster, adminToken, List.copyOf(sources), defaultRateLimit, kafka,
        redis, postgres, ingest, realtime, warehouse, traits, delivery);
  }

  public RouterConfig withHttpPort(int port) {
    return new RouterConfig(new HttpConfig(http.host(), port, http.forwardedHeaders()), dataDir, nodeId, cluster,
        adminToken, sources, defaultRateLimit, kafka, redis, postgres, ingest, realtime, warehouse, traits, delivery);
  }

  /** The source for a write key given by ROUTER_WRITE_KEYS: its id derives from the key without revealing it. */
  public static SourceConfig sourceForKey(String writeKey, RateLimit rateLimit) {
    return new SourceConfig("key-" + sha256Hex(writeKey).substring(0, 12), writeKey, rateLimit);
  }

  private static List<SourceConfig> readSources(Settings settings, RateLimit defaultLimit) {
    List<SourceConfig> sources = new ArrayList<>();
    Object section = settings.section("sources");
    if (section != null) {
      if (!(section instanceof JsonArray array)) {
        throw new ConfigException("sources in " + settings.fileName() + " must be an array of {id, writeKey, rateLimit?, allowedOrigins?}");
      }
      for (int i = 0; i < array.size(); i++) {
        sources.add(readSource(array.getValue(i), "sources[" + i + "]", settings.fileName(), defaultLimit));
      }
    }
    String keys = settings.get(WRITE_KEYS);
    if (keys != null) {
      for (String key : keys.split(",")) {
        if (!key.isBlank()) {
          sources.add(sourceForKey(key.trim(), defaultLimit));
        }
      }
    }
    Set<String> ids = new HashSet<>();
    Set<String> writeKeys = new HashSet<>();
    for (SourceConfig source : sources) {
      if (!ids.add(source.id())) {
        throw new ConfigException("sources: id \"" + source.id() + "\" is used twice");
      }
      if (!writeKeys.add(source.writeKey())) {
        throw new ConfigException("sources: source \"" + source.id() + "\" repeats a write key already in use");
      }
    }
    return sources;
  }

  private static SourceConfig readSource(Object raw, String where, String file, RateLimit defaultLimit) {
    if (!(raw instanceof JsonObject json)) {
      throw new ConfigException(where + " in " + file + " must be an object {id, writeKey, rateLimit?, allowedOrigins?}");
    }
    for (String field : json.fieldNames()) {
      if (!Set.of("id", "writeKey", "rateLimit", "allowedOrigins").contains(field)) {
        throw new ConfigException("unknown config key " + where + "." + field + " in " + file);
      }
    }
    String id = json.getValue("id") instanceof String s && s.matches("[A-Za-z0-9._-]{1,64}") ? s : null;
    if (id == null) {
      throw new ConfigException(where + ".id in " + file + " must be 1 to 64 letters, digits, '.', '_' or '-' (got "
          + json.getValue("id") + ")");
    }
    String writeKey = json.getValue("writeKey") instanceof String s && !s.isBlank() ? s : null;
    if (writeKey == null) {
      throw new ConfigException(where + ".writeKey in " + file + " must be a non-empty string");
    }
    RateLimit limit = defaultLimit;
    Object rawLimit = json.getValue("rateLimit");
    if (rawLimit != null) {
      if (!(rawLimit instanceof JsonObject limitJson)
          || !(limitJson.getValue("eventsPerSecond", 0) instanceof Number eps) || eps.doubleValue() < 0
          || !(limitJson.getValue("burst", 0) instanceof Number burst) || burst.intValue() < 0) {
        throw new ConfigException(where + ".rateLimit in " + file
            + " must be {\"eventsPerSecond\": number >= 0, \"burst\": integer >= 0}");
      }
      limit = new RateLimit(eps.doubleValue(), burst.intValue());
    }
    return new SourceConfig(id, writeKey, limit, readOrigins(json.getValue("allowedOrigins"), where, file));
  }

  /** An origin as browsers send it, a host that may start with {@code *.}, or {@code *} alone. */
  private static final String ORIGIN_PATTERN = "https?://(\\*\\.)?[A-Za-z0-9.-]+(:\\d{1,5})?|\\*";

  private static List<String> readOrigins(Object raw, String where, String file) {
    if (raw == null) {
      return List.of();
    }
    String expected = where + ".allowedOrigins in " + file + " must be an array of origins such as"
        + " \"https://shop.example.com\", \"https://*.example.com\" or \"*\"";
    if (!(raw instanceof JsonArray array)) {
      throw new ConfigException(expected);
    }
    List<String> origins = new ArrayList<>();
    for (int i = 0; i < array.size(); i++) {
      if (!(array.getValue(i) instanceof String origin) || !origin.matches(ORIGIN_PATTERN)) {
        throw new ConfigException(expected + " (got " + array.getValue(i) + " at index " + i + ")");
      }
      origins.add(origin.toLowerCase(java.util.Locale.ROOT));
    }
    // "*" anywhere means any origin, which an empty list says already.
    return origins.contains("*") ? List.of() : origins;
  }

  private static String sha256Hex(String text) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JRE", e);
    }
  }
}
