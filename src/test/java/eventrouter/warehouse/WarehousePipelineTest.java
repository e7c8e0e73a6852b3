package eventrouter.warehouse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import eventrouter.testing.Await;
import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.PgConnection;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pipelined warehouse writer against a real router: batches of different lanes are written at the same time, and
 * a partition's committed offset never passes a batch that is not written. Postgres is steered with triggers on
 * {@code events}: one waits for an advisory lock the test holds, the other fails chosen events until told not to.
 */
class WarehousePipelineTest {
  private static final long GATE_LOCK = 4242;

  private final Vertx vertx = Vertx.vertx();
  @TempDir
  Path dir;
  private TestRouter router;
  private Admin admin;
  private PgConnection gate;
  private String group;
  private String topic;
  private int partitions;

  @BeforeEach
  void start() {
    router = TestRouter.start(vertx, dir, Map.of(
        "ROUTER_WAREHOUSE_RETRY_BASE_MS", "50", "ROUTER_WAREHOUSE_RETRY_MAX_MS", "200"), new JsonObject());
    admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, router.router().kafkaBootstrap()));
    group = router.router().config().warehouse().groupId();
    topic = router.router().config().kafka().topic();
    partitions = router.router().config().kafka().partitions();
  }

  @AfterEach
  void stop() {
    if (gate != null) {
      Await.result(gate.close());
    }
    admin.close(Duration.ofSeconds(5)); // before the broker, which the router owns
    router.close();
    vertx.close();
  }

  @Test
  @DisplayName("while Postgres holds the writes, one batch per lane is in flight: postgres.poolSize transactions at"
      + " once")
  void batchesInFlightAtOnce() throws Exception {
    int poolSize = router.router().config().postgres().poolSize();
    assertEquals(4, poolSize, "the shipped default");
    // A first "Gated" event makes its typed table and columns: a batch that changes the schema runs alone (under
    // the typed tables' exclusive lock), and the batches below must not need to.
    String first = track(userOn(0, "gated-"), "Gated");
    router.awaitCount(1, "SELECT count(*) FROM events WHERE message_id = $1", first);
    awaitBlocking("the first event's offset committed", () -> committed(0) == end(0));
    long[] committedBefore = new long[partitions];
    for (int partition = 0; partition < partitions; partition++) {
      committedBefore[partition] = committed(partition);
    }
    router.query("""
        CREATE FUNCTION test_gate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM pg_advisory_xact_lock_shared(%d);
          RETURN NEW;
        END $$""".formatted(GATE_LOCK));
    router.query("CREATE TRIGGER test_gate BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION test_gate()");
    gate = Await.result(PgConnection.connect(vertx, PgConnectOptions.fromUri(router.router().postgresUrl())));
    Await.result(gate.query("SELECT pg_advisory_lock(" + GATE_LOCK + ")").execute());

    // One user on every partition, so that every lane has records; several events each.
    List<String> ids = new ArrayList<>();
    for (int partition = 0; partition < partitions; partition++) {
      String user = userOn(partition, "gated-");
      JsonArray batch = new JsonArray();
      for (int i = 0; i < 5; i++) {
        String id = UUID.randomUUID().toString();
        ids.add(id);
        batch.add(new JsonObject().put("type", "track").put("event", "Gated").put("userId", user).put("messageId", id));
      }
      assertEquals(200, router.postWithKey("/v1/batch", new JsonObject().put("batch", batch).encode()).statusCode());
    }

    String waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = " + GATE_LOCK
        + " AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    Await.until(vertx, Duration.ofSeconds(30), poolSize + " writer transactions waiting at once", () ->
        router.queryAsync(waiting).map(rows -> rows.get(0).getLong(0) >= poolSize));
    assertEquals(poolSize, router.query(waiting).get(0).getLong(0), "never more than the pool");
    assertEquals(0, router.query("SELECT count(*) FROM events WHERE message_id = ANY($1)",
        (Object) ids.toArray(String[]::new)).get(0).getLong(0), "nothing is written yet");
    for (int partition = 0; partition < partitions; partition++) {
      assertEquals(committedBefore[partition], committed(partition),
          "nothing is committed while nothing is written, partition " + partition);
    }

    Await.result(gate.query("SELECT pg_advisory_unlock(" + GATE_LOCK + ")").execute());
    assertEquals(ids.size(), router.awaitCount(ids.size(), "SELECT count(*) FROM events WHERE message_id = ANY($1)",
        (Object) ids.toArray(String[]::new)));
    for (int partition = 0; partition < partitions; partition++) {
      int p = partition;
      awaitBlocking("partition " + p + " committed to its end", () -> committed(p) == end(p));
    }
  }

  @Test
  @DisplayName("a batch that fails is retried while other lanes write and commit, and its partition's offset stays"
      + " at it until it is written")
  void failedBatchHoldsItsPartitionsOffset() throws Exception {
    router.query("CREATE SEQUENCE test_poison_attempts");
    router.query("CREATE TABLE test_poison_on (on_ boolean)");
    router.query("INSERT INTO test_poison_on VALUES (true)");
    // The default SQLSTATE of RAISE (P0001) does not blame the content, so the writer retries the whole batch.
    // nextval survives the rollback, and so counts the attempts.
    router.query("""
        CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.event = 'Poison' AND EXISTS (SELECT 1 FROM test_poison_on) THEN
            PERFORM nextval('test_poison_attempts');
            RAISE EXCEPTION 'poisoned by the test';
          END IF;
          RETURN NEW;
        END $$""");
    router.query("CREATE TRIGGER test_poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION test_poison()");
    // A lane writes one batch at a time, so the batch after a failing one in the same partition waits behind it (the
    // test checks that too); the batch that succeeds meanwhile is another lane's, on another partition.
    int poolSize = router.router().config().postgres().poolSize();
    int poisoned = 0;
    int healthy = 1;
    assertNotEquals(poisoned % poolSize, healthy % poolSize, "the two partitions are in different lanes");
    String userA = userOn(poisoned, "poisoned-");
    String userB = userOn(healthy, "healthy-");

    String a1 = track(userA, "Before");
    router.awaitCount(1, "SELECT count(*) FROM events WHERE message_id = $1", a1);
    long poisonOffset = end(poisoned);
    awaitBlocking("the event before the poison committed", () -> committed(poisoned) == poisonOffset);

    String a2 = track(userA, "Poison");
    awaitBlocking("the poisoned batch tried twice", () -> poisonAttempts() >= 2);
    String a3 = track(userA, "After");
    String b1 = track(userB, "Meanwhile");
    String b2 = track(userB, "Meanwhile");
    router.awaitCount(2, "SELECT count(*) FROM events WHERE message_id = ANY($1)", (Object) new String[] {b1, b2});
    awaitBlocking("the other lane's batch committed", () -> committed(healthy) == end(healthy));

    assertEquals(0, router.query("SELECT count(*) FROM events WHERE message_id = ANY($1)",
        (Object) new String[] {a2, a3}).get(0).getLong(0), "nothing of the poisoned partition passes the poison");
    assertEquals(poisonOffset, committed(poisoned), "the offset stays at the unwritten event");
    long attempts = poisonAttempts();
    awaitBlocking("the poisoned batch still retried", () -> poisonAttempts() > attempts);
    assertEquals(poisonOffset, committed(poisoned), "the offset stays at the unwritten event while it retries");

    router.query("DELETE FROM test_poison_on");
    assertEquals(2, router.awaitCount(2, "SELECT count(*) FROM events WHERE message_id = ANY($1)",
        (Object) new String[] {a2, a3}));
    awaitBlocking("the poisoned partition committed past both", () -> committed(poisoned) == poisonOffset + 2);
    assertEquals(poisonOffset + 2, end(poisoned), "the poison and the event after it were the partition's last two");
  }

  private String track(String user, String event) {
    String id = UUID.randomUUID().toString();
    assertEquals(200, router.postWithKey("/v1/track", new JsonObject().put("event", event).put("userId", user)
        .put("messageId", id).encode()).statusCode());
    return id;
  }

  /** A user id that the producer's default partitioner (murmur2 of the key, which is the userId) puts on partition. */
  private String userOn(int partition, String prefix) {
    for (int i = 0; ; i++) {
      String user = prefix + i + "-" + UUID.randomUUID();
      if (Utils.toPositive(Utils.murmur2(user.getBytes(StandardCharsets.UTF_8))) % partitions == partition) {
        return user;
      }
    }
  }

  private long poisonAttempts() {
    return router.query("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM test_poison_attempts")
        .get(0).getLong(0);
  }

  /** The writer group's committed offset of the events topic's partition, or -1 when it has none. */
  private long committed(int partition) throws ExecutionException, InterruptedException {
    OffsetAndMetadata offset = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get()
        .get(new TopicPartition(topic, partition));
    return offset == null ? -1 : offset.offset();
  }

  private long end(int partition) throws ExecutionException, InterruptedException {
    TopicPartition tp = new TopicPartition(topic, partition);
    return admin.listOffsets(Map.of(tp, OffsetSpec.latest())).partitionResult(tp).get().offset();
  }

  /** Waits for a condition that blocks (Kafka's admin client, queries), on a worker rather than the event loop. */
  private void awaitBlocking(String what, Callable<Boolean> condition) {
    Await.until(vertx, Duration.ofSeconds(30), what, () -> vertx.executeBlocking(condition));
  }
}
