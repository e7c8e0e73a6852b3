package eventrouter.config;

import java.util.List;

/**
 * Every scalar configuration key of the router, each declared once. README's configuration table
 * lists exactly these; {@code sources} (an array) is read separately by {@link RouterConfig}.
 */
public final class ConfigKeys {
  private ConfigKeys() {
  }

  private static final String URL_DOC_SUFFIX = "; unset means embedded";

  public static final ConfigKey<String> HTTP_HOST = ConfigKey.string("http.host", "ROUTER_HTTP_HOST", "0.0.0.0",
      "interface the HTTP server binds to");
  public static final ConfigKey<Integer> HTTP_PORT = ConfigKey.integer("http.port", "ROUTER_HTTP_PORT", 8080, 0, 65535,
      "HTTP port for ingest, health and admin (0 picks a free port)");
  public static final ConfigKey<String> HTTP_FORWARDED_HEADERS = ConfigKey.string("http.forwardedHeaders",
      "ROUTER_HTTP_FORWARDED_HEADERS", "none", v -> List.of("none", "x-forward", "forward", "all").contains(v),
      "one of none, x-forward, forward, all",
      "behind a proxy that sets them, trust its headers for the client's address, host and scheme: x-forward"
          + " (X-Forwarded-For, -Host, -Proto), forward (RFC 7239 Forwarded) or all; never without such a proxy, as"
          + " clients could then choose the IP recorded on their events");
  public static final ConfigKey<String> DATA_DIR = ConfigKey.string("dataDir", "ROUTER_DATA_DIR", "./data",
      "directory for embedded services' data, the generated write key and the generated admin token");
  public static final ConfigKey<String> ADMIN_TOKEN = ConfigKey.string("adminToken", "ROUTER_ADMIN_TOKEN", null,
      v -> v.length() >= 16, "at least 16 characters",
      "bearer token for every /admin/... endpoint; when unset, one is generated once into the data dir and printed");
  public static final ConfigKey<String> WRITE_KEYS = ConfigKey.string("writeKeys", "ROUTER_WRITE_KEYS", null,
      "comma-separated write keys, each becoming a source; when no key or source is configured, one is generated");

  public static final ConfigKey<String> NODE_ID = ConfigKey.string("nodeId", "ROUTER_NODE_ID", null,
      v -> v.matches("[A-Za-z0-9._-]{1,64}"), "1 to 64 letters, digits, '.', '_' or '-'",
      "this node's name, unique among the nodes on one Kafka; its consumers' static group membership derives from it;"
      + " when unset, one is generated once into the data dir");

  public static final ConfigKey<String> CLUSTER_MEMBERS = ConfigKey.string("cluster.members",
      "ROUTER_CLUSTER_MEMBERS", null, v -> v.matches("[^,\\s]+:\\d+(,[^,\\s]+:\\d+)*"), "host:port[,host:port...]",
      "the cluster's nodes (their cluster.host:cluster.port, this one's included); setting it clusters the event bus");
  public static final ConfigKey<String> CLUSTER_HOST = ConfigKey.string("cluster.host", "ROUTER_CLUSTER_HOST",
      "127.0.0.1", "the address this node binds for the cluster and that the other nodes reach it at");
  public static final ConfigKey<Integer> CLUSTER_PORT = ConfigKey.integer("cluster.port", "ROUTER_CLUSTER_PORT", 5701,
      1, 65535, "this node's cluster membership port (Hazelcast)");
  public static final ConfigKey<Integer> CLUSTER_BUS_PORT = ConfigKey.integer("cluster.eventBusPort",
      "ROUTER_CLUSTER_EVENT_BUS_PORT", 0, 0, 65535, "this node's event-bus port, which the others send to (0 picks a"
      + " free port, which the cluster shares)");

