package eventrouter.testing;

import eventrouter.EventRouter;
import eventrouter.config.RouterConfig;
import eventrouter.config.Settings;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.zip.GZIPOutputStream;

/**
 * A real router for a test: the shipped {@code conf/router.json} with environment overrides, its own data dir,
 * free ports, and a Postgres pool onto its warehouse for assertions.
 */
public final class TestRouter implements AutoCloseable {
  public static final String WRITE_KEY = "test-write-key";
  public static final String ADMIN_TOKEN = "test-admin-token-0123456789";
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private final Vertx vertx;
  private final Path dataDir;
  private final Map<String, String> env;
  private final JsonObject file;
  private final Clock clock;
  private EventRouter router;
  private Pool warehouse;

  private TestRouter(Vertx vertx, Path dataDir, Map<String, String> env, JsonObject file, Clock clock) {
    this.vertx = vertx;
    this.dataDir = dataDir;
    this.env = env;
    this.file = file;
    this.clock = clock;
  }

  /**
   * @param overrides ROUTER_* variables on top of the test defaults
   * @param fileChanges merged into conf/router.json (e.g. rate-limited sources)
   */
  public static TestRouter start(Vertx vertx, Path dataDir, Map<String, String> overrides, JsonObject fileChanges) {
    return start(vertx, dataDir, overrides, fileChanges, Clock.systemUTC());
  }

  public static TestRouter start(Vertx vertx, Path dataDir, Map<String, String> overrides, JsonObject fileChanges,
      Clock clock) {
    Map<String, String> env = new HashMap<>();
    env.put("ROUTER_DATA_DIR", dataDir.toString());
    env.put("ROUTER_HTTP_PORT", "0");
    env.put("ROUTER_HTTP_HOST", "127.0.0.1");
    env.put("ROUTER_WRITE_KEYS", WRITE_KEY);
    env.put("ROUTER_ADMIN_TOKEN", ADMIN_TOKEN);
    String pg = TestServices.freshPostgresUrl(vertx);
    if (pg != null) {
      env.put("ROUTER_PG_URL", pg);
    }
    if (TestServices.redisUrl() != null) {
      env.put("ROUTER_REDIS_URL", TestServices.redisUrl());
      // The machine's Redis is shared by every test: each router gets keys of its own.
      env.put("ROUTER_REDIS_PREFIX", "test-" + UUID.randomUUID() + ":");
    }
    env.putAll(overrides);
    JsonObject file = shippedConfig().mergeIn(fileChanges, true);
    TestRouter testRouter = new TestRouter(vertx, dataDir, env, file, clock);
    testRouter.boot();
    return testRouter;
  }

  public static TestRouter start(Vertx vertx, Path dataDir) {
    return start(vertx, dataDir, Map.of(), new JsonObject());
  }

  public static JsonObject shippedConfig() {
    try {
      return new JsonObject(Files.readString(Path.of("conf", "router.json")));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static RouterConfig config(Map<String, String> env, JsonObject file) {
    return RouterConfig.from(new Settings(file, "test config", env));
  }

  private void boot() {
    router = EventRouter.start(config(env, file), clock);
    warehouse = PgBuilder.pool().connectingTo(PgConnectOptions.fromUri(router.postgresUrl())).using(vertx).build();
  }

  /** Stops the router and starts it again on the same data dir and, in external mode, the same database. */
  public void restart() {
    stop();
    boot();
  }

  public void stop() {
    if (warehouse != null) {
      Await.result(warehouse.close());
      warehouse = null;
    }
    if (router != null) {
      router.close();
      router = null;
    }
  }

  public EventRouter router() {
    return router;
  }

  public Path dataDir() {
    return dataDir;
  }

  public String baseUrl() {
    return "http://127.0.0.1:" + router.httpPort();
  }

  // ---- HTTP ----

  public HttpResponse<String> post(String path, String body, Map<String, String> headers) {
    return send(path, HttpRequest.BodyPublishers.ofString(body), headers);
  }

  /** Posts the events as one {@code /v1/batch} request, a fresh messageId on each that has none; asserts the 200. */
  public void postBatch(JsonObject... events) {
    JsonArray batch = new JsonArray();
    for (JsonObject event : events) {
      batch.add(event.containsKey("messageId") ? event : event.copy().put("messageId", UUID.randomUUID().toString()));
    }
    HttpResponse<String> response = postWithKey("/v1/batch", new JsonObject().put("batch", batch).encode());
    if (response.statusCode() != 200) {
      throw new AssertionError("POST /v1/batch answered " + response.statusCode() + ": " + response.body());
    }
  }

  public HttpResponse<String> postWithKey(String path, String body) {
    return post(path, body, Map.of("Content-Type", "application/json", "Authorization", basic(WRITE_KEY)));
  }

  public HttpResponse<String> postGzip(String path, String body, Map<String, String> headers) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (GZIPOutputStream gzip = new GZIPOutputStream(bytes)) {
      gzip.write(body.getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Map<String, String> all = new HashMap<>(headers);
    all.put("Content-Encoding", "gzip");
    return send(path, HttpRequest.BodyPublishers.ofByteArray(bytes.toByteArray()), all);
  }

  public HttpResponse<String> get(String path, Map<String, String> headers) {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUrl() + path)).GET();
    headers.forEach(request::header);
    return call(request.build());
  }

  public HttpResponse<String> delete(String path, Map<String, String> headers) {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUrl() + path)).DELETE();
    headers.forEach(request::header);
    return call(request.build());
  }

  private HttpResponse<String> send(String path, HttpRequest.BodyPublisher body, Map<String, String> headers) {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUrl() + path))
        .timeout(Duration.ofSeconds(30)).POST(body);
    headers.forEach(request::header);
    return call(request.build());
  }

  private static HttpResponse<String> call(HttpRequest request) {
    try {
      return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  public static String basic(String writeKey) {
    return "Basic " + Base64.getEncoder().encodeToString((writeKey + ":").getBytes(StandardCharsets.UTF_8));
  }

  // ---- warehouse ----

  public List<Row> query(String sql, Object... params) {
    return Await.result(queryAsync(sql, params));
  }

  /** For conditions of {@link Await#until}, which run on an event loop and must not block it. */
  public Future<List<Row>> queryAsync(String sql, Object... params) {
    return warehouse.preparedQuery(sql).execute(Tuple.from(params)).map(rows -> {
      List<Row> list = new ArrayList<>();
      rows.forEach(list::add);
      return list;
    });
  }

  /** Waits until {@code SELECT count(*) ...} reaches at least {@code expected}, then returns the final count. */
  public long awaitCount(long expected, String countSql, Object... params) {
    Await.until(vertx, Duration.ofSeconds(30), countSql + " reaches " + expected,
        () -> queryAsync(countSql, params).map(rows -> rows.get(0).getLong(0) >= expected));
    return query(countSql, params).get(0).getLong(0);
  }

  @Override
  public void close() {
    stop();
  }
}
