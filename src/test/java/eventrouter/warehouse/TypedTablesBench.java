package eventrouter.warehouse;

import eventrouter.warehouse.typed.TypedTables;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;

/**
 * What the typed tables cost the warehouse writer: the same batches of 1,000 track events (20 event names of 10
 * properties each, and a browser SDK's context) written by {@link WarehouseWriter} with typed tables on and off, in
 * alternating rounds on one connection, into a database of the run's own (created and dropped here). Prints events
 * per second for each, and their ratio.
 *
 * <p>Not a test, and not run by the suite. After {@code mvn -B -q package -DskipTests} and {@code mvn -B -q
 * test-compile}:
 * <pre>java -cp target/event-router.jar:target/test-classes eventrouter.warehouse.TypedTablesBench \
 *     [postgresql://postgres@127.0.0.1:5432/test] [rounds] [batchesPerRound]</pre>
 * On 2026-12-03, on the machine's Postgres 15 (3 rounds of 30 batches, quiet machine): typed tables on 5.7k to 7.4k
 * events/s, off 10.2k to 11.2k, on/off 0.56 to 0.73. Postgres' own time per batch grows by about a quarter (the
 * typed inserts, in its statement log); the rest is the writer's: parsing and flattening each event in Java, and
 * the 20 more round trips.
 */
public final class TypedTablesBench {
  private static final int BATCH = 1_000;
  private static final int NAMES = 20;
  private static final int PROPERTIES = 10;

  private TypedTablesBench() {
  }

  public static void main(String[] args) throws Exception {
    String adminUrl = args.length > 0 ? args[0] : "postgresql://postgres@127.0.0.1:5432/test";
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    int batches = args.length > 2 ? Integer.parseInt(args[2]) : 10;
    PgConnectOptions admin = PgConnectOptions.fromUri(adminUrl);
    String database = "typedbench_" + System.currentTimeMillis();
    Vertx vertx = Vertx.vertx();
    Pool adminPool = PgBuilder.pool().connectingTo(admin).using(vertx).build();
    await(adminPool.query("CREATE DATABASE " + database).execute());
    try {
      Pool pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(1))
          .connectingTo(new PgConnectOptions(admin).setDatabase(database)).using(vertx).build();
      await(Migrations.apply(pool));
      WarehouseWriter typed = new WarehouseWriter(pool, "signals", "rejects",
          new TypedTables(new TypedTables.Limits(true, 1_000, 1_000)));
      WarehouseWriter untyped = new WarehouseWriter(pool, "signals", "rejects",
          new TypedTables(new TypedTables.Limits(false, 1_000, 1_000)));
      Random random = new Random(7);
      write(typed, batch(random)); // makes the 20 tables and their columns, unmeasured
      for (int round = 1; round <= rounds; round++) {
        double on = rate(typed, random, batches);
        double off = rate(untyped, random, batches);
        System.out.printf("round %d: typed tables on %,.0f events/s, off %,.0f events/s, on/off %.2f%n", round, on,
            off, on / off);
      }
      await(pool.close());
    } finally {
      await(adminPool.query("DROP DATABASE " + database).execute());
      await(adminPool.close());
      await(vertx.close());
    }
  }

  private static double rate(WarehouseWriter writer, Random random, int batches) throws Exception {
    List<List<WarehouseWriter.Record>> prepared = new ArrayList<>();
    for (int i = 0; i < batches; i++) {
      prepared.add(batch(random));
    }
    long start = System.nanoTime();
    for (List<WarehouseWriter.Record> batch : prepared) {
      write(writer, batch);
    }
    return (double) batches * BATCH / ((System.nanoTime() - start) / 1e9);
  }

  private static void write(WarehouseWriter writer, List<WarehouseWriter.Record> batch) throws Exception {
    writer.write(batch).toCompletionStage().toCompletableFuture().get();
  }

  private static List<WarehouseWriter.Record> batch(Random random) {
    List<WarehouseWriter.Record> records = new ArrayList<>(BATCH);
    for (int i = 0; i < BATCH; i++) {
      int name = random.nextInt(NAMES);
      JsonObject properties = new JsonObject();
      for (int p = 0; p < PROPERTIES; p++) {
        switch (p % 4) {
          case 0 -> properties.put("count" + name + "_" + p, random.nextInt(1000));
          case 1 -> properties.put("price" + name + "_" + p, random.nextInt(100_000) / 100.0);
          case 2 -> properties.put("label" + name + "_" + p, "value-" + random.nextInt(50));
          default -> properties.put("flag" + name + "_" + p, random.nextBoolean());
        }
      }
      String now = java.time.Instant.now().toString();
      JsonObject event = new JsonObject().put("type", "track").put("event", "Bench Event " + name)
          .put("messageId", UUID.randomUUID().toString()).put("userId", "user-" + random.nextInt(500))
          .put("anonymousId", UUID.randomUUID().toString()).put("sourceId", "web").put("timestamp", now)
          .put("receivedAt", now).put("sentAt", now).put("originalTimestamp", now).put("properties", properties)
          .put("context", new JsonObject().put("library", new JsonObject().put("name", "analytics.js")
                  .put("version", "5.2.0"))
              .put("page", new JsonObject().put("path", "/p").put("url", "https://shop.example/p").put("title", "P"))
              .put("userAgent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120").put("locale", "en-US")
              .put("ip", "10.0.0.1"));
      records.add(new WarehouseWriter.Record("events", 0, i, event.encode()));
    }
    return records;
  }

  private static <T> T await(io.vertx.core.Future<T> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get();
  }
}