  public static final ConfigKey<String> KAFKA_BOOTSTRAP = ConfigKey.string("kafka.bootstrap", "ROUTER_KAFKA_BOOTSTRAP",
      null, v -> v.matches("[^,\\s]+:\\d+(,[^,\\s]+:\\d+)*"), "host:port[,host:port...]",
      "Kafka bootstrap servers" + URL_DOC_SUFFIX);
  public static final ConfigKey<String> KAFKA_TOPIC = ConfigKey.string("kafka.topic", "ROUTER_KAFKA_TOPIC",
      "router.events", v -> v.matches("[a-zA-Z0-9._-]{1,249}"), "a legal Kafka topic name",
      "topic of the durable event log");
  public static final ConfigKey<String> KAFKA_SIGNALS_TOPIC = ConfigKey.string("kafka.signalsTopic",
      "ROUTER_KAFKA_SIGNALS_TOPIC", "router.signals", v -> v.matches("[a-zA-Z0-9._-]{1,249}"),
      "a legal Kafka topic name", "topic of the signals that rules raise");
  public static final ConfigKey<String> KAFKA_REJECTS_TOPIC = ConfigKey.string("kafka.rejectsTopic",
      "ROUTER_KAFKA_REJECTS_TOPIC", "router.rejects", v -> v.matches("[a-zA-Z0-9._-]{1,249}"),
      "a legal Kafka topic name", "topic of the events ingest refused, which the warehouse keeps in ingest_rejects");
  public static final ConfigKey<Integer> KAFKA_PARTITIONS = ConfigKey.integer("kafka.partitions",
      "ROUTER_KAFKA_PARTITIONS", 8, 1, 10_000, "partitions of the log topics (events, signals, rejects) when the router creates them");
  public static final ConfigKey<Integer> KAFKA_REPLICATION = ConfigKey.integer("kafka.replicationFactor",
      "ROUTER_KAFKA_REPLICATION_FACTOR", 1, 1, 10, "replication factor of the log topics when the router creates them");
  public static final ConfigKey<Integer> KAFKA_ACK_TIMEOUT_MS = ConfigKey.integer("kafka.ackTimeoutMs",
      "ROUTER_KAFKA_ACK_TIMEOUT_MS", 10_000, 1_000, 300_000,
      "longest wait for Kafka to acknowledge a request's events before the client gets 503");
  public static final ConfigKey<Integer> KAFKA_SESSION_TIMEOUT_MS = ConfigKey.integer("kafka.sessionTimeoutMs",
      "ROUTER_KAFKA_SESSION_TIMEOUT_MS", 10_000, 6_000, 300_000,
      "how long a consumer of a node that died keeps its partitions before the other nodes take them over (a restarted"
      + " node takes its own back at once)");
  public static final ConfigKey<Integer> KAFKA_LINGER_MS = ConfigKey.integer("kafka.lingerMs", "ROUTER_KAFKA_LINGER_MS",
      1, 0, 1_000, "producer linger: trades a little latency for larger Kafka batches");
  public static final ConfigKey<String> KAFKA_COMPRESSION = ConfigKey.string("kafka.compression",
      "ROUTER_KAFKA_COMPRESSION", "lz4", v -> List.of("none", "gzip", "snappy", "lz4", "zstd").contains(v),
      "one of none, gzip, snappy, lz4, zstd", "producer compression codec");
  public static final ConfigKey<Integer> KAFKA_SIGNALS_LINGER_MS = ConfigKey.integer("kafka.signalsLingerMs",
      "ROUTER_KAFKA_SIGNALS_LINGER_MS", 1, 0, 1_000,
      "linger of the signals producer: a signal is a single record that a user's socket waits on");
  public static final ConfigKey<String> KAFKA_SIGNALS_COMPRESSION = ConfigKey.string("kafka.signalsCompression",
      "ROUTER_KAFKA_SIGNALS_COMPRESSION", "lz4", v -> List.of("none", "gzip", "snappy", "lz4", "zstd").contains(v),
      "one of none, gzip, snappy, lz4, zstd", "compression codec of the signals producer");
  public static final ConfigKey<Integer> KAFKA_EMBEDDED_PORT = ConfigKey.integer("kafka.embeddedPort",
      "ROUTER_KAFKA_EMBEDDED_PORT", 0, 0, 65535, "port of the embedded broker (0 picks a free port)");

