package eventrouter.delivery;

import eventrouter.config.DestinationConfig;
import eventrouter.config.RouterConfig.DeliveryConfig;
import eventrouter.config.RouterConfig.KafkaConfig;
import eventrouter.log.GroupMember;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * Delivery: a {@link DestinationWorker} and a {@link DestinationFeed} for each enabled destination. Each feed reads the
 * log in its destination's own consumer group, so that one destination's backlog or trouble never holds back
 * another; the workers share the retry store. One instance (the destinations' state is per process).
 */
public final class DeliveryVerticle extends VerticleBase {
  private final DeliveryConfig config;
  private final List<Destination> destinations;
  private final String bootstrap;
  private final GroupMember member;
  private final KafkaConfig kafka;
  private final PgConnectOptions postgres;
  private final int poolSize;
  private final MeterRegistry registry;
  private final Clock clock;
  private final List<DestinationWorker> workers = new ArrayList<>();
  private final List<DestinationFeed> feeds = new ArrayList<>();
  private Pool pool;
  private long lastSeq;

  /** @param member this node's delivery member, in each destination's group */
  public DeliveryVerticle(DeliveryConfig config, List<Destination> destinations, String bootstrap, GroupMember member,
      KafkaConfig kafka, PgConnectOptions postgres, int poolSize, MeterRegistry registry, Clock clock) {
    this.member = member;
    this.config = config;
    this.destinations = destinations;
    this.bootstrap = bootstrap;
    this.kafka = kafka;
    this.postgres = postgres;
    this.poolSize = poolSize;
    this.registry = registry;
    this.clock = clock;
  }

  /** The consumer group of each enabled destination: {@code <delivery.groupId>.<destination id>}. */
  public static List<String> groupIds(DeliveryConfig config, List<Destination> destinations) {
    return destinations.stream().filter(destination -> destination.config().enabled())
        .map(destination -> DestinationFeed.groupId(config.groupId(), destination.id())).toList();
  }

  @Override
  public Future<?> start() {
    pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(poolSize)).connectingTo(postgres).using(vertx).build();
    DeliveryStore store = new DeliveryStore(pool);
    for (Destination destination : destinations) {
      if (destination.config().enabled()) {
        DestinationWorker worker = new DestinationWorker(vertx, destination, sender(destination.config()), store,
            registry, clock, config.retryPollMs());
        workers.add(worker);
        feeds.add(new DestinationFeed(vertx, worker, bootstrap, member, kafka, config.groupId(), clock,
            this::nextSeq));
      }
    }
    return Future.all(workers.stream().map(DestinationWorker::start).toList())
        .compose(v -> Future.all(feeds.stream().map(DestinationFeed::start).toList()));
  }

  @Override
  public Future<?> stop() {
    return Future.join(feeds.stream().map(DestinationFeed::stop).toList())
        .transform(ar -> Future.join(workers.stream().map(DestinationWorker::stop).toList()))
        .transform(ar -> pool.close());
  }

  private Sender sender(DestinationConfig destination) {
    return switch (destination.type()) {
      case WEBHOOK -> new WebhookSender(vertx, destination, clock);
      case KAFKA -> new KafkaSender(vertx, destination, bootstrap);
      case WEBSOCKET -> new WebSocketSender(vertx, destination);
    };
  }

  /** Arrival order that also grows across restarts: microseconds of the clock, or one more than the last. */
  private long nextSeq() {
    lastSeq = Math.max(lastSeq + 1, clock.millis() * 1_000);
    return lastSeq;
  }
}
