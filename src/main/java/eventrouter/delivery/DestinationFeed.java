package eventrouter.delivery;

import eventrouter.config.DestinationConfig.Stream;
import eventrouter.config.RouterConfig.KafkaConfig;
import eventrouter.log.GroupMember;
import eventrouter.log.LogConsumers;
import eventrouter.log.OffsetTracker;
import eventrouter.log.RecordHead;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;
import io.vertx.kafka.client.common.TopicPartition;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import io.vertx.kafka.client.consumer.KafkaConsumerRecord;
import io.vertx.kafka.client.consumer.KafkaConsumerRecords;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the log for one destination, in that destination's own consumer group ({@code <delivery.groupId>.<id>}), and
 * hands each record its filter takes to the destination's {@link DestinationWorker}. Its backlog therefore waits in
 * Kafka, where it costs nothing: when {@code queueSize} records are unsettled, the feed pauses its partitions (and
 * keeps polling, so that it stays in the group) until the destination catches up, and a slow or hanging destination
 * never holds back another one, nor fills Postgres. A record's offset is committed once its delivery is delivered,
 * parked in the retry store after a failure, or a dead letter.
 */
final class DestinationFeed {
  private static final Logger LOG = LoggerFactory.getLogger(DestinationFeed.class);
  private static final long POLL_MS = 100;
  private static final long COMMIT_EVERY_MS = 200;

  private final Vertx vertx;
  private final DestinationWorker worker;
  private final Destination destination;
  private final KafkaConfig kafka;
  private final Clock clock;
  private final LongSupplier arrivalOrder;
  private final OffsetTracker offsets = new OffsetTracker();
  private final Promise<Void> loopStopped = Promise.promise();
  private final KafkaConsumer<String, String> consumer;
  private long commitTimer = -1;
  private boolean paused;
  private boolean stopping;

  /**
   * Built on the delivery verticle's context, which it keeps.
   *
   * @param arrivalOrder the delivery verticle's sequence, shared by its feeds so that it grows across them
   */
  /** @param member the delivery verticle's member id, which it holds in every destination's group */
  DestinationFeed(Vertx vertx, DestinationWorker worker, String bootstrap, GroupMember member, KafkaConfig kafka,
      String groupPrefix, Clock clock, LongSupplier arrivalOrder) {
    this.vertx = vertx;
    this.worker = worker;
    this.destination = worker.destination();
    this.kafka = kafka;
    this.clock = clock;
    this.arrivalOrder = arrivalOrder;
    this.consumer = KafkaConsumer.create(vertx, LogConsumers.config(bootstrap,
            groupId(groupPrefix, destination.id()), member.id() + "-" + destination.id(), member, 500),
        new StringDeserializer(), new StringDeserializer());
  }

  /** The consumer group of one destination. */
  static String groupId(String prefix, String destinationId) {
    return prefix + "." + destinationId;
  }

  Future<Void> start() {
    consumer.partitionsRevokedHandler(offsets::revoked);
    // Runs on this context before the poll that returns the new partitions' first records completes.
    consumer.partitionsAssignedHandler(assigned -> worker.partitionsAssigned());
    Set<String> topics = new LinkedHashSet<>();
    if (destination.config().takes(Stream.EVENTS)) {
      topics.add(kafka.topic());
    }
    if (destination.config().takes(Stream.SIGNALS)) {
      topics.add(kafka.signalsTopic());
    }
    return consumer.subscribe(topics).onSuccess(v -> {
      commitTimer = vertx.setPeriodic(COMMIT_EVERY_MS, t -> commit());
      pollLoop();
    });
  }

  /** Stops reading and commits what is settled; deliveries still in flight are read again by the next owner. */
  Future<Void> stop() {
    stopping = true;
    vertx.cancelTimer(commitTimer);
    return loopStopped.future().transform(ar -> commit()).transform(ar -> consumer.close());
  }