  public static final ConfigKey<String> REDIS_URL = ConfigKey.string("redis.url", "ROUTER_REDIS_URL", null,
      v -> v.matches("rediss?://.+"), "a redis://host:port/db URL", "Redis server" + URL_DOC_SUFFIX);
  public static final ConfigKey<Integer> REDIS_EMBEDDED_PORT = ConfigKey.integer("redis.embeddedPort",
      "ROUTER_REDIS_EMBEDDED_PORT", 0, 0, 65535, "port of the embedded Redis (0 picks a free port)");

  public static final ConfigKey<String> PG_URL = ConfigKey.string("postgres.url", "ROUTER_PG_URL", null,
      v -> v.matches("postgres(ql)?://.+"), "a postgresql://user:pass@host:port/db URL",
      "Postgres warehouse" + URL_DOC_SUFFIX);
  public static final ConfigKey<Integer> PG_EMBEDDED_PORT = ConfigKey.integer("postgres.embeddedPort",
      "ROUTER_PG_EMBEDDED_PORT", 0, 0, 65535, "port of the embedded Postgres (0 picks a free port)");
  public static final ConfigKey<Integer> PG_POOL_SIZE = ConfigKey.integer("postgres.poolSize", "ROUTER_PG_POOL_SIZE",
      4, 1, 100, "connections per warehouse verticle instance (its batches in flight at once) and of delivery's pool");

  public static final ConfigKey<Integer> INGEST_INSTANCES = ConfigKey.integer("ingest.instances",
      "ROUTER_INGEST_INSTANCES", 2, 1, 256, "ingest verticle instances (they share the HTTP port)");
  public static final ConfigKey<Integer> MAX_EVENT_BYTES = ConfigKey.integer("ingest.maxEventBytes",
      "ROUTER_MAX_EVENT_BYTES", 32 * 1024, 256, 16 * 1024 * 1024, "largest event, in bytes of JSON");
  public static final ConfigKey<Integer> MAX_REQUEST_BYTES = ConfigKey.integer("ingest.maxRequestBytes",
      "ROUTER_MAX_REQUEST_BYTES", 500 * 1024, 1024, 64 * 1024 * 1024,
      "largest request body after gzip decompression, in bytes");
  public static final ConfigKey<Integer> BODY_TIMEOUT_MS = ConfigKey.integer("ingest.bodyTimeoutMs",
      "ROUTER_BODY_TIMEOUT_MS", 30_000, 100, 3_600_000,
      "longest a request body may take to arrive; a slower one is answered 408 and its connection closed");
  public static final ConfigKey<Integer> MAX_BATCH_EVENTS = ConfigKey.integer("ingest.maxBatchEvents",
      "ROUTER_MAX_BATCH_EVENTS", 2_500, 1, 100_000, "most events in one batch request");
  public static final ConfigKey<Integer> STREAM_MAX_UNACKED = ConfigKey.integer("stream.maxUnacked",
      "ROUTER_STREAM_MAX_UNACKED", 1_000, 1, 1_000_000,
      "events a WebSocket may have waiting for their ack; at the cap the router stops reading that socket");
  public static final ConfigKey<Integer> STREAM_PING_MS = ConfigKey.integer("stream.pingIntervalMs",
      "ROUTER_STREAM_PING_INTERVAL_MS", 20_000, 100, 3_600_000, "how often the router pings each WebSocket");
  public static final ConfigKey<Integer> STREAM_IDLE_MS = ConfigKey.integer("stream.idleTimeoutMs",
      "ROUTER_STREAM_IDLE_TIMEOUT_MS", 60_000, 200, Integer.MAX_VALUE,
      "a WebSocket with no frame and no pong for this long is closed (1001)");
  public static final ConfigKey<Integer> STREAM_MAX_CONNECTIONS = ConfigKey.integer("stream.maxConnectionsPerKey",
      "ROUTER_STREAM_MAX_CONNECTIONS_PER_KEY", 10_000, 1, 10_000_000,
      "open WebSockets per write key on one node; one more is closed with 1013");
  public static final ConfigKey<Double> RATE_LIMIT_EPS = ConfigKey.decimal("rateLimit.eventsPerSecond",
      "ROUTER_RATE_LIMIT_EVENTS_PER_SECOND", 0, 0,
      "default per-source rate limit in events per second (0 = off); a source's own rateLimit overrides it");
  public static final ConfigKey<Integer> RATE_LIMIT_BURST = ConfigKey.integer("rateLimit.burst",
      "ROUTER_RATE_LIMIT_BURST", 0, 0, Integer.MAX_VALUE,
      "default token-bucket size in events (0 = one second's worth)");

