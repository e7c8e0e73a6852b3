package eventrouter.delivery;

import eventrouter.config.DestinationConfig;
import eventrouter.config.DestinationConfig.Stream;
import eventrouter.config.RouterConfig.DeliveryConfig;
import eventrouter.config.RouterConfig.KafkaConfig;
import io.micrometer.core.instrument.MeterRegistry;
import eventrouter.log.OffsetTracker;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;
import io.vertx.kafka.client.common.TopicPartition;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import io.vertx.kafka.client.consumer.KafkaConsumerRecord;
import io.vertx.kafka.client.consumer.KafkaConsumerRecords;
import io.vertx.kafka.client.consumer.OffsetAndMetadata;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumes events and signals in the delivery consumer group and fans every record out, in parallel, to each enabled
 * destination that takes its stream and whose filter matches. A record's offset is committed once each of its
 * deliveries has succeeded, is parked in the retry store, or is a dead letter ({@link OffsetTracker}); reading goes
 * on meanwhile, so one destination's trouble never holds back another's. One instance (the destinations' state is
 * per process).
 */
public final class DeliveryVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(DeliveryVerticle.class);
  private static final long POLL_MS = 100;
  private static final long COMMIT_EVERY_MS = 200;

  private final DeliveryConfig config;
  private final List<Destination> destinations;
  private final String bootstrap;
  private final KafkaConfig kafka;
  private final PgConnectOptions postgres;
  private final int poolSize;
  private final MeterRegistry registry;
  private final Clock clock;
  private final OffsetTracker offsets = new OffsetTracker();
  private final List<DestinationWorker> workers = new ArrayList<>();
  private final Promise<Void> loopStopped = Promise.promise();
  private Pool pool;
  private KafkaConsumer<String, String> consumer;
  private long commitTimer = -1;
  private long lastSeq;
  private boolean paused;
  private volatile boolean stopping;

  public DeliveryVerticle(DeliveryConfig config, List<Destination> destinations, String bootstrap, KafkaConfig kafka,
      PgConnectOptions postgres, int poolSize, MeterRegistry registry, Clock clock) {
    this.config = config;
    this.destinations = destinations;
    this.bootstrap = bootstrap;
    this.kafka = kafka;
    this.postgres = postgres;
    this.poolSize = poolSize;
    this.registry = registry;
    this.clock = clock;
  }

  @Override
  public Future<?> start() {
    pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(poolSize)).connectingTo(postgres).using(vertx).build();
    DeliveryStore store = new DeliveryStore(pool);
    for (Destination destination : destinations) {
      if (destination.config().enabled()) {
        workers.add(new DestinationWorker(vertx, destination, sender(destination.config()), store, registry, clock,
            config.retryPollMs()));
      }
    }
    consumer = KafkaConsumer.create(vertx, Map.of(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
        ConsumerConfig.GROUP_ID_CONFIG, config.groupId(),
        ConsumerConfig.CLIENT_ID_CONFIG, "event-router-delivery-" + deploymentID(),
        ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false",
        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
        ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "500",
        ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "20"),
        new StringDeserializer(), new StringDeserializer());
    consumer.partitionsRevokedHandler(offsets::revoked);
    return Future.all(workers.stream().map(DestinationWorker::start).toList())
        .compose(v -> consumer.subscribe(Set.of(kafka.topic(), kafka.signalsTopic())))
        .onSuccess(v -> {
          commitTimer = vertx.setPeriodic(COMMIT_EVERY_MS, t -> commit());
          pollLoop();
        });
  }

  @Override
  public Future<?> stop() {
    stopping = true;
    vertx.cancelTimer(commitTimer);
    return loopStopped.future()
        .transform(ar -> commit())
        .transform(ar -> Future.join(workers.stream().map(DestinationWorker::stop).toList()))
        .transform(ar -> consumer.close())
        .transform(ar -> pool.close());
  }

  private Sender sender(DestinationConfig destination) {
    return switch (destination.type()) {
      case WEBHOOK -> new WebhookSender(vertx, destination, clock);
      case KAFKA -> new KafkaSender(vertx, destination, bootstrap);
      case WEBSOCKET -> new WebSocketSender(vertx, destination);
    };
  }

  /** One cycle: poll and route; the next cycle starts from this one's completion, so no future chain grows. */
  private void pollLoop() {
    if (stopping) {
      loopStopped.tryComplete();
      return;
    }
    throttle()
        .compose(v -> consumer.poll(Duration.ofMillis(POLL_MS)))
        .onComplete(ar -> {
          if (ar.failed()) {
            LOG.warn("delivery poll failed, continuing: {}", ar.cause().getMessage());
          } else {
            route(ar.result());
          }
          pollLoop();
        });
  }

  /**
   * Too many records unsettled (every destination slow at once): pause the partitions, and keep polling so that the
   * group keeps this member, until the destinations catch up.
   */
  private Future<Void> throttle() {
    boolean over = offsets.inFlight() >= config.maxPendingRecords();
    if (over == paused) {
      return Future.succeededFuture();
    }
    paused = over;
    return consumer.assignment().compose(assigned -> over ? consumer.pause(assigned) : consumer.resume(assigned))
        .otherwise(e -> null);
  }

  private void route(KafkaConsumerRecords<String, String> records) {
    for (int i = 0; i < records.size(); i++) {
      KafkaConsumerRecord<String, String> record = records.recordAt(i);
      TopicPartition tp = new TopicPartition(record.topic(), record.partition());
      long offset = record.offset();
      offsets.started(tp, offset);
      Future.join(fanOut(record))
          .onSuccess(v -> offsets.finished(tp, offset))
          .onFailure(e -> LOG.debug("record {}@{} stays uncommitted: {}", tp, offset, e.getMessage()));
    }
  }

  /** Hands the record to every destination that takes it; each future completes when that delivery is settled. */
  private List<Future<Void>> fanOut(KafkaConsumerRecord<String, String> record) {
    Stream stream = record.topic().equals(kafka.signalsTopic()) ? Stream.SIGNALS : Stream.EVENTS;
    JsonObject event;
    try {
      event = new JsonObject(record.value());
    } catch (RuntimeException e) {
      LOG.error("log record {}-{}@{} is not JSON; no destination gets it: {}", record.topic(), record.partition(),
          record.offset(), e.getMessage());
      return List.of();
    }
    Map<String, Object> celEvent = null;
    Instant now = clock.instant();
    List<Future<Void>> settled = new ArrayList<>();
    for (DestinationWorker worker : workers) {
      Destination destination = worker.destination();
      if (!destination.config().takes(stream)) {
        continue;
      }
      if (celEvent == null && (destination.filter() != EventExpressions.Filter.ALL
          || destination.payload() != EventExpressions.Payload.EVENT)) {
        celEvent = EventExpressions.toCel(event);
      }
      try {
        if (!destination.filter().matches(celEvent)) {
          continue;
        }
      } catch (Exception e) {
        // A filter that cannot be evaluated on this event (a missing field, say) does not match it.
        worker.metrics().filterError();
        LOG.debug("filter of {} failed on {}: {}", worker.id(), event.getString("messageId"), e.getMessage());
        continue;
      }
      String payload;
      String payloadError = null;
      try {
        payload = Json.encode(destination.payload().shape(celEvent, event));
      } catch (Exception e) {
        payload = event.encode();
        payloadError = "payload expression failed: " + e.getMessage();
      }
      Delivery d = new Delivery(worker.id(), event.getString("messageId"), stream, event.getString("userId"),
          event.getString("anonymousId"), payload, receivedAt(event), now, nextSeq(now));
      settled.add(payloadError == null ? worker.submit(d) : worker.deadLetterNow(d, payloadError));
    }
    return settled;
  }

  /** Arrival order that also grows across restarts: microseconds of the clock, or one more than the last. */
  private long nextSeq(Instant now) {
    lastSeq = Math.max(lastSeq + 1, now.toEpochMilli() * 1_000);
    return lastSeq;
  }

  private static Instant receivedAt(JsonObject event) {
    String text = event.getString("receivedAt");
    try {
      return text == null ? null : Instant.parse(text);
    } catch (DateTimeParseException e) {
      return null;
    }
  }

  private Future<Void> commit() {
    Map<TopicPartition, OffsetAndMetadata> moved = offsets.committable();
    if (moved.isEmpty()) {
      return Future.succeededFuture();
    }
    return consumer.commit(moved).onSuccess(offsets::committed).<Void>mapEmpty().recover(e -> {
      LOG.warn("could not commit delivery offsets {} (those records will be delivered again): {}", moved,
          e.getMessage());
      return Future.succeededFuture();
    });
  }
}
