package eventrouter.log;

import eventrouter.config.RouterConfig.KafkaConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.function.Function;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * Creates the log topics (events, signals and rejects) before any traffic is taken, and waits until every partition has a leader: producing to
 * a topic that has just been created gave NOT_LEADER retries and once a long hang.
 */
public final class Topics {
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);
  private static final long LEADER_POLL_MS = 100;

  private Topics() {
  }

  /** Completes once every log topic exists with a leader for every partition; failures name the Kafka cluster. */
  public static Future<Void> ensureLogTopics(Vertx vertx, String bootstrap, KafkaConfig config) {
    Admin admin = Admin.create(Map.of(
        AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
        AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000,
        AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) READY_TIMEOUT.toMillis()));
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    // A quick reachability probe first, so that a wrong address fails start-up in seconds rather than a minute.
    return fromKafka(admin.describeCluster(new DescribeClusterOptions().timeoutMs(config.ackTimeoutMs())).clusterId())
        .compose(clusterId -> forEach(config.topics(), topic -> createIfMissing(admin, config, topic)))
        .compose(v -> forEach(config.topics(), topic -> awaitLeaders(vertx, admin, topic, deadline)))
        .recover(e -> Future.failedFuture(new IllegalStateException("Kafka at " + bootstrap
            + " is unreachable or refused the topics " + String.join(", ", config.topics()) + ": " + e.getMessage(),
            e)))
        .eventually(() -> vertx.executeBlocking(() -> {
          admin.close(Duration.ofSeconds(5));
          return null;
        }));
  }

  /** One topic after the other. */
  private static Future<Void> forEach(List<String> topics, Function<String, Future<Void>> step) {
    Future<Void> done = Future.succeededFuture();
    for (String topic : topics) {
      done = done.compose(v -> step.apply(topic));
    }
    return done;
  }

  private static Future<Void> createIfMissing(Admin admin, KafkaConfig config, String name) {
    return fromKafka(admin.listTopics().names()).compose(names -> {
      if (names.contains(name)) {
        return Future.succeededFuture();
      }
      NewTopic topic = new NewTopic(name, config.partitions(), (short) config.replicationFactor())
          .configs(Map.of("min.insync.replicas", String.valueOf(Math.min(2, config.replicationFactor()))));
      return fromKafka(admin.createTopics(List.of(topic)).all())
          // Another router node may have created it meanwhile; that is success.
          .recover(e -> e instanceof TopicExistsException ? Future.succeededFuture() : Future.failedFuture(e));
    });
  }

  private static Future<Void> awaitLeaders(Vertx vertx, Admin admin, String topic, long deadline) {
    return fromKafka(admin.describeTopics(List.of(topic)).allTopicNames())
        .map(descriptions -> descriptions.get(topic).partitions().stream().map(TopicPartitionInfo::leader)
            .allMatch(leader -> leader != null && !leader.isEmpty()))
        // A topic created a moment ago can be unknown to the broker that answers: not led yet, so look again.
        .recover(e -> e instanceof UnknownTopicOrPartitionException ? Future.succeededFuture(false)
            : Future.failedFuture(e))
        .compose(allLed -> {
          if (allLed) {
            return Future.succeededFuture();
          }
          if (System.nanoTime() > deadline) {
            return Future.failedFuture("partitions of " + topic + " have no leader after " + READY_TIMEOUT.toSeconds()
                + " s");
          }
          return vertx.timer(LEADER_POLL_MS).compose(t -> awaitLeaders(vertx, admin, topic, deadline));
        });
  }

  private static <T> Future<T> fromKafka(KafkaFuture<T> future) {
    return Future.fromCompletionStage(future.toCompletionStage())
        .recover(e -> Future.failedFuture(e instanceof CompletionException && e.getCause() != null
            ? e.getCause() : e));
  }
}
