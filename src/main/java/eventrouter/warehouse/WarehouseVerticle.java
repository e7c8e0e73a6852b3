package eventrouter.warehouse;

import eventrouter.bus.Addresses;
import eventrouter.config.RouterConfig.KafkaConfig;
import eventrouter.config.RouterConfig.WarehouseConfig;
import eventrouter.log.GroupMember;
import eventrouter.log.LogConsumers;
import eventrouter.log.OffsetTracker;
import eventrouter.warehouse.typed.TypedTables;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonArray;
import io.vertx.kafka.client.common.TopicPartition;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import io.vertx.kafka.client.consumer.KafkaConsumerRecord;
import io.vertx.kafka.client.consumer.KafkaConsumerRecords;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumes the event, signal and rejects topics in its own consumer group and writes them to Postgres, with up to
 * {@code postgres.poolSize} batches in flight at once while polling goes on.
 *
 * <p>The partitions are spread over that many lanes (partition number modulo the lane count). Each lane gathers its
 * records until they fill a batch or the oldest is {@code flushMs} old, and writes the batch in one transaction on
 * a pooled connection, one batch at a time. So a partition's records, and with them one user's, reach Postgres in
 * log order (identify traits merge into {@code users} in that order), and batches written at the same time never
 * touch the same user's rows, so they never wait on each other's locks.
 *
 * <p>Offsets are committed through an {@link OffsetTracker}: per partition, up to the oldest record read but not yet
 * written, so a crash never skips an unwritten event. While Postgres fails, a lane retries its batch with backoff
 * and nothing is committed past it; the events wait in Kafka. The consumer keeps polling throughout and pauses the
 * partitions of a lane whose next batch is already full, so memory stays bounded and the group never loses this
 * member to {@code max.poll.interval.ms}, however long Postgres is away.
 */
