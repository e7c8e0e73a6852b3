package eventrouter.warehouse;

import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import io.vertx.sqlclient.Tuple;
import java.io.StringReader;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;

/**
 * How fast the warehouse's statement stores events, fed two ways on one connection: today's {@code unnest} of a text
 * array (the Vert.x PG client), and {@code COPY ... FROM STDIN} into a temporary table that the same statement then
 * reads (pgjdbc's CopyManager: the Vert.x client has no COPY). Both in batches of 1,000, alternating rounds, into a
 * database of the run's own (created and dropped here), so that both see the same machine.
 *
 * <p>Not a test, and not run by the suite. After {@code mvn -B -q package -DskipTests} and {@code mvn -B -q
 * test-compile}:
 * <pre>java -cp target/event-router.jar:target/test-classes eventrouter.warehouse.WarehouseCopyBench \
 *     [postgresql://postgres@127.0.0.1:5432/test] [rounds] [batchesPerRound]</pre>
 * On 2026-12-03, on the machine's Postgres 15 (3 rounds of 10 batches): unnest 11.9k to 13.4k rows/s, COPY 10.6k to
 * 12.9k rows/s. The statement, not the transfer, is the cost, so the warehouse keeps unnest.
 */
public final class WarehouseCopyBench {
  private static final int BATCH = 1_000;

  private WarehouseCopyBench() {
  }

  public static void main(String[] args) throws Exception {
    String adminUrl = args.length > 0 ? args[0] : "postgresql://postgres@127.0.0.1:5432/test";
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    int batches = args.length > 2 ? Integer.parseInt(args[2]) : 20;
    PgConnectOptions admin = PgConnectOptions.fromUri(adminUrl);
    String database = "copybench_" + System.currentTimeMillis();
    String jdbcAdmin = "jdbc:postgresql://" + admin.getHost() + ":" + admin.getPort() + "/" + admin.getDatabase();
    try (Connection conn = DriverManager.getConnection(jdbcAdmin, admin.getUser(), admin.getPassword())) {
      conn.createStatement().execute("CREATE DATABASE " + database);
    }
    Vertx vertx = Vertx.vertx();
    try {
      Pool pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(1))
          .connectingTo(new PgConnectOptions(admin).setDatabase(database)).using(vertx).build();
      Migrations.apply(pool).toCompletionStage().toCompletableFuture().get();
      try (Connection jdbc = DriverManager.getConnection(jdbcAdmin.replace("/" + admin.getDatabase(), "/" + database),
          admin.getUser(), admin.getPassword())) {
        jdbc.setAutoCommit(false);
        try (Statement ddl = jdbc.createStatement()) {
          ddl.execute("CREATE TEMP TABLE staging (r text) ON COMMIT DELETE ROWS");
        }
        jdbc.commit();
        CopyManager copy = jdbc.unwrap(PGConnection.class).getCopyAPI();
        String fromStaging = WarehouseSql.INSERT_BATCH.replace("unnest($1::text[]) AS u(r)", "staging AS u(r)");
        if (fromStaging.equals(WarehouseSql.INSERT_BATCH)) {
          throw new IllegalStateException("INSERT_BATCH no longer reads unnest($1::text[]) AS u(r)");
        }
        for (int round = 1; round <= rounds; round++) {
          long unnestNanos = 0;
          long copyNanos = 0;
          for (int b = 0; b < batches; b++) {
            String[] events = events(BATCH);
            long start = System.nanoTime();
            pool.withTransaction(conn -> conn.preparedQuery(WarehouseSql.INSERT_BATCH)
                .execute(Tuple.tuple().addArrayOfString(events))).toCompletionStage().toCompletableFuture().get();
            unnestNanos += System.nanoTime() - start;

            String[] copied = events(BATCH);
            start = System.nanoTime();
            copy.copyIn("COPY staging (r) FROM STDIN", new StringReader(copyText(copied)));
            try (Statement insert = jdbc.createStatement()) {
              insert.execute(fromStaging);
            }
            jdbc.commit();
            copyNanos += System.nanoTime() - start;
          }
          long rows = (long) BATCH * batches;
          System.out.printf("round %d: unnest (today) %,.0f rows/s; COPY into staging + the same statement %,.0f"
              + " rows/s%n", round, rows / (unnestNanos / 1e9), rows / (copyNanos / 1e9));
        }
      }
      pool.close().toCompletionStage().toCompletableFuture().get();
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get();
      try (Connection conn = DriverManager.getConnection(jdbcAdmin, admin.getUser(), admin.getPassword())) {
        conn.createStatement().execute("DROP DATABASE IF EXISTS " + database);
      }
    }
  }

  /** Normalised events as ingest writes them to the log: tracks of about 600 bytes, some pages and identifies. */
  private static String[] events(int count) {
    String[] events = new String[count];
    for (int i = 0; i < count; i++) {
      String user = "user-" + (i % 500);
      String head = "{\"messageId\":\"" + UUID.randomUUID() + "\",\"userId\":\"" + user + "\",\"anonymousId\":\"anon-"
          + (i % 500) + "\",\"receivedAt\":\"2026-12-03T12:00:00.000Z\",\"timestamp\":\"2026-12-03T12:00:00.000Z\","
          + "\"sentAt\":\"2026-12-03T12:00:00.000Z\",\"originalTimestamp\":\"2026-12-03T12:00:00.000Z\","
          + "\"sourceId\":\"web\",\"context\":{\"ip\":\"203.0.113.7\",\"library\":{\"name\":\"analytics.js\","
          + "\"version\":\"5.2.0\"},\"page\":{\"path\":\"/products/p-1001\",\"url\":\"https://shop.example.com/products"
          + "/p-1001\"},\"locale\":\"en-US\",\"userAgent\":\"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)\"},";
      events[i] = head + switch (i % 10) {
        case 0 -> "\"type\":\"identify\",\"traits\":{\"email\":\"" + user + "@example.com\",\"plan\":\"pro\"}}";
        case 1 -> "\"type\":\"page\",\"name\":\"Product\",\"properties\":{\"path\":\"/products/p-1001\"}}";
        default -> "\"type\":\"track\",\"event\":\"Product Viewed\",\"properties\":{\"product_id\":\"p-1001\","
            + "\"sku\":\"SHOE-RUN-42\",\"name\":\"Trail running shoe\",\"category\":\"shoes\",\"price\":119.0,"
            + "\"currency\":\"USD\",\"quantity\":1}}";
      };
    }
    return events;
  }

  /** COPY's text format: one row a line, with backslash, tab, newline and carriage return escaped. */
  private static String copyText(String[] rows) {
    StringBuilder text = new StringBuilder(rows.length * 700);
    for (String row : rows) {
      for (int i = 0; i < row.length(); i++) {
        char c = row.charAt(i);
        switch (c) {
          case '\\' -> text.append("\\\\");
          case '\t' -> text.append("\\t");
          case '\n' -> text.append("\\n");
          case '\r' -> text.append("\\r");
          default -> text.append(c);
        }
      }
      text.append('\n');
    }
    return text.toString();
  }
}
