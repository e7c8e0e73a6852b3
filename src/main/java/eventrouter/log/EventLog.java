package eventrouter.log;

import eventrouter.config.RouterConfig.KafkaConfig;
import eventrouter.config.RouterConfig.ProducerBatching;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Appends records to one log topic with {@code acks=all} and an idempotent producer. One producer per topic is shared
 * by every instance that writes it: it is thread-safe and batches better the more it is shared.
 */
public final class EventLog implements AutoCloseable {
  private static final long METADATA_RETRY_MS = 50;
  private final KafkaProducer<String, byte[]> producer;
  private final String topic;

  /** @param topic the events topic for ingest, the signals topic for the real-time path */
  public EventLog(String bootstrap, KafkaConfig config, String topic, ProducerBatching batching) {
    this.topic = topic;
    this.producer = new KafkaProducer<>(producerConfig(bootstrap, config, topic, batching), new StringSerializer(),
        new ByteArraySerializer());
  }

  static Map<String, Object> producerConfig(String bootstrap, KafkaConfig config, String topic,
      ProducerBatching batching) {
    int requestTimeout = Math.max(500, (config.ackTimeoutMs() - batching.lingerMs()) / 2);
    return Map.ofEntries(
        Map.entry(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap),
        Map.entry(ProducerConfig.CLIENT_ID_CONFIG, "event-router-" + topic),
        Map.entry(ProducerConfig.ACKS_CONFIG, "all"),
        Map.entry(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true),
        Map.entry(ProducerConfig.LINGER_MS_CONFIG, batching.lingerMs()),
        Map.entry(ProducerConfig.COMPRESSION_TYPE_CONFIG, batching.compression()),
        // The delivery timeout bounds how long a client waits before it gets 503 instead of 200.
        Map.entry(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, config.ackTimeoutMs()),
        Map.entry(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, requestTimeout),
        // send() runs on an event loop, so it must never block: with metadata kept warm (see warmMetadata)
        // and max.block.ms=0, a full buffer or a missing topic fails at once and the client gets 503.
        Map.entry(ProducerConfig.MAX_BLOCK_MS_CONFIG, 0),
        Map.entry(ProducerConfig.METADATA_MAX_IDLE_CONFIG, (int) Duration.ofDays(1).toMillis()));
  }

  /**
   * Completes once the producer holds the topic's metadata. With {@code max.block.ms=0} one lookup only asks for the
   * metadata, so this repeats it (on a worker, as it may block briefly) until it is there. Called at start-up and then
   * periodically, so that {@link #append} never needs to wait for metadata.
   */
  public Future<Integer> warmMetadata(Vertx vertx, Duration within) {
    long giveUpAt = System.nanoTime() + within.toNanos();
    return vertx.executeBlocking(() -> producer.partitionsFor(topic).size())
        .recover(error -> {
          if (!(error instanceof TimeoutException) || System.nanoTime() > giveUpAt) {
            return Future.failedFuture(error);
          }
          return vertx.timer(METADATA_RETRY_MS).compose(t -> warmMetadata(vertx, Duration.ofNanos(giveUpAt - System.nanoTime())));
        });
  }

  /**
   * Appends the records and completes, on {@code context}, once Kafka has acknowledged all of them, or fails with
   * {@link LogUnavailableException} if any could not be written within the ack timeout.
   */
  public Future<Void> append(Context context, List<LogRecord> records) {
    if (records.isEmpty()) {
      return Future.succeededFuture();
    }
    Promise<Void> done = Promise.promise();
    AtomicInteger pending = new AtomicInteger(records.size());
    AtomicReference<Exception> firstError = new AtomicReference<>();
    // Producer callbacks run on Kafka's I/O thread; only the last one hops back to the caller's context.
    Runnable oneDone = () -> {
      if (pending.decrementAndGet() == 0) {
        context.runOnContext(v -> {
          Exception error = firstError.get();
          if (error == null) {
            done.complete();
          } else {
            done.fail(new LogUnavailableException("Kafka did not acknowledge the events: " + error.getMessage(), error));
          }
        });
      }
    };
    for (LogRecord record : records) {
      try {
        producer.send(producerRecord(record), (metadata, error) -> {
          if (error != null) {
            firstError.compareAndSet(null, error);
          }
          oneDone.run();
        });
      } catch (RuntimeException e) {
        firstError.compareAndSet(null, e);
        oneDone.run();
      }
    }
    return done.future();
  }

  private ProducerRecord<String, byte[]> producerRecord(LogRecord record) {
    return record.head() == null ? new ProducerRecord<>(topic, record.key(), record.value())
        : new ProducerRecord<>(topic, null, record.key(), record.value(), List.of(record.head().toHeaders()));
  }

  @Override
  public void close() {
    producer.close(Duration.ofSeconds(5));
  }
}
