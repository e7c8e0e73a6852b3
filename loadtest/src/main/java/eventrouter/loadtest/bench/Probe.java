package eventrouter.loadtest.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Reads how far the pipeline is behind, from outside the router.
 *
 * <ul>
 *   <li>{@code drain --bootstrap B --group G --topic T --timeoutSec 60}: the consumer group's lag (log end offsets
 *       minus committed offsets, summed over the topic's partitions) now, then waits until it is 0; prints
 *       {@code {"lagAtEnd":..,"drained":true|false,"drainMs":..,"lagAfter":..}}.</li>
 *   <li>{@code pglag --pg URL --fromMs A --toMs B --expect N --timeoutSec 60}: waits until the warehouse holds N events
 *       received in [A, B), then prints their count and the percentiles of {@code loaded_at - received_at} in ms
 *       ({@code loaded_at} is {@code clock_timestamp()} when the row was inserted).</li>
 *   <li>{@code ports --count N}: N free ports on 127.0.0.1, on one line.</li>
 * </ul>
 */
public final class Probe {
  private static final ObjectMapper JSON = new ObjectMapper();

  private Probe() {
  }

  public static void main(String[] argv) throws Exception {
    if (argv.length == 0) {
      throw new IllegalArgumentException("usage: Probe drain|pglag --name value ...");
    }
    Args args = new Args(argv, 1);
    ObjectNode result = switch (argv[0]) {
      case "drain" -> drain(args);
      case "pglag" -> pgLag(args);
      case "ports" -> ports(args);
      default -> throw new IllegalArgumentException("unknown probe " + argv[0]);
    };
    System.out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(result));
    System.exit(0);
  }

  /** Free TCP ports on 127.0.0.1, printed space-separated on one line (for the shell). */
  private static ObjectNode ports(Args args) throws Exception {
    int count = (int) args.getLong("count", 1);
    java.util.List<java.net.ServerSocket> sockets = new java.util.ArrayList<>();
    StringBuilder line = new StringBuilder();
    try {
      for (int i = 0; i < count; i++) {
        java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"));
        sockets.add(socket);
        line.append(i == 0 ? "" : " ").append(socket.getLocalPort());
      }
    } finally {
      for (java.net.ServerSocket socket : sockets) {
        socket.close();
      }
    }
    System.out.println(line);
    System.exit(0);
    return null;
  }

  private static ObjectNode drain(Args args) throws Exception {
    String topic = args.get("topic");
    String group = args.get("group");
    long timeoutMs = args.getLong("timeoutSec", 60) * 1000;
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args.get("bootstrap"),
        AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000))) {
      long start = System.nanoTime();
      long lagAtEnd = lag(admin, group, topic);
      long lag = lagAtEnd;
      while (lag > 0 && (System.nanoTime() - start) / 1_000_000 < timeoutMs) {
        Thread.sleep(100); // a probe polling from outside; the condition is re-checked each time
        lag = lag(admin, group, topic);
      }
      ObjectNode out = JSON.createObjectNode();
      out.put("lagAtEnd", lagAtEnd);
      out.put("drained", lag == 0);
      out.put("drainMs", (System.nanoTime() - start) / 1_000_000);
      out.put("lagAfter", lag);
      return out;
    }
  }

  static long lag(Admin admin, String group, String topic) throws Exception {
    Set<TopicPartition> partitions = admin.describeTopics(Set.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS)
        .get(topic).partitions().stream().map(p -> new TopicPartition(topic, p.partition()))
        .collect(Collectors.toSet());
    Map<TopicPartition, ListOffsetsResultInfo> ends = admin.listOffsets(
        partitions.stream().collect(Collectors.toMap(p -> p, p -> OffsetSpec.latest()))).all().get(10, TimeUnit.SECONDS);
    Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
        .partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
    long lag = 0;
    for (TopicPartition partition : partitions) {
      OffsetAndMetadata done = committed.get(partition);
      lag += Math.max(0, ends.get(partition).offset() - (done == null ? 0 : done.offset()));
    }
    return lag;
  }

  private static ObjectNode pgLag(Args args) throws Exception {
    long from = args.getLong("fromMs", 0);
    long to = args.getLong("toMs", Long.MAX_VALUE);
    long expect = args.getLong("expect", 0);
    long timeoutMs = args.getLong("timeoutSec", 60) * 1000;
    Vertx vertx = Vertx.vertx();
    Pool pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(1))
        .connectingTo(PgConnectOptions.fromUri(args.get("pg"))).using(vertx).build();
    try {
      Tuple window = Tuple.of(from, to);
      long start = System.nanoTime();
      long rows = count(pool, window);
      while (rows < expect && (System.nanoTime() - start) / 1_000_000 < timeoutMs) {
        Thread.sleep(200); // polling from outside until the rows are there or the deadline passes
        rows = count(pool, window);
      }
      Row row = pool.preparedQuery("""
              SELECT count(*) AS n,
                     percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
                     percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99,
                     percentile_cont(0.999) WITHIN GROUP (ORDER BY ms) AS p999,
                     max(ms) AS max
              FROM (SELECT extract(epoch FROM loaded_at - received_at) * 1000 AS ms FROM events
                    WHERE received_at >= to_timestamp($1 / 1000.0) AND received_at < to_timestamp($2 / 1000.0)) w
              """)
          .execute(window).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS).iterator().next();
      ObjectNode out = JSON.createObjectNode();
      out.put("rows", row.getLong("n"));
      out.put("expected", expect);
      out.put("complete", row.getLong("n") >= expect);
      if (row.getLong("n") > 0) {
        out.put("p50Ms", row.getDouble("p50"));
        out.put("p99Ms", row.getDouble("p99"));
        out.put("p999Ms", row.getDouble("p999"));
        out.put("maxMs", row.getDouble("max"));
      }
      return out;
    } finally {
      pool.close();
      vertx.close();
    }
  }

  private static long count(Pool pool, Tuple window) throws Exception {
    return pool.preparedQuery("SELECT count(*) FROM events WHERE received_at >= to_timestamp($1 / 1000.0)"
            + " AND received_at < to_timestamp($2 / 1000.0)")
        .execute(window).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS)
        .iterator().next().getLong(0);
  }
}
