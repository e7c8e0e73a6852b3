package eventrouter.traits;

import eventrouter.bus.Addresses;
import eventrouter.config.RouterConfig.TraitDefinition;
import eventrouter.config.RouterConfig.TraitsConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Computes the traits of {@code traits.file} in Postgres and copies every value into the user's real-time traits in
 * Redis (field {@code t.<name>} of {@code s:u:<userId>}, the user's hash {@code apply_events.lua} keeps), so that the
 * next rule evaluation reads it as {@code traits.<name>}. Each value is also kept in {@code computed_traits}.
 *
 * <p>Which users: those whose events the warehouse has just stored ({@link Addresses#TRAITS_USERS_CHANGED}), at most
 * {@code traits.batchUsers} per query, batch after batch while users wait (a tick every {@code traits.refreshMs}
 * starts work that arrived while idle); and, every {@code traits.sweepMs} from start-up, every user in {@code users},
 * page by page while nothing else waits. The sweep catches traits that change
 * with time alone, and users whose notice was lost (the router stopped between the warehouse write and the refresh).
 *
 * <p>One instance per node: it holds one Postgres connection and runs one query at a time. A failed refresh is
 * logged and its users are tried again on the next tick.
 */
public final class TraitsVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(TraitsVerticle.class);
  /** Beyond this many users waiting, notices are dropped and a sweep is started instead, which covers them. */
  private static final int MAX_PENDING = 100_000;
  private static final String STATEMENT_TIMEOUT_MS = "60000";
  private static final String NEXT_USERS = "SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2";

  private final TraitsConfig config;
  private final PgConnectOptions postgres;
  private final RedisOptions redisOptions;
  private final String redisPrefix;
  private final long stateTtlMs;
  private final MeterRegistry registry;
  private final Set<String> pending = new LinkedHashSet<>();
  private final Map<String, String> statements;
  private Map<String, Counter> written;
  private Pool pool;
  private Redis redis;
  private MessageConsumer<JsonArray> changes;
  private boolean refreshing;
  /** The last user id the sweep has reached, or null while no sweep runs. */
  private String sweptUpTo;

  /**
   * @param redisPrefix {@code realtime.redisPrefix}
   * @param stateTtlMs {@code realtime.stateTtlMs}: a user's traits live as long as after their last event
   */
  public TraitsVerticle(TraitsConfig config, PgConnectOptions postgres, RedisOptions redisOptions, String redisPrefix,
      long stateTtlMs, MeterRegistry registry) {
    this.config = config;
    this.postgres = postgres;
    this.redisOptions = redisOptions;
    this.redisPrefix = redisPrefix;
    this.stateTtlMs = stateTtlMs;
    this.registry = registry;
    this.statements = config.traits().stream()
        .collect(Collectors.toUnmodifiableMap(TraitDefinition::name, TraitsVerticle::upsertStatement));
  }

  /**
   * The trait's query, its values stored in {@code computed_traits}, and returned as JSON text. The name is a checked
   * identifier (TraitsFile), so it is safe as a literal; a query's columns beyond the first two are ignored.
   */
  static String upsertStatement(TraitDefinition trait) {
    return "WITH computed(user_id, value) AS (\n" + trait.sql() + "\n)\n"
        + "INSERT INTO computed_traits (user_id, name, value, computed_at)\n"
        + "SELECT user_id::text, '" + trait.name() + "', to_jsonb(value), now() FROM computed\n"
        + "WHERE user_id IS NOT NULL AND value IS NOT NULL\n"
        + "ON CONFLICT (user_id, name) DO UPDATE SET value = EXCLUDED.value, computed_at = EXCLUDED.computed_at\n"
        + "RETURNING user_id, value::text";
  }

  @Override
  public Future<?> start() {
    // A query that runs away must not hold the only connection for ever.
    PgConnectOptions options = new PgConnectOptions(postgres).addProperty("statement_timeout", STATEMENT_TIMEOUT_MS);
    pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(1)).connectingTo(options).using(vertx).build();
    redis = Redis.createClient(vertx, redisOptions);
    written = config.traits().stream().collect(Collectors.toUnmodifiableMap(TraitDefinition::name,
        trait -> Counter.builder("router.traits.written").tag("trait", trait.name())
            .description("computed trait values written to Redis").register(registry)));
    Gauge.builder("router.traits.pending", pending, Set::size)
        .description("users waiting for their traits to be computed").register(registry);
    return checkQueries().compose(v -> {
      changes = vertx.eventBus().localConsumer(Addresses.TRAITS_USERS_CHANGED,
          message -> message.body().forEach(id -> userChanged((String) id)));
      vertx.setPeriodic(config.refreshMs(), id -> refresh());
      if (config.sweepMs() > 0) {
        startSweep();
        vertx.setPeriodic(config.sweepMs(), id -> startSweep());
      }
      return changes.completion();
    });
  }

  @Override
  public Future<?> stop() {
    return (changes == null ? Future.succeededFuture() : changes.unregister())
        .transform(ar -> redis.close())
        .transform(ar -> pool.close());
  }

  /** Runs every trait's query for no users, so that a query Postgres refuses stops the router at start-up. */
  private Future<Void> checkQueries() {
    Future<Void> checked = Future.succeededFuture();
    for (TraitDefinition trait : config.traits()) {
      checked = checked.compose(v -> query(trait, List.of()).<Void>mapEmpty().recover(error -> Future.failedFuture(
          new IllegalStateException("computed trait \"" + trait.name() + "\" in " + config.file()
              + ": Postgres refused its sql: " + error.getMessage(), error))));
    }
    return checked;
  }

  private void userChanged(String userId) {
    if (pending.size() < MAX_PENDING) {
      pending.add(userId);
    } else if (sweptUpTo == null) {
      LOG.warn("traits: more than {} users wait; starting a sweep of every user instead of remembering more",
          MAX_PENDING);
      startSweep();
    }
  }

  private void startSweep() {
    if (sweptUpTo == null) {
      sweptUpTo = "";
    }
  }

  /**
   * One batch: the users that changed first; with none waiting, the sweep's next page. One batch at a time, and the
   * next right after it while there is more to do, so a backlog drains as fast as Postgres answers; the tick only
   * starts work that arrived while there was none, or retries after a failure.
   */
  private void refresh() {
    if (refreshing) {
      return;
    }
    List<String> users = takePending();
    Future<List<String>> next = !users.isEmpty() || sweptUpTo == null ? Future.succeededFuture(users) : nextSweepPage();
    refreshing = true;
    next.compose(batch -> compute(batch).recover(error -> {
          batch.forEach(this::userChanged);
          return Future.failedFuture(error);
        }))
        .onComplete(ar -> {
          refreshing = false;
          if (ar.failed()) {
            LOG.warn("traits: a refresh failed; its users are tried again on the next tick: {}",
                ar.cause().getMessage());
          } else if (!pending.isEmpty() || sweptUpTo != null) {
            refresh();
          }
        });
  }

  private List<String> takePending() {
    List<String> users = new ArrayList<>(Math.min(pending.size(), config.batchUsers()));
    Iterator<String> waiting = pending.iterator();
    while (waiting.hasNext() && users.size() < config.batchUsers()) {
      users.add(waiting.next());
      waiting.remove();
    }
    return users;
  }

  private Future<List<String>> nextSweepPage() {
    return pool.preparedQuery(NEXT_USERS).execute(Tuple.of(sweptUpTo, config.batchUsers())).map(rows -> {
      List<String> users = new ArrayList<>(rows.size());
      rows.forEach(row -> users.add(row.getString(0)));
      sweptUpTo = users.isEmpty() ? null : users.get(users.size() - 1);
      return users;
    });
  }

  /** Every trait for these users, one after the other. */
  private Future<Void> compute(List<String> users) {
    Future<Void> done = Future.succeededFuture();
    if (users.isEmpty()) {
      return done;
    }
    for (TraitDefinition trait : config.traits()) {
      done = done.compose(v -> query(trait, users)).compose(rows -> copyToRedis(trait.name(), rows));
    }
    return done;
  }

  private Future<RowSet<Row>> query(TraitDefinition trait, List<String> users) {
    return pool.preparedQuery(statements.get(trait.name()))
        .execute(Tuple.tuple().addArrayOfString(users.toArray(String[]::new)));
  }

  private Future<Void> copyToRedis(String trait, RowSet<Row> rows) {
    if (rows.size() == 0) {
      return Future.succeededFuture();
    }
    List<Request> writes = new ArrayList<>(rows.size() * 2);
    for (Row row : rows) {
      String key = userKey(row.getString(0));
      writes.add(Request.cmd(Command.HSET).arg(key).arg("t." + trait).arg(row.getString(1)));
      writes.add(Request.cmd(Command.PEXPIRE).arg(key).arg(stateTtlMs));
    }
    return redis.batch(writes).onSuccess(replies -> written.get(trait).increment(rows.size())).mapEmpty();
  }

  /** As {@code lib.lua} names a known user's hash: trait values in it are JSON text, as here. */
  private String userKey(String userId) {
    return redisPrefix + "s:u:" + userId;
  }
}
