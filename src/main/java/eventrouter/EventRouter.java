package eventrouter;

import eventrouter.admin.AdminApi;
import eventrouter.admin.HealthProbes;
import eventrouter.admin.VerticlesApi;
import eventrouter.cluster.Cluster;
import eventrouter.cluster.Instances;
import eventrouter.config.RouterConfig;
import eventrouter.config.RouterConfig.SourceConfig;
import eventrouter.config.Secrets;
import eventrouter.delivery.DeadLetterApi;
import eventrouter.delivery.DeliveryVerticle;
import eventrouter.delivery.Destination;
import eventrouter.embedded.EmbeddedKafka;
import eventrouter.embedded.EmbeddedPostgres;
import eventrouter.embedded.EmbeddedRedis;
import eventrouter.ingest.IngestVerticle;
import eventrouter.ingest.RateLimiter;
import eventrouter.ingest.Rejects;
import eventrouter.ingest.StreamStats;
import eventrouter.log.EventLog;
import eventrouter.log.GroupMember;
import eventrouter.log.Topics;
import eventrouter.realtime.RealtimeHealth;
import eventrouter.realtime.RealtimeVerticle;
import eventrouter.realtime.UserLookup;
import eventrouter.rules.RuleBook;
import eventrouter.traits.TraitsVerticle;
import eventrouter.warehouse.Migrations;
import eventrouter.warehouse.WarehouseVerticle;
import eventrouter.warehouse.typed.TypedRebuild;
import eventrouter.warehouse.typed.TypedTables;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running router: the embedded services it started, the Vert.x instance and the deployed verticles. Start-up runs
 * on the calling thread (never an event loop) and blocks until the router can take traffic; it deploys in dependency
 * order: rules and destinations, services, log topics, schema, warehouse writer, real-time path, delivery, then
 * ingest, which is the last thing to open a port.
 */