  public static final ConfigKey<String> RULES_FILE = ConfigKey.string("rules.file", "ROUTER_RULES", "conf/rules.json",
      "the rules file (see README, Rules)");
  public static final ConfigKey<String> TRAITS_FILE = ConfigKey.string("traits.file", "ROUTER_TRAITS",
      "conf/traits.json", "the computed traits file (see README, Computed traits)");
  public static final ConfigKey<Integer> TRAITS_REFRESH_MS = ConfigKey.integer("traits.refreshMs",
      "ROUTER_TRAITS_REFRESH_MS", 1_000, 50, 3_600_000,
      "how often the traits of users with newly stored events are computed again");
  public static final ConfigKey<Integer> TRAITS_SWEEP_MS = ConfigKey.integer("traits.sweepMs",
      "ROUTER_TRAITS_SWEEP_MS", 3_600_000, 0, Integer.MAX_VALUE,
      "how often every known user's traits are computed again, from start-up on (0 = never)");
  public static final ConfigKey<Integer> TRAITS_BATCH_USERS = ConfigKey.integer("traits.batchUsers",
      "ROUTER_TRAITS_BATCH_USERS", 500, 1, 100_000, "users whose traits one query computes");
  public static final ConfigKey<Integer> REALTIME_INSTANCES = ConfigKey.integer("realtime.instances",
      "ROUTER_REALTIME_INSTANCES", 1, 1, 64, "real-time verticle instances (one consumer each, same group)");
  public static final ConfigKey<String> REALTIME_GROUP = ConfigKey.string("realtime.groupId",
      "ROUTER_REALTIME_GROUP_ID", "router-realtime", "Kafka consumer group of the real-time path");
  public static final ConfigKey<Integer> SESSION_TIMEOUT_MS = ConfigKey.integer("realtime.sessionTimeoutMs",
      "ROUTER_SESSION_TIMEOUT_MS", 30 * 60_000, 1_000, Integer.MAX_VALUE,
      "inactivity after which a user's next event starts a new session");
  public static final ConfigKey<Integer> DEDUP_WINDOW_MS = ConfigKey.integer("realtime.dedupWindowMs",
      "ROUTER_DEDUP_WINDOW_MS", 24 * 3_600_000, 1_000, Integer.MAX_VALUE,
      "a messageId sent again by the same user within this window of the user's last event is skipped on the"
      + " real-time path");
  public static final ConfigKey<Integer> STATE_TTL_MS = ConfigKey.integer("realtime.stateTtlMs",
      "ROUTER_STATE_TTL_MS", 7 * 24 * 3_600_000, 60_000, Integer.MAX_VALUE,
      "how long Redis keeps an idle user's session, cart and traits");
  public static final ConfigKey<Integer> REALTIME_MAX_IN_FLIGHT = ConfigKey.integer("realtime.maxInFlight",
      "ROUTER_REALTIME_MAX_IN_FLIGHT", 10_000, 1, 1_000_000,
      "events being processed at once per instance; polling pauses above it");
  public static final ConfigKey<Integer> TIMER_POLL_MS = ConfigKey.integer("realtime.timerPollMs",
      "ROUTER_TIMER_POLL_MS", 100, 10, 10_000, "how often due timers are claimed (resolution of absence rules)");
  public static final ConfigKey<String> REDIS_PREFIX = ConfigKey.string("realtime.redisPrefix",
      "ROUTER_REDIS_PREFIX", "er:", v -> v.matches("[A-Za-z0-9:._-]{1,64}"), "1 to 64 of A-Z a-z 0-9 : . _ -",
      "prefix of every Redis key the router writes");