  /** One cycle: poll and route; the next cycle starts from this one's completion, so no future chain grows. */
  private void pollLoop() {
    if (stopping) {
      loopStopped.tryComplete();
      return;
    }
    throttle()
        .compose(v -> consumer.poll(Duration.ofMillis(POLL_MS)))
        // An ordered destination's newly assigned users: their rows parked by the previous owner are counted first.
        .compose(records -> worker.parkedInSync().map(records))
        .onComplete(ar -> {
          if (ar.failed()) {
            LOG.warn("delivery to {}: poll failed, continuing: {}", destination.id(), ar.cause().getMessage());
          } else {
            route(ar.result());
          }
          pollLoop();
        });
  }

  /** {@code queueSize} records unsettled: pause the partitions until the destination has caught up. */
  private Future<Void> throttle() {
    boolean over = offsets.inFlight() >= destination.config().policy().queueSize();
    if (over == paused) {
      return Future.succeededFuture();
    }
    paused = over;
    return consumer.assignment().compose(assigned -> over ? consumer.pause(assigned) : consumer.resume(assigned))
        .otherwise(e -> null);
  }

  private void route(KafkaConsumerRecords<String, String> records) {
    Instant now = clock.instant();
    for (int i = 0; i < records.size(); i++) {
      KafkaConsumerRecord<String, String> record = records.recordAt(i);
      Routed routed = route(record, now);
      if (routed == null) {
        continue;
      }
      TopicPartition tp = new TopicPartition(record.topic(), record.partition());
      long offset = record.offset();
      offsets.started(tp, offset);
      Future<Void> settled = routed.payloadError() == null ? worker.submit(routed.delivery())
          : worker.deadLetterNow(routed.delivery(), routed.payloadError());
      settled.onSuccess(v -> offsets.finished(tp, offset))
          .onFailure(e -> LOG.debug("record {}@{} stays uncommitted for {}: {}", tp, offset, destination.id(),
              e.getMessage()));
    }
  }

  /** A record this destination takes; a payload expression that failed makes it a dead letter with the event as body. */
  private record Routed(Delivery delivery, String payloadError) {
  }

  /** The record as this destination's delivery, or null when its stream or filter does not take it. */
  private Routed route(KafkaConsumerRecord<String, String> record, Instant now) {
    Stream stream = record.topic().equals(kafka.signalsTopic()) ? Stream.SIGNALS : Stream.EVENTS;
    boolean asIs = destination.filter() == EventExpressions.Filter.ALL
        && destination.payload() == EventExpressions.Payload.EVENT;
    RecordHead head;
    JsonObject event = null;
    try {
      // As is, the head (from the record's headers) is all this needs: the event itself is never parsed.
      head = RecordHead.of(record.record().headers(), record.value());
      if (!asIs) {
        event = new JsonObject(record.value());
      }
    } catch (IOException | RuntimeException e) {
      LOG.error("log record {}-{}@{} is not a JSON event; {} does not get it: {}", record.topic(), record.partition(),
          record.offset(), destination.id(), e.getMessage());
      return null;
    }
    String payload = record.value();
    String payloadError = null;
    if (!asIs) {
      Map<String, Object> celEvent = EventExpressions.toCel(event);
      try {
        if (!destination.filter().matches(celEvent)) {
          return null;
        }
      } catch (Exception e) {
        // A filter that cannot be evaluated on this event (a missing field, say) does not match it.
        worker.metrics().filterError();
        LOG.debug("filter of {} failed on {}: {}", destination.id(), head.messageId(), e.getMessage());
        return null;
      }
      if (destination.payload() != EventExpressions.Payload.EVENT) {
        try {
          payload = Json.encode(destination.payload().shape(celEvent, event));
        } catch (Exception e) {
          payloadError = "payload expression failed: " + e.getMessage();
        }
      }
    }
    return new Routed(new Delivery(destination.id(), head.messageId(), stream, head.userId(), head.anonymousId(),
        payload, receivedAt(head.receivedAt()), now, arrivalOrder.getAsLong()), payloadError);
  }

  private static Instant receivedAt(String text) {
    try {
      return text == null ? null : Instant.parse(text);
    } catch (DateTimeParseException e) {
      return null;
    }
  }

  private Future<Void> commit() {
    return offsets.commitTo(consumer).recover(e -> {
      LOG.warn("could not commit the offsets of {} (retried with the next commit; after a crash those records are"
          + " delivered again): {}", destination.id(), e.getMessage());
      return Future.succeededFuture();
    });
  }
}