public final class EventRouter implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EventRouter.class);
  private static final Duration STEP_TIMEOUT = Duration.ofSeconds(90);
  private static final long METADATA_REFRESH_MS = 60_000;

  private final RouterConfig config;
  private final Clock clock;
  private final RuleBook rules;
  private final List<Destination> destinations;
  /** The router's one meter registry, served in Prometheus's format at {@code GET /admin/metrics}. */
  private final PrometheusMeterRegistry meterRegistry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Deque<AutoCloseable> closeInReverse = new ArrayDeque<>();
  private String kafkaBootstrap;
  private String redisUrl;
  private String postgresUrl;
  private Vertx vertx;

  private EventRouter(RouterConfig config, Clock clock, RuleBook rules, List<Destination> destinations) {
    this.config = config;
    this.clock = clock;
    this.rules = rules;
    this.destinations = destinations;
  }

  public static EventRouter start(RouterConfig unresolved) {
    return start(unresolved, Clock.systemUTC());
  }

  /**
   * Starts everything, or closes what it had started and throws with a message naming the part that failed.
   *
   * @param clock the time of {@code receivedAt} and of timers; tests pass a clock they move
   */
  public static EventRouter start(RouterConfig unresolved, Clock clock) {
    // A broken rule fails start-up before anything else is started.
    RuleBook rules = new RuleBook(Path.of(unresolved.realtime().rulesFile()));
    // Destinations' CEL compiles too: a broken expression fails start-up before anything is started.
    List<Destination> destinations = Destination.compileAll(unresolved.delivery().destinations());
    Secrets.Resolved resolved;
    try {
      Files.createDirectories(unresolved.dataDir());
      resolved = Secrets.resolve(unresolved);
    } catch (IOException e) {
      throw new IllegalStateException("cannot create data dir " + unresolved.dataDir() + ": " + e.getMessage(), e);
    }
    RouterConfig config = resolved.config();
    boolean anyPort = config.http().port() == 0;
    for (int attempt = 1; ; attempt++) {
      RouterConfig attemptConfig = anyPort ? config.withHttpPort(freePort()) : config;
      EventRouter router = new EventRouter(attemptConfig, clock, rules, destinations);
      try {
        router.startAll();
        router.printBanner(resolved);
        return router;
      } catch (RuntimeException e) {
        router.close();
        // A port found free can be taken before ingest binds it (an outgoing connection's ephemeral port):
        // with port 0 asked for, any other port does, so try again rather than fail.
        if (!anyPort || attempt == 3 || !portTaken(e)) {
          throw e;
        }
        LOG.warn("HTTP port {} was taken before ingest could bind it; starting again on another", attemptConfig
            .http().port());
      }
    }
  }

  private static boolean portTaken(Throwable failure) {
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      if (cause instanceof BindException || String.valueOf(cause.getMessage())
          .contains("Address already in use")) {
        return true;
      }
    }
    return false;
  }

  public RouterConfig config() {
    return config;
  }

  public int httpPort() {
    return config.http().port();
  }

  public String kafkaBootstrap() {
    return kafkaBootstrap;
  }

  public String redisUrl() {
    return redisUrl;
  }

  public String postgresUrl() {
    return postgresUrl;
  }

  /** The router's Vert.x, whose event bus carries {@link eventrouter.bus.Addresses}. */
  public Vertx vertx() {
    return vertx;
  }

  public MeterRegistry meterRegistry() {
    return meterRegistry;
  }

  /** Heap, GC pauses, threads and CPU beside the router's own meters, so one scrape shows what the JVM costs. */
  private void bindJvmMeters() {
    new JvmMemoryMetrics().bindTo(meterRegistry);
    new JvmThreadMetrics().bindTo(meterRegistry);
    new ProcessorMetrics().bindTo(meterRegistry);
    JvmGcMetrics gc = new JvmGcMetrics();
    gc.bindTo(meterRegistry);
    closeInReverse.push(gc);
  }

  private void startAll() {
    bindJvmMeters();
    startEmbeddedServices();
    vertx = await(Cluster.vertx(config.cluster()), config.cluster().enabled()
        ? "joining the cluster " + config.cluster().members() + " as " + config.cluster().host() + ":"
            + config.cluster().port() : "starting Vert.x");
    closeInReverse.push(() -> await(vertx.close(), "closing Vert.x"));

    await(Topics.ensureLogTopics(vertx, kafkaBootstrap, config.kafka()), "preparing the Kafka topics");
    EventLog eventLog = new EventLog(kafkaBootstrap, config.kafka(), config.kafka().topic(),
        config.kafka().events());
    closeInReverse.push(eventLog);
    EventLog signalLog = new EventLog(kafkaBootstrap, config.kafka(), config.kafka().signalsTopic(),
        config.kafka().signals());
    closeInReverse.push(signalLog);
    EventLog rejectLog = new EventLog(kafkaBootstrap, config.kafka(), config.kafka().rejectsTopic(),
        config.kafka().events());
    closeInReverse.push(rejectLog);
    for (EventLog log : List.of(eventLog, signalLog, rejectLog)) {
      await(log.warmMetadata(vertx, Duration.ofSeconds(30)), "Kafka at " + kafkaBootstrap + ": fetching metadata");
      vertx.setPeriodic(METADATA_REFRESH_MS, id -> log.warmMetadata(vertx, Duration.ofSeconds(30))
          .onFailure(e -> LOG.warn("could not refresh Kafka metadata: {}", e.getMessage())));
    }

    PgConnectOptions pgOptions = PgConnectOptions.fromUri(postgresUrl);
    Pool adminPool = PgBuilder.pool().with(new PoolOptions().setMaxSize(2)).connectingTo(pgOptions).using(vertx)
        .build();
    closeInReverse.push(() -> adminPool.close());
    await(Migrations.apply(adminPool), "Postgres at " + redact(postgresUrl) + ": applying migrations");

    RedisOptions redisOptions = new RedisOptions().setConnectionString(redisUrl);
    Redis redis = Redis.createClient(vertx, redisOptions);
    closeInReverse.push(redis::close);
    await(redis.send(Request.cmd(Command.PING)), "Redis at " + redact(redisUrl) + ": PING");
    UserLookup users = new UserLookup(vertx, redisOptions, config.realtime());
    await(users.connect(), "Redis at " + redact(redisUrl) + ": connecting");
    closeInReverse.push(() -> await(users.close(), "closing the admin Redis connection"));

    Admin kafkaAdmin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafkaBootstrap));
    closeInReverse.push(() -> kafkaAdmin.close(Duration.ofSeconds(5)));

    // Changed by live scaling while the health check reads it.
    Set<String> deployments = ConcurrentHashMap.newKeySet();
    // Before the warehouse writer, whose notices of changed users it listens to.
    if (!config.traits().traits().isEmpty()) {
      deployments.add(await(vertx.deployVerticle(new TraitsVerticle(config.traits(), pgOptions, redisOptions,
          config.realtime().redisPrefix(), config.realtime().stateTtlMs(), meterRegistry)),
          "starting the computed traits of " + config.traits().file()));
    }
    Instances warehouse = new Instances(vertx, "warehouse", n -> new WarehouseVerticle(config.warehouse(),
        kafkaBootstrap, member("warehouse", n), config.kafka(), pgOptions, config.postgres().poolSize()), deployments);
    await(warehouse.scaleTo(config.warehouse().instances()), "deploying the warehouse writer");

    RealtimeHealth realtimeHealth = new RealtimeHealth();
    Instances realtime = new Instances(vertx, "realtime", n -> new RealtimeVerticle(config.realtime(), kafkaBootstrap,
        member("realtime", n), config.kafka().topic(), redisOptions, rules, signalLog, clock, realtimeHealth,
        meterRegistry), deployments);
    await(realtime.scaleTo(config.realtime().instances()), "deploying the real-time path");

    deployments.add(await(vertx.deployVerticle(new DeliveryVerticle(config.delivery(), destinations, kafkaBootstrap,
        member("delivery", 0), config.kafka(), pgOptions, config.postgres().poolSize(), meterRegistry, clock)),
        "starting delivery to " + destinations.size() + " destinations"));

    StreamStats streamStats = new StreamStats();
    // Ingest mounts the admin API, which scales ingest: the holder breaks the circle.
    AtomicReference<Instances> ingestHolder = new AtomicReference<>();
    AdminApi adminApi = new AdminApi(config.adminToken(),
        HealthProbes.create(vertx, kafkaAdmin, redis, adminPool, () -> deployments, realtimeHealth), config.sources(),
        users, rules, streamStats,
        new DeadLetterApi(adminPool, destinations.stream().map(Destination::id).collect(Collectors.toSet())),
        new VerticlesApi(kafkaAdmin, config.nodeId(), verticleKinds(ingestHolder, realtime, warehouse)),
        new TypedRebuild(adminPool, TypedTables.Limits.of(config.warehouse())),
        meterRegistry::scrape);
    Map<String, SourceConfig> sourcesByKey = config.sources().stream()
        .collect(Collectors.toUnmodifiableMap(SourceConfig::writeKey, Function.identity()));
    RateLimiter rateLimiter = new RateLimiter(System::nanoTime);
    Rejects rejects = new Rejects(rejectLog, meterRegistry);
    Instances ingest = new Instances(vertx, "ingest", n -> new IngestVerticle(config.http(), config.ingest(),
        sourcesByKey, eventLog, rejects, rateLimiter, adminApi::mount, clock, streamStats), deployments);
    ingestHolder.set(ingest);
    await(ingest.scaleTo(config.ingest().instances()),
        "starting HTTP ingest on " + config.http().host() + ":" + config.http().port());
  }

  /**
   * What {@code /admin/verticles} lists and scales: each kind on this node, its instances and its consumer groups.
   * Delivery and traits run one instance per node (a destination's queue, lanes and breaker live in one instance).
   */
  private List<VerticlesApi.Kind> verticleKinds(AtomicReference<Instances> ingest, Instances realtime,
      Instances warehouse) {
    return List.of(
        new VerticlesApi.Kind("ingest", () -> ingest.get().count(), List.of(), ingest::get),
        new VerticlesApi.Kind("realtime", realtime::count, List.of(config.realtime().groupId()), () -> realtime),
        new VerticlesApi.Kind("warehouse", warehouse::count, List.of(config.warehouse().groupId()), () -> warehouse),
        new VerticlesApi.Kind("delivery", () -> 1, DeliveryVerticle.groupIds(config.delivery(), destinations), null),
        new VerticlesApi.Kind("traits", () -> config.traits().traits().isEmpty() ? 0 : 1, List.of(), null));
  }

  /**
   * The static group member of a verticle instance: named after this node, so that the same instance of a restarted
   * node takes its partitions back at once.
   */
  private GroupMember member(String kind, int instance) {
    return GroupMember.of(config.nodeId(), kind, instance, config.kafka().sessionTimeoutMs());
  }

  /** Starts, in parallel, each service whose URL is unset; a set URL is used as it is, never replaced. */
  private void startEmbeddedServices() {
    Path dataDir = config.dataDir();
    CompletableFuture<EmbeddedKafka> kafka = config.kafka().bootstrap() != null ? null
        : CompletableFuture.supplyAsync(() -> embedded("Kafka",
            () -> EmbeddedKafka.start(dataDir.resolve("kafka"), config.kafka().embeddedPort())));
    CompletableFuture<EmbeddedRedis> redis = config.redis().url() != null ? null
        : CompletableFuture.supplyAsync(() -> embedded("Redis",
            () -> EmbeddedRedis.start(dataDir.resolve("redis"), config.redis().embeddedPort())));
    CompletableFuture<EmbeddedPostgres> postgres = config.postgres().url() != null ? null
        : CompletableFuture.supplyAsync(() -> embedded("Postgres",
            () -> EmbeddedPostgres.start(dataDir.resolve("postgres"), config.postgres().embeddedPort())));
    // Register every service that did start before reporting any failure, so that close() stops them all.
    RuntimeException failure = null;
    try {
      kafkaBootstrap = kafka == null ? config.kafka().bootstrap() : register(kafka).bootstrapServers();
    } catch (RuntimeException e) {
      failure = e;
    }
    try {
      redisUrl = redis == null ? config.redis().url() : register(redis).url();
    } catch (RuntimeException e) {
      failure = failure == null ? e : failure;
    }
    try {
      postgresUrl = postgres == null ? config.postgres().url() : register(postgres).url();
    } catch (RuntimeException e) {
      failure = failure == null ? e : failure;
    }
    if (failure != null) {
      throw failure;
    }
  }

  private <T extends AutoCloseable> T register(CompletableFuture<T> starting) {
    T service = starting.join();
    closeInReverse.push(service);
    return service;
  }

  @FunctionalInterface
  private interface Starter<T> {
    T start() throws Exception;
  }

  private static <T> T embedded(String name, Starter<T> starter) {
    try {
      return starter.start();
    } catch (Exception e) {
      throw new IllegalStateException("embedded " + name + " failed to start: " + e.getMessage(), e);
    }
  }

  /** Blocks the start-up thread (never an event loop) until a step is done; failures name the step. */
  private static <T> T await(Future<T> future, String step) {
    try {
      return future.toCompletionStage().toCompletableFuture().get(STEP_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw new IllegalStateException(step + " failed: " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException(step + " did not finish within " + STEP_TIMEOUT.toSeconds() + " s", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(step + " was interrupted", e);
    }
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket()) {
      socket.setReuseAddress(true);
      socket.bind(new InetSocketAddress("127.0.0.1", 0));
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException("no free port for HTTP: " + e.getMessage(), e);
    }
  }

  /** Hides the password of a URL printed to the console or a log. */
  static String redact(String url) {
    return url == null ? null : url.replaceFirst("://([^:/@]*):[^@/]*@", "://$1:***@");
  }

  private void printBanner(Secrets.Resolved resolved) {
    String host = config.http().host().equals("0.0.0.0") ? "localhost" : config.http().host();
    StringBuilder out = new StringBuilder("\nEvent Router is up\n");
    out.append("  HTTP         http://").append(host).append(':').append(httpPort())
        .append("   (POST /v1/track, /v1/batch, ...; WebSocket /v1/stream; GET /health)\n");
    out.append("  demo         http://").append(host).append(':').append(httpPort()).append("/demo/?writeKey=")
        .append(config.sources().get(0).writeKey()).append('\n');
    for (SourceConfig source : config.sources()) {
      out.append("  write key    ").append(source.writeKey()).append("   (source ").append(source.id())
          .append(resolved.writeKeyGenerated() ? ", generated into " + config.dataDir().resolve(Secrets.WRITE_KEY_FILE)
              : "").append(")\n");
    }
    if (resolved.adminTokenGenerated()) {
      out.append("  admin token  ").append(config.adminToken()).append("   (generated into ")
          .append(config.dataDir().resolve(Secrets.ADMIN_TOKEN_FILE)).append(")\n");
    } else if (config.adminToken() != null && System.getenv("ROUTER_ADMIN_TOKEN") == null) {
      out.append("  admin token  in ").append(config.dataDir().resolve(Secrets.ADMIN_TOKEN_FILE)).append('\n');
    }
    out.append("  node         ").append(config.nodeId()).append(config.cluster().enabled() ? "   (cluster "
        + String.join(",", config.cluster().members()) + ", this node at " + config.cluster().host() + ":"
        + config.cluster().port() + ")" : "").append('\n');
    out.append("  Kafka        ").append(describe(kafkaBootstrap, config.kafka().bootstrap(), "kafka"))
        .append("   topic ").append(config.kafka().topic()).append('\n');
    out.append("  Redis        ").append(describe(redisUrl, config.redis().url(), "redis")).append('\n');
    out.append("  Postgres     ").append(describe(postgresUrl, config.postgres().url(), "postgres")).append('\n');
    out.append("  rules        ").append(rules.current().rules().size()).append(" from ").append(rules.file())
        .append('\n');
    out.append("  Delivery     ").append(destinations.stream().filter(d -> d.config().enabled()).count())
        .append(" of ").append(destinations.size()).append(" destinations enabled   (")
        .append(config.delivery().destinationsFile()).append(")\n");
    System.out.println(out);
    System.out.flush();
  }

  private String describe(String actual, String configured, String dir) {
    return configured != null ? "external " + redact(actual)
        : "embedded " + actual + "   (data in " + config.dataDir().resolve(dir) + ")";
  }

  /** Stops ingest first, then the writer, then the clients, then the embedded services. Idempotent. */
  @Override
  public synchronized void close() {
    while (!closeInReverse.isEmpty()) {
      AutoCloseable next = closeInReverse.pop();
      try {
        next.close();
      } catch (Exception e) {
        LOG.warn("error while shutting down: {}", e.getMessage());
      }
    }
  }
}