  public static final ConfigKey<Integer> WAREHOUSE_INSTANCES = ConfigKey.integer("warehouse.instances",
      "ROUTER_WAREHOUSE_INSTANCES", 1, 1, 64, "warehouse writer instances (one consumer each, same group)");
  public static final ConfigKey<String> WAREHOUSE_GROUP = ConfigKey.string("warehouse.groupId",
      "ROUTER_WAREHOUSE_GROUP_ID", "router-warehouse", "Kafka consumer group of the warehouse writer");
  public static final ConfigKey<Integer> WAREHOUSE_BATCH_SIZE = ConfigKey.integer("warehouse.batchSize",
      "ROUTER_WAREHOUSE_BATCH_SIZE", 1_000, 1, 50_000, "events per Postgres transaction at most");
  public static final ConfigKey<Integer> WAREHOUSE_FLUSH_MS = ConfigKey.integer("warehouse.flushMs",
      "ROUTER_WAREHOUSE_FLUSH_MS", 50, 1, 60_000, "longest an event waits in a partial batch");
  public static final ConfigKey<Integer> WAREHOUSE_RETRY_BASE_MS = ConfigKey.integer("warehouse.retryBaseMs",
      "ROUTER_WAREHOUSE_RETRY_BASE_MS", 200, 1, 60_000, "first retry delay when Postgres fails");
  public static final ConfigKey<Integer> WAREHOUSE_RETRY_MAX_MS = ConfigKey.integer("warehouse.retryMaxMs",
      "ROUTER_WAREHOUSE_RETRY_MAX_MS", 10_000, 1, 600_000, "longest retry delay when Postgres fails");
  public static final ConfigKey<Boolean> WAREHOUSE_TYPED_TABLES = ConfigKey.bool("warehouse.typedTables",
      "ROUTER_WAREHOUSE_TYPED_TABLES", true,
      "a table per track event and typed property and trait columns (false: the jsonb columns only)");
  public static final ConfigKey<Integer> WAREHOUSE_TYPED_MAX_COLUMNS = ConfigKey.integer("warehouse.typedMaxColumns",
      "ROUTER_WAREHOUSE_TYPED_MAX_COLUMNS", 1_000, 1, 1_500,
      "typed columns per table at most (Postgres allows 1,600 in all); later ones go to schema_overflow");
  public static final ConfigKey<Integer> WAREHOUSE_TYPED_MAX_TABLES = ConfigKey.integer("warehouse.typedMaxTables",
      "ROUTER_WAREHOUSE_TYPED_MAX_TABLES", 1_000, 0, 100_000,
      "tables per track event at most; events past it are only in tracks, and schema_overflow says so");

