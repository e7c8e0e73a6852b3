package eventrouter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.Await;
import eventrouter.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ack point under the harshest stop: the packaged router runs as its own process, clients send while it is
 * killed with SIGKILL, and after a restart on the same data dir every event that was answered 200 is in Postgres.
 */
class KillNineIT {
  private static final String WRITE_KEY = "kill-nine-key";
  private static final int CLIENTS = 6;
  private final Vertx vertx = Vertx.vertx();
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final List<Process> processes = new ArrayList<>();
  @TempDir
  Path dataDir;
  private Map<String, String> env;
  private int httpPort;

  @AfterEach
  void stopAll() throws InterruptedException {
    for (Process process : processes) {
      process.destroy(); // SIGTERM: the shutdown hook stops the embedded servers
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
    vertx.close();
  }

  private Process startRouter() throws IOException {
    ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx512m", "-jar", Path.of("target", "event-router.jar").toAbsolutePath().toString(), "--conf",
        Path.of("conf", "router.json").toAbsolutePath().toString())
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dataDir.resolve("router.log").toFile()));
    builder.environment().putAll(env);
    Process process = builder.start();
    processes.add(process);
    Await.until(vertx, Duration.ofSeconds(120), "the router answers /health with 200", () -> healthy(process));
    return process;
  }

  private Future<Boolean> healthy(Process process) {
    if (!process.isAlive()) {
      return Future.failedFuture(new AssertionError("router exited with " + process.exitValue() + "; see "
          + dataDir.resolve("router.log")));
    }
    return vertx.executeBlocking(() -> {
      try {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/health"))
            .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
      } catch (IOException e) {
        return false;
      }
    });
  }

  @Test
  @DisplayName("kill -9 during a load loses no event that was answered 200")
  void killNineLosesNothingAcknowledged() throws Exception {
    httpPort = freePort();
    env = new HashMap<>();
    env.put("ROUTER_DATA_DIR", dataDir.toString());
    env.put("ROUTER_HTTP_PORT", String.valueOf(httpPort));
    env.put("ROUTER_WRITE_KEYS", WRITE_KEY);
    env.put("ROUTER_PG_EMBEDDED_PORT", String.valueOf(freePort()));
    String pgUrl = TestServices.freshPostgresUrl(vertx);
    if (pgUrl != null) {
      env.put("ROUTER_PG_URL", pgUrl);
      env.put("ROUTER_REDIS_URL", TestServices.redisUrl());
    } else {
      pgUrl = "postgresql://postgres@127.0.0.1:" + env.get("ROUTER_PG_EMBEDDED_PORT") + "/postgres";
    }

    Process first = startRouter();
    Set<String> acknowledged = ConcurrentHashMap.newKeySet();
    AtomicInteger refused = new AtomicInteger();
    AtomicBoolean sending = new AtomicBoolean(true);
    ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
    for (int c = 0; c < CLIENTS; c++) {
      int client = c;
      clients.submit(() -> send(client, acknowledged, refused, sending));
    }
    Await.until(vertx, Duration.ofSeconds(60), "clients have 2000 acknowledged events",
        () -> Future.succeededFuture(acknowledged.size() >= 2_000));
    first.destroyForcibly(); // SIGKILL while the clients are still sending
    assertTrue(first.waitFor(30, TimeUnit.SECONDS));
    sending.set(false);
    clients.shutdown();
    assertTrue(clients.awaitTermination(60, TimeUnit.SECONDS));
    processes.remove(first);

    startRouter();
    Pool warehouse = PgBuilder.pool().connectingTo(PgConnectOptions.fromUri(pgUrl)).using(vertx).build();
    String[] ids = acknowledged.toArray(String[]::new);
    Await.until(vertx, Duration.ofSeconds(90), "every acknowledged event is in the warehouse",
        () -> warehouse.preparedQuery("SELECT count(*) FROM events WHERE message_id = ANY($1)")
            .execute(Tuple.of(ids)).map(rows -> rows.iterator().next().getLong(0) == ids.length));
    long stored = Await.result(warehouse.preparedQuery("SELECT count(*) FROM events WHERE message_id = ANY($1)")
        .execute(Tuple.of(ids)).map(rows -> rows.iterator().next().getLong(0)));
    assertEquals(ids.length, stored);
    Await.result(warehouse.close());
  }

  /** Sends single events and small batches until told to stop, recording the ids of every 200. */
  private void send(int client, Set<String> acknowledged, AtomicInteger refused, AtomicBoolean sending) {
    String auth = "Basic " + java.util.Base64.getEncoder().encodeToString((WRITE_KEY + ":").getBytes());
    int n = 0;
    while (sending.get()) {
      boolean batch = n++ % 2 == 0;
      List<String> ids = new ArrayList<>();
      StringBuilder body = new StringBuilder(batch ? "{\"batch\":[" : "");
      for (int i = 0; i < (batch ? 10 : 1); i++) {
        String id = UUID.randomUUID().toString();
        ids.add(id);
        body.append(i == 0 ? "" : ",").append("{\"type\":\"track\",\"event\":\"Load\",\"userId\":\"user-")
            .append(client).append('-').append(n % 50).append("\",\"messageId\":\"").append(id).append("\"}");
      }
      body.append(batch ? "]}" : "");
      try {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort
                + (batch ? "/v1/batch" : "/v1/track"))).timeout(Duration.ofSeconds(15))
            .header("Content-Type", "application/json").header("Authorization", auth)
            .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() == 200) {
          acknowledged.addAll(ids);
        } else {
          refused.incrementAndGet();
        }
      } catch (IOException e) {
        refused.incrementAndGet(); // the router died under this request: not acknowledged, may or may not be stored
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
