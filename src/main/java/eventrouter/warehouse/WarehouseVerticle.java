package eventrouter.warehouse;

import eventrouter.config.RouterConfig.WarehouseConfig;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.kafka.client.common.TopicPartition;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import io.vertx.kafka.client.consumer.KafkaConsumerRecord;
import io.vertx.kafka.client.consumer.KafkaConsumerRecords;
import io.vertx.kafka.client.consumer.OffsetAndMetadata;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumes the event and signal topics in its own consumer group and writes them to Postgres: poll, gather a batch until it is full
 * or {@code flushMs} old, write it in one transaction, then commit the batch's offsets. While Postgres is down the
 * write is retried with backoff and nothing is committed, so the events wait in Kafka and nothing is lost.
 */
public final class WarehouseVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(WarehouseVerticle.class);
  private static final long MAX_POLL_MS = 100;

  private final WarehouseConfig config;
  private final String bootstrap;
  private final String topic;
  private final String signalsTopic;
  private final PgConnectOptions postgres;
  private final int poolSize;
  private Pool pool;
  private WarehouseWriter writer;
  private KafkaConsumer<String, String> consumer;
  private final List<WarehouseWriter.Record> pending = new ArrayList<>();
  private final Map<TopicPartition, OffsetAndMetadata> pendingOffsets = new HashMap<>();
  private long oldestPendingAt;
  private volatile boolean stopping;
  private final Promise<Void> loopStopped = Promise.promise();

  public WarehouseVerticle(WarehouseConfig config, String bootstrap, String topic, String signalsTopic,
      PgConnectOptions postgres, int poolSize) {
    this.config = config;
    this.bootstrap = bootstrap;
    this.topic = topic;
    this.signalsTopic = signalsTopic;
    this.postgres = postgres;
    this.poolSize = poolSize;
  }

  @Override
  public Future<?> start() {
    pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(poolSize)).connectingTo(postgres).using(vertx).build();
    writer = new WarehouseWriter(pool, signalsTopic);
    consumer = KafkaConsumer.create(vertx, Map.of(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
        ConsumerConfig.GROUP_ID_CONFIG, config.groupId(),
        ConsumerConfig.CLIENT_ID_CONFIG, "event-router-warehouse-" + deploymentID() + "-" + System.identityHashCode(this),
        ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false",
        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
        ConsumerConfig.MAX_POLL_RECORDS_CONFIG, String.valueOf(config.batchSize()),
        ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "50"),
        new StringDeserializer(), new StringDeserializer());
    return consumer.subscribe(Set.of(topic, signalsTopic)).onSuccess(v -> pollLoop());
  }

  @Override
  public Future<?> stop() {
    stopping = true;
    // Let the batch in hand finish (or fail) before closing what it uses; what it has not committed is read again.
    return loopStopped.future().transform(ar -> consumer.close()).transform(ar -> pool.close());
  }

  /**
   * One cycle: poll, gather, and write the batch when it is due. Each cycle starts the next from its completion
   * rather than composing it, so that a loop that runs for months does not build an ever longer future chain.
   */
  private void pollLoop() {
    if (stopping) {
      loopStopped.tryComplete();
      return;
    }
    consumer.poll(Duration.ofMillis(pollTimeoutMs()))
        .compose(this::gather)
        .compose(v -> isDue() ? flush() : Future.succeededFuture())
        .onComplete(ar -> {
          if (ar.failed()) {
            LOG.warn("warehouse poll cycle failed, continuing: {}", ar.cause().getMessage());
          }
          pollLoop();
        });
  }

  private long pollTimeoutMs() {
    if (pending.isEmpty()) {
      return MAX_POLL_MS;
    }
    long untilFlush = config.flushMs() - (System.currentTimeMillis() - oldestPendingAt);
    return Math.max(1, Math.min(MAX_POLL_MS, untilFlush));
  }

  private Future<Void> gather(KafkaConsumerRecords<String, String> records) {
    if (!records.isEmpty() && pending.isEmpty()) {
      oldestPendingAt = System.currentTimeMillis();
    }
    for (int i = 0; i < records.size(); i++) {
      KafkaConsumerRecord<String, String> record = records.recordAt(i);
      pending.add(new WarehouseWriter.Record(record.topic(), record.partition(), record.offset(), record.value()));
      pendingOffsets.put(new TopicPartition(record.topic(), record.partition()),
          new OffsetAndMetadata(record.offset() + 1, null));
    }
    return Future.succeededFuture();
  }

  private boolean isDue() {
    return !pending.isEmpty()
        && (pending.size() >= config.batchSize() || System.currentTimeMillis() - oldestPendingAt >= config.flushMs());
  }

  private Future<Void> flush() {
    List<WarehouseWriter.Record> batch = List.copyOf(pending);
    Map<TopicPartition, OffsetAndMetadata> offsets = Map.copyOf(pendingOffsets);
    pending.clear();
    pendingOffsets.clear();
    return writeWithRetry(batch, 1)
        .compose(inserted -> consumer.commit(offsets)
            // Only after a rebalance: the new owner of those partitions reads them again, and the rows are idempotent.
            .recover(error -> {
              LOG.warn("could not commit warehouse offsets {} (rows are written; they will be read again): {}",
                  offsets, error.getMessage());
              return Future.succeededFuture();
            }))
        .mapEmpty();
  }

  private Future<Integer> writeWithRetry(List<WarehouseWriter.Record> batch, int attempt) {
    return writer.write(batch).recover(error -> {
      if (stopping) {
        return Future.failedFuture(error);
      }
      long delay = backoffMs(attempt);
      return lagBehind(batch).compose(lag -> {
        LOG.warn("warehouse: Postgres write failed (attempt {}): {}; retrying in {} ms. Lag: {} events in this batch,"
            + " {} more waiting in Kafka", attempt, error.getMessage(), delay, batch.size(), lag);
        return vertx.timer(delay);
      }).compose(t -> writeWithRetry(batch, attempt + 1));
    });
  }

  /** min(max, base·2^(n-1)), with up to 20% jitter taken off so that instances do not retry in step. */
  private long backoffMs(int attempt) {
    double exponential = config.retryBaseMs() * Math.pow(2, Math.min(attempt - 1, 30));
    long capped = (long) Math.min(config.retryMaxMs(), exponential);
    return capped - (long) (capped * 0.2 * ThreadLocalRandom.current().nextDouble());
  }

  /** Events in Kafka beyond this batch on its partitions; -1 when Kafka cannot say. */
  private Future<Long> lagBehind(List<WarehouseWriter.Record> batch) {
    Map<TopicPartition, Long> nextAfterBatch = new HashMap<>();
    for (WarehouseWriter.Record record : batch) {
      nextAfterBatch.merge(new TopicPartition(record.topic(), record.partition()), record.offset() + 1, Math::max);
    }
    return consumer.endOffsets(nextAfterBatch.keySet())
        .map(ends -> ends.entrySet().stream()
            .mapToLong(end -> Math.max(0, end.getValue() - nextAfterBatch.get(end.getKey()))).sum())
        .otherwise(-1L);
  }
}
