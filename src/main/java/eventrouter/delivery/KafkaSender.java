package eventrouter.delivery;

import eventrouter.config.DestinationConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.kafka.client.producer.KafkaProducer;
import io.vertx.kafka.client.producer.KafkaProducerRecord;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Produces each delivery to a topic of a Kafka cluster, keyed by user ({@code userId}, else {@code anonymousId}) so
 * that one user's records share a partition, with its {@code Idempotency-Key} as a record header. Its own idempotent
 * producer, {@code acks=all}.
 */
final class KafkaSender implements Sender {
  private final String topic;
  private final int timeoutMs;
  private final KafkaProducer<String, String> producer;

  KafkaSender(Vertx vertx, DestinationConfig destination, String routerBootstrap) {
    this.topic = destination.kafka().topic();
    this.timeoutMs = destination.policy().timeoutMs();
    String bootstrap = destination.kafka().bootstrap() != null ? destination.kafka().bootstrap() : routerBootstrap;
    // Kafka requires delivery.timeout.ms >= linger.ms + request.timeout.ms; our own timeout bounds the call anyway.
    int deliveryTimeout = Math.max(timeoutMs, 2_000);
    this.producer = KafkaProducer.create(vertx, Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
        ProducerConfig.CLIENT_ID_CONFIG, "event-router-destination-" + destination.id(),
        ProducerConfig.ACKS_CONFIG, "all",
        ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true",
        ProducerConfig.LINGER_MS_CONFIG, "0",
        ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, String.valueOf(deliveryTimeout),
        ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, String.valueOf(deliveryTimeout / 2),
        ProducerConfig.MAX_BLOCK_MS_CONFIG, String.valueOf(deliveryTimeout)),
        new StringSerializer(), new StringSerializer());
  }

  @Override
  public Future<Void> send(List<Delivery> batch) {
    List<Future<?>> sends = batch.stream().<Future<?>>map(d -> producer.send(
            KafkaProducerRecord.create(topic, d.userKey, d.payload)
                .addHeader(WebhookSender.IDEMPOTENCY_KEY, d.idempotencyKey())))
        .toList();
    return Future.all(sends)
        .timeout(timeoutMs, TimeUnit.MILLISECONDS)
        .<Void>mapEmpty()
        .recover(error -> Future.failedFuture(isRetryable(error)
            ? new RetryableDeliveryException("Kafka topic " + topic + " did not take the record: " + error, 0, -1)
            : new PermanentDeliveryException("Kafka topic " + topic + " refused the record: " + error, 0)));
  }

  private static boolean isRetryable(Throwable error) {
    // Kafka's own timeouts are RetriableExceptions; Future.timeout fails with a Vert.x timeout exception.
    return error instanceof RetriableException || error.getClass().getSimpleName().contains("Timeout");
  }

  @Override
  public Future<Void> close() {
    return producer.close(2_000);
  }
}
