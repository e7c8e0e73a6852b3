package eventrouter.warehouse;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Applies the versioned SQL files in {@code db/migration} that the database has not seen, in order, each in the same
 * transaction as its bookkeeping row. An advisory lock lets several routers start against one database at once.
 * Migrations are never edited once they have landed: a change is a new file.
 */
public final class Migrations {
  /** In order; the number after V is the version. */
  static final List<String> FILES = List.of("V1__spine.sql", "V2__signals_identities.sql", "V3__delivery.sql",
      "V4__computed_traits.sql", "V5__ingest_rejects.sql", "V6__typed_tables.sql",
      "V7__stitched_users.sql");
  private static final long LOCK_ID = 0x6576_656e_7472_7472L; // "eventrtr"

  private Migrations() {
  }

  public static Future<Void> apply(Pool pool) {
    return pool.withTransaction(conn -> conn.query("SELECT pg_advisory_xact_lock(" + LOCK_ID + ")").execute()
        .compose(v -> conn.query("CREATE TABLE IF NOT EXISTS schema_migrations ("
            + "version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())").execute())
        .compose(v -> conn.query("SELECT version FROM schema_migrations").execute())
        .compose(rows -> {
          Set<Integer> applied = new HashSet<>();
          for (Row row : rows) {
            applied.add(row.getInteger(0));
          }
          Future<Void> chain = Future.succeededFuture();
          for (String file : FILES) {
            int version = Integer.parseInt(file.substring(1, file.indexOf("__")));
            if (!applied.contains(version)) {
              chain = chain.compose(v -> applyOne(conn, version, file));
            }
          }
          return chain;
        }));
  }

  private static Future<Void> applyOne(SqlConnection conn, int version, String file) {
    return conn.query(read(file)).execute()
        .compose(v -> conn.preparedQuery("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)")
            .execute(Tuple.of(version, file)))
        .recover(e -> Future.failedFuture(new IllegalStateException("migration " + file + " failed: "
            + e.getMessage(), e)))
        .mapEmpty();
  }

  private static String read(String file) {
    try (InputStream in = Migrations.class.getResourceAsStream("/db/migration/" + file)) {
      if (in == null) {
        throw new IllegalStateException("migration " + file + " is missing from the classpath");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
