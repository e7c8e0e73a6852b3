package eventrouter.realtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import eventrouter.bus.Addresses;
import eventrouter.config.RouterConfig.RealtimeConfig;
import eventrouter.log.EventLog;
import eventrouter.log.LogRecord;
import eventrouter.log.GroupMember;
import eventrouter.log.LogConsumers;
import eventrouter.log.OffsetTracker;
import eventrouter.log.RecordHead;
import eventrouter.realtime.RealtimeMetrics.Stage;
import eventrouter.realtime.SessionStore.Decided;
import eventrouter.rules.CelValues;
import eventrouter.rules.Evaluation;
import eventrouter.rules.Facts;
import eventrouter.rules.RuleBook;
import eventrouter.rules.RuleEngine;
import eventrouter.rules.Signal;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.kafka.client.common.TopicPartition;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import io.vertx.kafka.client.consumer.KafkaConsumerRecord;
import io.vertx.kafka.client.consumer.KafkaConsumerRecords;
import io.vertx.redis.client.RedisOptions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumes the event log in its own consumer group. Each user's events are processed strictly in order, different
 * users' together in waves (at most one event per user each): apply the wave to identity and session (one Redis
 * script call, atomic per event), evaluate the rules, apply their effects (a second call), and write any signals to
 * the signals topic. An offset is
 * committed only once every record before it is done, signals durable included, so a crash never skips an event.
 * A durable signal is also published to {@link Addresses#WEBSOCKET_PUSH} for the user's open sockets.
 * The same verticle claims due absence timers and raises their signals.
 */
public final class RealtimeVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(RealtimeVerticle.class);
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final long POLL_MS = 50;
  private static final long COMMIT_EVERY_MS = 200;
  private static final int TIMERS_PER_CLAIM = 200;
  private static final long RETRY_BASE_MS = 100;
  private static final long RETRY_MAX_MS = 5_000;
  /** Events per Redis script call: enough to share the call's cost, few enough to hold Redis for a millisecond. */
  private static final int MAX_WAVE = 128;
  /** Waves in flight at once: one's Redis calls overlap another's rules and signals. */
  private static final int MAX_WAVES = 4;

  private final RealtimeConfig config;
  private final String bootstrap;
  private final GroupMember member;
  private final String topic;
  private final RedisOptions redisOptions;
  private final RuleBook rules;
  private final EventLog signalLog;
  private final Clock clock;
  private final RealtimeHealth health;
  private final RealtimeMetrics metrics;
  private final Waves<Polled> waves = new Waves<>(Polled::key, MAX_WAVE);
  private final OffsetTracker offsets = new OffsetTracker();
  private final Promise<Void> pollingStopped = Promise.promise();
  private final Promise<Void> timersStopped = Promise.promise();
  private RedisLink redis;
  private SessionStore store;
  private KafkaConsumer<String, String> consumer;
  /** Keys with an event in flight: their next events wait. */
  private final Set<String> busy = new HashSet<>();
  private int wavesInFlight;
  private long commitTimer;
  private volatile boolean stopping;

  /** @param member this instance in the real-time group: static, so a restarted node takes its partitions back */
  public RealtimeVerticle(RealtimeConfig config, String bootstrap, GroupMember member, String topic,
      RedisOptions redisOptions, RuleBook rules, EventLog signalLog, Clock clock, RealtimeHealth health,
      MeterRegistry registry) {
    this.config = config;
    this.bootstrap = bootstrap;
    this.member = member;
    this.topic = topic;
    this.redisOptions = redisOptions;
    this.rules = rules;
    this.signalLog = signalLog;
    this.clock = clock;
    this.health = health;
    this.metrics = new RealtimeMetrics(registry);
  }

  @Override
  public Future<?> start() {
    redis = new RedisLink(vertx, redisOptions);
    store = new SessionStore(redis, config);
    consumer = KafkaConsumer.create(vertx, LogConsumers.config(bootstrap, config.groupId(), member.id(), member, 1000),
        new StringDeserializer(), new StringDeserializer());
    consumer.partitionsRevokedHandler(revoked -> {
      commit();
      offsets.revoked(revoked);
    });
    return redis.connect()
        .compose(v -> consumer.subscribe(topic))
        .onSuccess(v -> {
          commitTimer = vertx.setPeriodic(COMMIT_EVERY_MS, id -> commit());
          pollLoop();
          timerLoop();
        });
  }

  @Override
  public Future<?> stop() {
    stopping = true;
    vertx.cancelTimer(commitTimer);
    return Future.join(pollingStopped.future(), timersStopped.future())
        .transform(ar -> commit())
        .transform(ar -> consumer.close())
        .transform(ar -> redis.close());
  }

  // ---- the event path ----

  /** One cycle per poll; the next starts from the completion rather than a composed chain, which would grow. */
  private void pollLoop() {
    if (stopping) {
      pollingStopped.tryComplete();
      return;
    }
    if (offsets.inFlight() >= config.maxInFlight()) {
      vertx.setTimer(5, id -> pollLoop()); // backpressure: let in-flight work drain before fetching more
      return;
    }
    consumer.poll(Duration.ofMillis(POLL_MS)).onComplete(ar -> {
      if (ar.succeeded()) {
        dispatch(ar.result());
      } else if (!stopping) {
        LOG.warn("real-time poll failed, continuing: {}", ar.cause().getMessage());
      }
      pollLoop();
    });
  }

  private void dispatch(KafkaConsumerRecords<String, String> records) {
    long polledAtMs = System.currentTimeMillis(); // the records' timestamps are Kafka's, on the wall clock
    long polledAt = System.nanoTime();
    for (int i = 0; i < records.size(); i++) {
      KafkaConsumerRecord<String, String> record = records.recordAt(i);
      TopicPartition partition = new TopicPartition(record.topic(), record.partition());
      offsets.started(partition, record.offset());
      metrics.recordMillis(Stage.LOG, polledAtMs - record.timestamp());
      waves.add(new Polled(partition, record.offset(), record.key() == null ? "" : record.key(),
          arrivalOf(record.value(), partition, record.offset()), polledAt));
    }
    nextWave();
  }

  /**
   * Starts waves while fewer than {@link #MAX_WAVES} are in flight. A key is busy from the moment its event joins a
   * wave until that event is done (its effects applied and any signals durable), so a user's next event sees what
   * the one before left, and its signals follow the earlier ones into the log.
   */
  private void nextWave() {
    while (wavesInFlight < MAX_WAVES) {
      List<Polled> wave = waves.take(busy::contains);
      if (wave.isEmpty()) {
        return;
      }
      wavesInFlight++;
      long started = System.nanoTime();
      for (Polled polled : wave) {
        busy.add(polled.key());
        metrics.record(Stage.QUEUE, started - polled.polledAt());
      }
      // Failing means stopping: the wave's offsets stay uncommitted, and a restart reads its events again.
      untilDone(() -> process(wave), "a wave of " + wave.size() + " events from " + wave.get(0).partition() + "@"
          + wave.get(0).offset())
          .onComplete(ar -> {
            wavesInFlight--;
            if (ar.succeeded()) {
              settle(wave, ar.result());
            }
            nextWave();
          });
    }
  }

  /**
   * Finishes the wave's events that raised nothing at once; the others once their signals are durable and they are
   * marked done.
   */
  private void settle(List<Polled> wave, List<Raised> raised) {
    Set<String> raising = new HashSet<>();
    if (raised != null) { // null: Redis refused the whole wave (logged); it is skipped
      raised.forEach(r -> raising.add(r.key()));
    }
    List<Polled> pending = new ArrayList<>();
    for (Polled polled : wave) {
      if (raising.contains(polled.key())) {
        pending.add(polled);
      } else {
        finish(polled);
      }
    }
    if (pending.isEmpty()) {
      return;
    }
    long signalsStart = System.nanoTime();
    List<Signal> signals = raised.stream().flatMap(r -> r.signals().stream()).toList();
    List<Arrival> done = raised.stream().map(Raised::event).toList();
    untilDone(() -> emit(signals)
            .onSuccess(v -> metrics.record(Stage.SIGNALS, System.nanoTime() - signalsStart, done.size()))
            .compose(v -> store.markDone(done)), "the signals of " + done.size() + " events")
        .onSuccess(v -> { // failing means stopping: their offsets stay uncommitted, read again
          pending.forEach(this::finish);
          nextWave();
        });
  }

  /** The record's event, or null (logged) for a record that is not one: it is skipped. */
  private static Arrival arrivalOf(String json, TopicPartition partition, long offset) {
    try {
      ObjectNode event = (ObjectNode) MAPPER.readTree(json);
      return new Arrival(event, event.path("messageId").asText(),
          Instant.parse(event.path("receivedAt").asText()).toEpochMilli());
    } catch (Exception e) {
      LOG.error("skipping a log record that is not an event ({}@{}): {}", partition, offset, e.getMessage());
      return null;
    }
  }

  /** Applies the wave's events to the state, evaluates the rules and applies their effects; returns the signals. */
  private Future<List<Raised>> process(List<Polled> wave) {
    List<Polled> events = wave.stream().filter(polled -> polled.arrival() != null).toList();
    List<Arrival> arrivals = events.stream().map(Polled::arrival).toList();
    if (arrivals.isEmpty()) {
      return Future.succeededFuture(List.of());
    }
    long stateStart = System.nanoTime();
    return store.applyEvents(arrivals).compose(states -> {
      metrics.record(Stage.STATE, System.nanoTime() - stateStart, states.size());
      RuleEngine engine = rules.current();
      List<Decided> decided = new ArrayList<>(states.size());
      List<Facts> facts = new ArrayList<>(states.size());
      List<String> keys = new ArrayList<>(states.size());
      for (int i = 0; i < states.size(); i++) {
        UserState state = states.get(i);
        if (state.skipped()) {
          continue;
        }
        Arrival arrival = arrivals.get(i);
        long rulesStart = System.nanoTime();
        ObjectNode event = arrival.event();
        Facts fact = new Facts(CelValues.mapFromJson(event), state.session(), state.traits(), state.subject(),
            state.userId() != null ? state.userId() : textOrNull(event.get("userId")),
            textOrNull(event.get("anonymousId")), List.of(arrival.messageId()), Instant.ofEpochMilli(arrival.atMs()));
        Evaluation evaluation;
        try {
          evaluation = engine.evaluate(fact);
        } catch (RuntimeException e) {
          // A bug, not an outage: retrying would stall every user behind this event, so it alone is skipped.
          LOG.error("the rules failed on event {}; skipping it", arrival.messageId(), e);
          continue;
        }
        decided.add(new Decided(state, arrival, evaluation));
        facts.add(fact);
        keys.add(events.get(i).key());
        metrics.record(Stage.RULES, System.nanoTime() - rulesStart);
      }
      if (decided.isEmpty()) {
        return Future.succeededFuture(List.of());
      }
      // Every event goes to the effects call, even with nothing to apply: it marks done what has no signal.
      long effectsStart = System.nanoTime();
      return store.applyEffects(decided).map(tripped -> {
        metrics.record(Stage.EFFECTS, System.nanoTime() - effectsStart, decided.size());
        List<Raised> raised = new ArrayList<>();
        for (int i = 0; i < decided.size(); i++) {
          List<Integer> indexes = tripped.get(i);
          if (indexes == null) {
            continue; // Redis refused this event's effects (logged): it raises nothing
          }
          Evaluation evaluation = decided.get(i).evaluation();
          List<Signal> signals = new ArrayList<>(evaluation.signals());
          for (int index : indexes) {
            engine.thresholdSignal(evaluation.thresholds().get(index), facts.get(i)).ifPresent(signals::add);
          }
          if (!signals.isEmpty()) {
            raised.add(new Raised(keys.get(i), decided.get(i).arrival(), signals));
          }
        }
        return raised;
      });
    });
  }

  private void finish(Polled polled) {
    busy.remove(polled.key());
    offsets.finished(polled.partition(), polled.offset());
    if (polled.arrival() != null) {
      metrics.recordMillis(Stage.TOTAL, clock.millis() - polled.arrival().atMs());
    }
  }

  /** A polled record, waiting for its wave. */
  private record Polled(TopicPartition partition, long offset, String key, Arrival arrival, long polledAt) {
  }

  /** The signals one event raised; {@code key} is its record's. */
  private record Raised(String key, Arrival event, List<Signal> signals) {
  }

  // ---- timers ----

  private void timerLoop() {
    if (stopping) {
      timersStopped.tryComplete();
      return;
    }
    store.claimDueTimers(clock.millis(), TIMERS_PER_CLAIM)
        .compose(claimed -> Future.join(claimed.stream().map(this::fire).toList()))
        .onComplete(ar -> {
          if (ar.failed() && !stopping) {
            LOG.warn("claiming or firing due timers failed (they are claimed again once their lease runs out): {}",
                ar.cause().getMessage());
          }
          vertx.setTimer(config.timerPollMs(), id -> timerLoop());
        });
  }

  private Future<Void> fire(ClaimedTimer claimed) {
    return rules.current().fire(claimed.timer(), clock.instant())
        .map(signal -> emit(List.of(signal)))
        .orElseGet(() -> {
          LOG.warn("timer {} has no absence rule any more (removed by a reload); dropping it", claimed.member());
          return Future.succeededFuture();
        })
        .compose(v -> store.completeTimer(claimed));
  }

  // ---- shared ----

  /** Writes signals to the log and, once they are durable, pushes each to the user's open WebSockets. */
  private Future<Void> emit(List<Signal> signals) {
    List<LogRecord> records = signals.stream()
        .map(signal -> new LogRecord(signal.toJson(), new RecordHead(signal.id(), "signal", signal.userId(),
            signal.anonymousId(), DateTimeFormatter.ISO_INSTANT.format(signal.raisedAt())))).toList();
    return signalLog.append(context, records).onSuccess(v -> {
      for (int i = 0; i < signals.size(); i++) {
        Signal signal = signals.get(i);
        JsonArray ids = new JsonArray();
        if (signal.userId() != null) {
          ids.add(signal.userId());
        }
        if (signal.anonymousId() != null) {
          ids.add(signal.anonymousId());
        }
        vertx.eventBus().publish(Addresses.WEBSOCKET_PUSH, new JsonObject().put("ids", ids)
            .put("frame", new JsonObject(Buffer.buffer(records.get(i).value()))));
      }
    });
  }

  /**
   * Repeats the work until it succeeds: while Redis is unreachable it waits for the link to come back (the path
   * pauses, nothing is committed past this record); other failures back off. A reply Redis refuses outright (a bug,
   * not an outage) would repeat forever, so it is logged and the record is skipped.
   */
  private <T> Future<T> untilDone(Supplier<Future<T>> work, String what) {
    return attempt(work, what, 1);
  }

  private <T> Future<T> attempt(Supplier<Future<T>> work, String what, int attempt) {
    return work.get().onSuccess(v -> health.healthy()).recover(error -> {
      if (stopping) {
        return Future.failedFuture(error);
      }
      if (!RedisLink.isUnreachable(error)) {
        LOG.error("Redis refused the work for {}; skipping it: {}", what, error.getMessage());
        return Future.succeededFuture(null);
      }
      health.degraded("paused: " + error.getMessage());
      long delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS << Math.min(attempt - 1, 16));
      if (attempt == 1 || attempt % 10 == 0) {
        LOG.warn("real-time path paused on {} (attempt {}): {}", what, attempt, error.getMessage());
      }
      return redis.whenUp().compose(v -> vertx.timer(attempt == 1 ? 1 : delay))
          .compose(t -> attempt(work, what, attempt + 1));
    });
  }

  private Future<Void> commit() {
    return offsets.commitTo(consumer).recover(e -> {
      LOG.warn("real-time offset commit failed (retried with the next): {}", e.getMessage());
      return Future.succeededFuture();
    });
  }

  private static String textOrNull(JsonNode node) {
    return node == null || node.isNull() ? null : node.asText();
  }
}