  public static final ConfigKey<String> DESTINATIONS = ConfigKey.string("delivery.destinations", "ROUTER_DESTINATIONS",
      "conf/destinations.json", "JSON file holding the array of destinations (a missing default file means none)");
  public static final ConfigKey<String> DELIVERY_GROUP = ConfigKey.string("delivery.groupId",
      "ROUTER_DELIVERY_GROUP_ID", "router-delivery",
      "prefix of delivery's consumer groups: each destination reads the log in its own, `<groupId>.<destination id>`");
  public static final ConfigKey<Integer> DELIVERY_TIMEOUT_MS = ConfigKey.integer("delivery.timeoutMs",
      "ROUTER_DELIVERY_TIMEOUT_MS", 10_000, 10, 300_000, "default: longest wait for one delivery request");
  public static final ConfigKey<Integer> DELIVERY_MAX_IN_FLIGHT = ConfigKey.integer("delivery.maxInFlight",
      "ROUTER_DELIVERY_MAX_IN_FLIGHT", 16, 1, 10_000, "default: concurrent requests per destination");
  public static final ConfigKey<Integer> DELIVERY_MAX_ATTEMPTS = ConfigKey.integer("delivery.maxAttempts",
      "ROUTER_DELIVERY_MAX_ATTEMPTS", 10, 1, 1_000, "default: attempts before a delivery becomes a dead letter");
  public static final ConfigKey<Integer> DELIVERY_RETRY_DEADLINE_MS = ConfigKey.integer("delivery.retryDeadlineMs",
      "ROUTER_DELIVERY_RETRY_DEADLINE_MS", 3 * 3_600_000, 1, Integer.MAX_VALUE,
      "default: a delivery not done this long after the router took it becomes a dead letter");
  public static final ConfigKey<Integer> DELIVERY_BACKOFF_BASE_MS = ConfigKey.integer("delivery.backoffBaseMs",
      "ROUTER_DELIVERY_BACKOFF_BASE_MS", 1_000, 1, 3_600_000, "default: first retry delay");
  public static final ConfigKey<Integer> DELIVERY_BACKOFF_MAX_MS = ConfigKey.integer("delivery.backoffMaxMs",
      "ROUTER_DELIVERY_BACKOFF_MAX_MS", 300_000, 1, 86_400_000, "default: longest retry delay");
  public static final ConfigKey<Double> DELIVERY_JITTER = new ConfigKey<>("delivery.jitter", "ROUTER_DELIVERY_JITTER",
      Double.class, 0.2, v -> v >= 0 && v <= 1, "a number from 0 to 1",
      "default: share of each retry delay taken off at random, so retries do not come in step");
  public static final ConfigKey<Integer> DELIVERY_QUEUE_SIZE = ConfigKey.integer("delivery.queueSize",
      "ROUTER_DELIVERY_QUEUE_SIZE", 1_000, 1, 1_000_000,
      "default: records a destination holds unsettled; at that many, its feed stops reading until it catches up");
  public static final ConfigKey<Integer> DELIVERY_CIRCUIT_FAILURE_RATE = ConfigKey.integer(
      "delivery.circuitFailureRate", "ROUTER_DELIVERY_CIRCUIT_FAILURE_RATE", 50, 1, 100,
      "default: percentage of failed calls, or of slow ones, in the window that opens a destination's circuit");
  public static final ConfigKey<Integer> DELIVERY_CIRCUIT_MIN_CALLS = ConfigKey.integer("delivery.circuitMinCalls",
      "ROUTER_DELIVERY_CIRCUIT_MIN_CALLS", 100, 1, 100_000,
      "default: calls the window must hold before their failure rate can open the circuit");
  public static final ConfigKey<Integer> DELIVERY_CIRCUIT_WINDOW_CALLS = ConfigKey.integer(
      "delivery.circuitWindowCalls", "ROUTER_DELIVERY_CIRCUIT_WINDOW_CALLS", 100, 1, 100_000,
      "default: the sliding window the failure rate is taken over: a destination's last this many calls");
  public static final ConfigKey<Integer> DELIVERY_CIRCUIT_SLOW_CALL_MS = ConfigKey.integer(
      "delivery.circuitSlowCallMs", "ROUTER_DELIVERY_CIRCUIT_SLOW_CALL_MS", 5_000, 1, 3_600_000,
      "default: a call that takes longer counts as slow, and slow calls open the circuit as failures do");
  public static final ConfigKey<Integer> DELIVERY_CIRCUIT_OPEN_MS = ConfigKey.integer("delivery.circuitOpenMs",
      "ROUTER_DELIVERY_CIRCUIT_OPEN_MS", 1_000, 10, 3_600_000,
      "default: how long an open circuit waits before its trial calls; doubled after each failed trial round");
  public static final ConfigKey<Integer> DELIVERY_CIRCUIT_OPEN_MAX_MS = ConfigKey.integer(
      "delivery.circuitOpenMaxMs", "ROUTER_DELIVERY_CIRCUIT_OPEN_MAX_MS", 60_000, 10, 3_600_000,
      "default: the longest an open circuit waits before its trial calls");
  public static final ConfigKey<Integer> DELIVERY_CIRCUIT_TRIAL_CALLS = ConfigKey.integer(
      "delivery.circuitTrialCalls", "ROUTER_DELIVERY_CIRCUIT_TRIAL_CALLS", 10, 1, 1_000,
      "default: trial calls a half-open circuit lets through; their failure rate closes or reopens it");

  /** A key that was replaced: a config that still sets it fails with what replaced it. */
  public record ReplacedKey(String path, String env, String replacement) {
  }

