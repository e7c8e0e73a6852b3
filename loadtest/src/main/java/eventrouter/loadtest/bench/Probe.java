package eventrouter.loadtest.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Reads how far the pipeline is behind, from outside the router.
 *
 * <ul>
 *   <li>{@code drain --bootstrap B --groups 'G1=T1,T2;G2=T1' [--pg URL] --timeoutSec 60}: each consumer group's
 *       lag (log end offsets minus committed offsets, summed over the partitions of the topics it reads) now, then
 *       waits until every group is at 0 and, with {@code --pg}, no delivery is parked in Postgres; prints
 *       {@code {"drained":..,"drainMs":..,"groups":[{"group":..,"lagAtEnd":..,"lagAtEndByTopic":{..},"drained":..,
 *       "drainMs":..,"lagAfter":..}],"parkedDeliveries":{"atEnd":..,"after":..,"deadLettersAfter":..}}}.</li>
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
      throw new IllegalArgumentException("usage: Probe drain|pglag|ports --name value ...");
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

  /**
   * Every consumer group's lag now, then a bounded wait until all of them are at 0 (and, with {@code --pg}, until no
   * delivery is parked in {@code delivery_retries}). A group's lag can rise again after reaching 0 (the real-time
   * path writes signals that the warehouse and delivery then read), so a group counts as drained only if it is at 0
   * when the wait ends, and its drain time is when it last reached 0.
   */
  private static ObjectNode drain(Args args) throws Exception {
    Map<String, List<String>> groups = groups(args.get("groups"));
    long timeoutMs = args.getLong("timeoutSec", 60) * 1000;
    String pg = args.get("pg", null);
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args.get("bootstrap"),
        AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000));
        Parked parked = pg == null ? null : new Parked(pg)) {
      Map<String, Map<String, Long>> atEnd = new LinkedHashMap<>();
      for (Map.Entry<String, List<String>> group : groups.entrySet()) {
        atEnd.put(group.getKey(), lagByTopic(admin, group.getKey(), group.getValue()));
      }
      long parkedAtEnd = parked == null ? 0 : parked.count();
      // Drain times count from this snapshot, not from the clients' connection set-up before it.
      long start = System.nanoTime();
      Map<String, Long> lag = new LinkedHashMap<>();
      Map<String, Long> zeroSinceMs = new LinkedHashMap<>();
      atEnd.forEach((group, byTopic) -> lag.put(group, sum(byTopic)));
      long parkedNow = parkedAtEnd;
      while (true) {
        long elapsedMs = (System.nanoTime() - start) / 1_000_000;
        for (Map.Entry<String, Long> group : lag.entrySet()) {
          if (group.getValue() > 0) {
            zeroSinceMs.remove(group.getKey());
          } else {
            zeroSinceMs.putIfAbsent(group.getKey(), elapsedMs);
          }
        }
        if ((zeroSinceMs.size() == lag.size() && parkedNow == 0) || elapsedMs >= timeoutMs) {
          break;
        }
        Thread.sleep(200); // a probe polling from outside; the condition is re-checked each time
        for (Map.Entry<String, List<String>> group : groups.entrySet()) {
          lag.put(group.getKey(), sum(lagByTopic(admin, group.getKey(), group.getValue())));
        }
        parkedNow = parked == null ? 0 : parked.count();
      }
      long totalMs = (System.nanoTime() - start) / 1_000_000;
      ObjectNode out = JSON.createObjectNode();
      boolean allDrained = zeroSinceMs.size() == lag.size() && parkedNow == 0;
      out.put("drained", allDrained);
      out.put("drainMs", totalMs);
      ArrayNode groupsOut = out.putArray("groups");
      for (Map.Entry<String, Map<String, Long>> group : atEnd.entrySet()) {
        ObjectNode g = groupsOut.addObject();
        g.put("group", group.getKey());
        g.put("lagAtEnd", sum(group.getValue()));
        ObjectNode byTopic = g.putObject("lagAtEndByTopic");
        group.getValue().forEach(byTopic::put);
        boolean drained = zeroSinceMs.containsKey(group.getKey());
        g.put("drained", drained);
        g.put("lagAfter", lag.get(group.getKey()));
        if (drained) {
          g.put("drainMs", zeroSinceMs.get(group.getKey()));
        }
      }
      if (parked != null) {
        ObjectNode p = out.putObject("parkedDeliveries");
        p.put("atEnd", parkedAtEnd);
        p.put("after", parkedNow);
        p.put("deadLettersAfter", parked.deadLetters());
      }
      return out;
    }
  }

  /** {@code group=topic,topic;group=topic}: each consumer group with the topics it reads. */
  static Map<String, List<String>> groups(String spec) {
    Map<String, List<String>> groups = new LinkedHashMap<>();
    for (String entry : spec.split(";")) {
      String[] parts = entry.trim().split("=", 2);
      if (parts.length != 2 || parts[0].isBlank() || parts[1].isBlank()) {
        throw new IllegalArgumentException("--groups must be group=topic[,topic][;group=...] (got \"" + spec + "\")");
      }
      groups.put(parts[0].trim(), List.of(parts[1].trim().split("\\s*,\\s*")));
    }
    return groups;
  }

  private static long sum(Map<String, Long> byTopic) {
    return byTopic.values().stream().mapToLong(Long::longValue).sum();
  }

  /** The group's lag on each topic: log end offsets minus committed offsets, summed over the topic's partitions. */
  static Map<String, Long> lagByTopic(Admin admin, String group, List<String> topics) throws Exception {
    Map<String, Long> lag = new LinkedHashMap<>();
    Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
        .partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
    Map<String, TopicDescription> described = admin.describeTopics(topics)
        .allTopicNames().get(10, TimeUnit.SECONDS);
    Set<TopicPartition> partitions = new HashSet<>();
    for (String topic : topics) {
      described.get(topic).partitions().forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
    }
    Map<TopicPartition, ListOffsetsResultInfo> ends = admin.listOffsets(
        partitions.stream().collect(Collectors.toMap(p -> p, p -> OffsetSpec.latest()))).all().get(10, TimeUnit.SECONDS);
    for (String topic : topics) {
      lag.put(topic, 0L);
    }
    for (TopicPartition partition : partitions) {
      // No committed offset: the router's consumers start from the earliest record, so all of it is behind.
      OffsetAndMetadata done = committed.get(partition);
      lag.merge(partition.topic(), Math.max(0, ends.get(partition).offset() - (done == null ? 0 : done.offset())),
          Long::sum);
    }
    return lag;
  }

  /** Deliveries parked in Postgres for a later attempt, which the delivery group's offsets no longer show. */
  private static final class Parked implements AutoCloseable {
    private final Vertx vertx = Vertx.vertx();
    private final Pool pool;

    Parked(String url) {
      pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(1)).connectingTo(PgConnectOptions.fromUri(url))
          .using(vertx).build();
    }

    long count() throws Exception {
      return single("SELECT count(*) FROM delivery_retries");
    }

    long deadLetters() throws Exception {
      return single("SELECT count(*) FROM dead_letters");
    }

    private long single(String sql) throws Exception {
      return pool.query(sql).execute().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS)
          .iterator().next().getLong(0);
    }

    @Override
    public void close() throws Exception {
      pool.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
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
