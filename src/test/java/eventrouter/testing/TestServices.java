package eventrouter.testing;

import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import java.util.Locale;
import java.util.UUID;

/**
 * Which Postgres and Redis the tests use. The suite runs twice (see pom.xml): once fully embedded, and once with
 * {@code EVENTROUTER_TEST_PG_URL} and {@code EVENTROUTER_TEST_REDIS_URL} naming the machine's own servers, where
 * each router gets a fresh database so that tests never see each other's rows.
 */
public final class TestServices {
  public static final String PG_URL_ENV = "EVENTROUTER_TEST_PG_URL";
  public static final String REDIS_URL_ENV = "EVENTROUTER_TEST_REDIS_URL";

  private TestServices() {
  }

  public static boolean external() {
    return System.getenv(PG_URL_ENV) != null;
  }

  /** A fresh database on the external Postgres, or null in embedded mode. */
  public static String freshPostgresUrl(Vertx vertx) {
    String base = System.getenv(PG_URL_ENV);
    if (base == null) {
      return null;
    }
    String name = "router_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16)
        .toLowerCase(Locale.ROOT);
    Pool admin = PgBuilder.pool().connectingTo(PgConnectOptions.fromUri(base)).using(vertx).build();
    try {
      Await.result(admin.query("CREATE DATABASE " + name).execute());
    } finally {
      Await.result(admin.close());
    }
    return base.substring(0, base.lastIndexOf('/') + 1) + name;
  }

  /** The external Redis, or null in embedded mode. */
  public static String redisUrl() {
    return System.getenv(REDIS_URL_ENV);
  }
}