  /** Every replaced key, so that an old config is refused with what to write instead, not read otherwise than meant. */
  public static final List<ReplacedKey> REPLACED = List.of(
      new ReplacedKey("delivery.circuitFailures", "ROUTER_DELIVERY_CIRCUIT_FAILURES", "the circuit breaker now opens"
          + " on a share of failed calls: use delivery.circuitFailureRate (percent) and delivery.circuitMinCalls,"
          + " over delivery.circuitWindowCalls"),
      new ReplacedKey("delivery.circuitResetMs", "ROUTER_DELIVERY_CIRCUIT_RESET_MS", "use delivery.circuitOpenMs (the"
          + " first wait of an open circuit), delivery.circuitOpenMaxMs (the longest) and delivery.circuitTrialCalls"));

  public static final ConfigKey<Integer> DELIVERY_RETRY_POLL_MS = ConfigKey.integer("delivery.retryPollMs",
      "ROUTER_DELIVERY_RETRY_POLL_MS", 1_000, 10, 60_000,
      "how often each destination looks for parked deliveries that are due");

  public static final List<ConfigKey<?>> ALL = List.of(HTTP_HOST, HTTP_PORT, HTTP_FORWARDED_HEADERS, DATA_DIR,
      ADMIN_TOKEN, WRITE_KEYS, NODE_ID, CLUSTER_MEMBERS, CLUSTER_HOST, CLUSTER_PORT, CLUSTER_BUS_PORT,
      KAFKA_BOOTSTRAP, KAFKA_TOPIC, KAFKA_SIGNALS_TOPIC, KAFKA_REJECTS_TOPIC, KAFKA_PARTITIONS, KAFKA_REPLICATION,
      KAFKA_ACK_TIMEOUT_MS, KAFKA_SESSION_TIMEOUT_MS,
      KAFKA_LINGER_MS, KAFKA_COMPRESSION, KAFKA_SIGNALS_LINGER_MS, KAFKA_SIGNALS_COMPRESSION, KAFKA_EMBEDDED_PORT,
      REDIS_URL, REDIS_EMBEDDED_PORT, PG_URL, PG_EMBEDDED_PORT, PG_POOL_SIZE,
      INGEST_INSTANCES, MAX_EVENT_BYTES, MAX_REQUEST_BYTES, BODY_TIMEOUT_MS, MAX_BATCH_EVENTS, STREAM_MAX_UNACKED,
      STREAM_PING_MS,
      STREAM_IDLE_MS, STREAM_MAX_CONNECTIONS, RATE_LIMIT_EPS, RATE_LIMIT_BURST,
      RULES_FILE, TRAITS_FILE, TRAITS_REFRESH_MS, TRAITS_SWEEP_MS, TRAITS_BATCH_USERS,
      REALTIME_INSTANCES, REALTIME_GROUP, SESSION_TIMEOUT_MS, DEDUP_WINDOW_MS, STATE_TTL_MS,
      REALTIME_MAX_IN_FLIGHT, TIMER_POLL_MS, REDIS_PREFIX,
      WAREHOUSE_INSTANCES, WAREHOUSE_GROUP, WAREHOUSE_BATCH_SIZE, WAREHOUSE_FLUSH_MS, WAREHOUSE_RETRY_BASE_MS,
      WAREHOUSE_RETRY_MAX_MS, WAREHOUSE_TYPED_TABLES, WAREHOUSE_TYPED_MAX_COLUMNS, WAREHOUSE_TYPED_MAX_TABLES,
      DESTINATIONS, DELIVERY_GROUP, DELIVERY_TIMEOUT_MS, DELIVERY_MAX_IN_FLIGHT,
      DELIVERY_MAX_ATTEMPTS, DELIVERY_RETRY_DEADLINE_MS, DELIVERY_BACKOFF_BASE_MS, DELIVERY_BACKOFF_MAX_MS,
      DELIVERY_JITTER, DELIVERY_QUEUE_SIZE, DELIVERY_CIRCUIT_FAILURE_RATE, DELIVERY_CIRCUIT_MIN_CALLS,
      DELIVERY_CIRCUIT_WINDOW_CALLS, DELIVERY_CIRCUIT_SLOW_CALL_MS, DELIVERY_CIRCUIT_OPEN_MS,
      DELIVERY_CIRCUIT_OPEN_MAX_MS,
      DELIVERY_CIRCUIT_TRIAL_CALLS, DELIVERY_RETRY_POLL_MS);
}