public final class WarehouseVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(WarehouseVerticle.class);
  private static final long POLL_MS = 100;
  /** The last commit, at shutdown, is not worth holding up the shutdown for long: what it misses is read again. */
  private static final long STOP_COMMIT_MS = 5_000;

  private final WarehouseConfig config;
  private final String bootstrap;
  private final GroupMember member;
  private final List<String> topics;
  private final String signalsTopic;
  private final String rejectsTopic;
  private final PgConnectOptions postgres;
  private final int poolSize;
  private final OffsetTracker offsets = new OffsetTracker();
  private final Promise<Void> loopStopped = Promise.promise();
  private Pool pool;
  private WarehouseWriter writer;
  private KafkaConsumer<String, String> consumer;
  private List<Lane> lanes;
  /** Indexes of the lanes whose partitions are paused; null when unknown (after a rebalance or a failed pause). */
  private Set<Integer> pausedLanes = Set.of();
  private boolean committing;
  private boolean commitAgain;
  private volatile boolean stopping;

  /** @param member this instance in the warehouse group: static, so a restarted node takes its partitions back */
  public WarehouseVerticle(WarehouseConfig config, String bootstrap, GroupMember member, KafkaConfig kafka,
      PgConnectOptions postgres, int poolSize) {
    this.config = config;
    this.bootstrap = bootstrap;
    this.member = member;
    this.topics = kafka.topics();
    this.signalsTopic = kafka.signalsTopic();
    this.rejectsTopic = kafka.rejectsTopic();
    this.postgres = postgres;
    this.poolSize = poolSize;
  }

  @Override
  public Future<?> start() {
    pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(poolSize)).connectingTo(postgres).using(vertx).build();
    writer = new WarehouseWriter(pool, signalsTopic, rejectsTopic, new TypedTables(TypedTables.Limits.of(config)));
    lanes = IntStream.range(0, poolSize).mapToObj(Lane::new).toList();
    consumer = KafkaConsumer.create(vertx, LogConsumers.config(bootstrap, config.groupId(), member.id(), member,
            config.batchSize()),
        new StringDeserializer(), new StringDeserializer());
    consumer.partitionsRevokedHandler(this::revoked);
    // Newly assigned partitions start unpaused: the next cycle pauses them again if their lane is full.
    consumer.partitionsAssignedHandler(assigned -> pausedLanes = null);
    return consumer.subscribe(Set.copyOf(topics)).onSuccess(v -> pollLoop());
  }

  @Override
  public Future<?> stop() {
    stopping = true;
    lanes.forEach(Lane::cancelTimer);
    // Let the batches in flight finish (or fail) before closing what they use; what is not committed is read again.
    return loopStopped.future()
        .transform(ar -> Future.join(lanes.stream().map(lane -> lane.idle).toList()))
        .transform(ar -> commit().timeout(STOP_COMMIT_MS, TimeUnit.MILLISECONDS))
        .transform(ar -> consumer.close())
        .transform(ar -> pool.close());
  }

  /**
   * One cycle: throttle, poll, hand the records to their lanes. Writing happens beside the loop, never in it. Each
   * cycle starts the next from its completion rather than composing it, so that a loop that runs for months does not
   * build an ever longer future chain.
   */
  private void pollLoop() {
    if (stopping) {
      loopStopped.tryComplete();
      return;
    }
    throttle()
        .compose(v -> consumer.poll(Duration.ofMillis(POLL_MS)))
        .compose(this::gather)
        .onComplete(ar -> {
          if (ar.failed()) {
            LOG.warn("warehouse poll cycle failed, continuing: {}", ar.cause().getMessage());
          }
          pollLoop();
        });
  }

  /**
   * Pauses the partitions of every lane whose next batch is already full while it writes one, and resumes them once
   * it is not. Polling goes on either way (it returns nothing for paused partitions), so the group keeps this member.
   */
  private Future<Void> throttle() {
    Set<Integer> full = new HashSet<>();
    for (Lane lane : lanes) {
      if (lane.isFull()) {
        full.add(lane.index);
      }
    }
    if (full.equals(pausedLanes)) {
      return Future.succeededFuture();
    }
    return consumer.assignment()
        .compose(assigned -> {
          Set<TopicPartition> pause = new HashSet<>();
          Set<TopicPartition> resume = new HashSet<>();
          for (TopicPartition partition : assigned) {
            (full.contains(laneOf(partition.getPartition()).index) ? pause : resume).add(partition);
          }
          return Future.all(consumer.pause(pause), consumer.resume(resume));
        })
        .<Void>map(v -> {
          pausedLanes = full;
          return null;
        })
        .otherwise(error -> {
          LOG.debug("warehouse: could not pause or resume partitions, trying again: {}", error.getMessage());
          pausedLanes = null;
          return null;
        });
  }

  private Future<Void> gather(KafkaConsumerRecords<String, String> records) {
    long now = System.currentTimeMillis();
    for (int i = 0; i < records.size(); i++) {
      KafkaConsumerRecord<String, String> record = records.recordAt(i);
      offsets.started(new TopicPartition(record.topic(), record.partition()), record.offset());
      laneOf(record.partition()).add(
          new WarehouseWriter.Record(record.topic(), record.partition(), record.offset(), record.value()), now);
    }
    lanes.forEach(Lane::flushIfDue);
    return Future.succeededFuture();
  }

  private Lane laneOf(int partition) {
    return lanes.get(partition % lanes.size());
  }

  /**
   * Partitions given to another consumer, handled as delivery does: their offsets are forgotten, and their batches
   * in flight finish but are not committed here. Their records not yet in a batch are dropped: whoever owns the
   * partition now reads them again from the committed offset.
   */
  private void revoked(Set<TopicPartition> partitions) {
    offsets.revoked(partitions);
    for (Lane lane : lanes) {
      lane.pending.removeIf(record -> partitions.contains(new TopicPartition(record.topic(), record.partition())));
    }
    pausedLanes = null;
  }

  /** The batch is in Postgres: its records are done, and the offsets may move up to the oldest record not yet. */
  private void written(List<WarehouseWriter.Record> batch) {
    for (WarehouseWriter.Record record : batch) {
      offsets.finished(new TopicPartition(record.topic(), record.partition()), record.offset());
    }
    commitSoon();
  }

  /**
   * Commits now, or once the commit in flight is done. No lane waits for it, and there is one commit at a time, so
   * that a Kafka outage does not pile commits up.
   */
  private void commitSoon() {
    if (committing) {
      commitAgain = true;
      return;
    }
    committing = true;
    commitAgain = false;
    commit().onComplete(ar -> {
      committing = false;
      if (commitAgain) {
        commitSoon();
      }
    });
  }

  /** Commits, per partition, the offset below which every record read is written. */
  private Future<Void> commit() {
    return offsets.commitTo(consumer).recover(error -> {
      // The rows are written: at worst (a rebalance, or a crash before a later commit) they are read again.
      LOG.warn("could not commit warehouse offsets (retried with the next batch): {}", error.getMessage());
      return Future.succeededFuture();
    });
  }

  private Future<Set<String>> writeWithRetry(List<WarehouseWriter.Record> batch, int attempt) {
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

  /**
   * The records of the partitions whose number modulo the lane count is {@link #index}, gathered into batches that
   * are written one at a time, each in its own transaction on a pooled connection.
   */
  private final class Lane {
    private final int index;
    private final List<WarehouseWriter.Record> pending = new ArrayList<>();
    private long oldestAt;
    private long timer = -1;
    private boolean writing;
    /** Completes when the batch in flight is done, written or not; never fails. */
    private Future<Void> idle = Future.succeededFuture();

    private Lane(int index) {
      this.index = index;
    }

    private void add(WarehouseWriter.Record record, long now) {
      if (pending.isEmpty()) {
        oldestAt = now;
      }
      pending.add(record);
    }

    /** A batch is being written and the next one is full: reading more for this lane would only pile up memory. */
    private boolean isFull() {
      return writing && pending.size() >= config.batchSize();
    }

    /**
     * Writes the next batch if none is in flight and it is full or its oldest record {@code flushMs} old; otherwise
     * a timer comes back when it will be due. A finished batch calls this again.
     */
    private void flushIfDue() {
      if (stopping || writing || pending.isEmpty()) {
        return;
      }
      long waited = System.currentTimeMillis() - oldestAt;
      if (pending.size() < config.batchSize() && waited < config.flushMs()) {
        if (timer == -1) {
          timer = vertx.setTimer(config.flushMs() - waited, id -> {
            timer = -1;
            flushIfDue();
          });
        }
        return;
      }
      List<WarehouseWriter.Record> head = pending.subList(0, Math.min(pending.size(), config.batchSize()));
      List<WarehouseWriter.Record> batch = List.copyOf(head);
      head.clear();
      // Records left behind keep oldestAt: they arrived no earlier than it, so they are never held longer than
      // flushMs, and they go as soon as this batch is written.
      writing = true;
      Future<Void> done = writeWithRetry(batch, 1).map(newEventsUsers -> {
        written(batch);
        if (!newEventsUsers.isEmpty()) {
          vertx.eventBus().publish(Addresses.TRAITS_USERS_CHANGED, new JsonArray(List.copyOf(newEventsUsers)));
        }
        return null;
      });
      idle = done.otherwiseEmpty();
      done.onComplete(ar -> {
        if (ar.failed()) {
          LOG.debug("warehouse batch of {} records stopped unwritten (it is read again): {}", batch.size(),
              ar.cause().getMessage());
        }
        writing = false;
        flushIfDue();
      });
    }

    private void cancelTimer() {
      if (timer != -1) {
        vertx.cancelTimer(timer);
        timer = -1;
      }
    }
  }
}
