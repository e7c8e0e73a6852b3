package eventrouter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.Await;
import eventrouter.testing.RouterProcess;
import eventrouter.testing.TestRouter;
import eventrouter.testing.TopicRecords;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2))
      // HTTP/1.1, as the SDKs speak it: the JDK client's h2c upgrade once met a GOAWAY from a router just started.
      .version(HttpClient.Version.HTTP_1_1).build();
  @TempDir
  Path dataDir;
  private RouterProcess.Setup setup;
  private RouterProcess router;

  @AfterEach
  void stopAll() throws InterruptedException {
    router.close();
    vertx.close();
  }

  /** A router process on fixed ports, so that it keeps them across the restart; returns its Postgres URL. */
  private String prepareEnvironment() {
    setup = RouterProcess.setup(vertx, dataDir, WRITE_KEY);
    router = new RouterProcess(vertx, dataDir, setup.env(), setup.httpPort());
    return setup.postgresUrl();
  }

  @Test
  @DisplayName("kill -9 during a load loses no event that was answered 200, nor any refused event it named")
  void killNineLosesNothingAcknowledged() throws Exception {
    String pgUrl = prepareEnvironment();

    Process first = router.start();
    Set<String> acknowledged = ConcurrentHashMap.newKeySet();
    Set<String> rejectedInAcknowledged = ConcurrentHashMap.newKeySet();
    AtomicInteger refused = new AtomicInteger();
    AtomicBoolean sending = new AtomicBoolean(true);
    ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
    for (int c = 0; c < CLIENTS; c++) {
      int client = c;
      clients.submit(() -> send(client, acknowledged, rejectedInAcknowledged, refused, sending));
    }
    Await.until(vertx, Duration.ofSeconds(60), "clients have 2000 acknowledged events",
        () -> Future.succeededFuture(acknowledged.size() >= 2_000));
    router.kill(first); // SIGKILL while the clients are still sending
    sending.set(false);
    clients.shutdown();
    assertTrue(clients.awaitTermination(60, TimeUnit.SECONDS));

    router.start();
    long upAt = System.nanoTime();
    Pool warehouse = PgBuilder.pool().connectingTo(PgConnectOptions.fromUri(pgUrl)).using(vertx).build();
    String[] ids = acknowledged.toArray(String[]::new);
    // The restarted consumers take their partitions back at once (static membership), rather than after the dead
    // members' session timed out, which stalled everything for 45 s.
    Await.until(vertx, Duration.ofSeconds(10), "every acknowledged event is in the warehouse within 10 s of the restart",
        () -> warehouse.preparedQuery("SELECT count(*) FROM events WHERE message_id = ANY($1)")
            .execute(Tuple.of(ids)).map(rows -> rows.iterator().next().getLong(0) == ids.length));
    System.out.printf("all %d acknowledged events were in the warehouse %d ms after the restarted router was up%n",
        ids.length, (System.nanoTime() - upAt) / 1_000_000);
    long stored = Await.result(warehouse.preparedQuery("SELECT count(*) FROM events WHERE message_id = ANY($1)")
        .execute(Tuple.of(ids)).map(rows -> rows.iterator().next().getLong(0)));
    assertEquals(ids.length, stored);
    String[] rejectIds = rejectedInAcknowledged.toArray(String[]::new);
    assertTrue(rejectIds.length > 50, "batches with a refused event were answered 200: " + rejectIds.length);
    Await.until(vertx, Duration.ofSeconds(60), "every refused event named in a 200 is in ingest_rejects",
        () -> warehouse.preparedQuery("SELECT count(*) FROM ingest_rejects WHERE message_id = ANY($1)")
            .execute(Tuple.of(rejectIds)).map(rows -> rows.iterator().next().getLong(0) == rejectIds.length));
    long rejectsInEvents = Await.result(warehouse.preparedQuery("SELECT count(*) FROM events WHERE message_id = ANY($1)")
        .execute(Tuple.of(rejectIds)).map(rows -> rows.iterator().next().getLong(0)));
    assertEquals(0, rejectsInEvents);
    Await.result(warehouse.close());
  }

  @Test
  @DisplayName("an armed timer survives kill -9: it fires once after the restart, marked late")
  void timerSurvivesKillNine() throws Exception {
    String pgUrl = prepareEnvironment();
    JsonObject rules = new JsonObject(Files.readString(Path.of("conf", "rules.json")));
    rules.getJsonArray("rules").getJsonObject(0).put("after", "4s"); // cart-abandonment
    Path rulesFile = dataDir.resolve("rules.json");
    Files.writeString(rulesFile, rules.encode());
    setup.env().put("ROUTER_RULES", rulesFile.toString());

    Process first = router.start();
    String user = "timer-user-" + UUID.randomUUID();
    HttpResponse<String> added = http.send(HttpRequest.newBuilder(URI.create(base() + "/v1/track"))
        .header("Content-Type", "application/json").header("Authorization", TestRouter.basic(WRITE_KEY))
        .POST(HttpRequest.BodyPublishers.ofString("{\"userId\":\"" + user + "\",\"event\":\"Product Added\","
            + "\"properties\":{\"product_id\":\"p-1\",\"price\":12.5}}")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, added.statusCode(), added.body());
    long[] due = new long[1];
    Await.until(vertx, Duration.ofSeconds(30), "the timer is armed", () -> vertx.executeBlocking(() -> {
      JsonArray timers = adminUser(user).getJsonArray("timers");
      if (timers.isEmpty()) {
        return false;
      }
      due[0] = Long.parseLong(timers.getJsonObject(0).getString("due"));
      return true;
    }));
    router.kill(first);
    // The timer falls due while no router runs.
    Await.until(vertx, Duration.ofSeconds(30), "the timer's due time has passed",
        () -> Future.succeededFuture(System.currentTimeMillis() > due[0] + 2_000));

    router.start();
    Pool warehouse = PgBuilder.pool().connectingTo(PgConnectOptions.fromUri(pgUrl)).using(vertx).build();
    Await.until(vertx, Duration.ofSeconds(60), "Cart Abandoned is stored", () -> warehouse
        .preparedQuery("SELECT count(*) FROM signals WHERE user_id = $1").execute(Tuple.of(user))
        .map(rows -> rows.iterator().next().getLong(0) == 1));
    Await.until(vertx, Duration.ofSeconds(30), "the fired timer is gone", () -> vertx.executeBlocking(
        () -> adminUser(user).getJsonArray("timers").isEmpty()));
    Row signal = Await.result(warehouse.preparedQuery("SELECT * FROM signals WHERE user_id = $1").execute(Tuple.of(user)))
        .iterator().next();
    assertEquals("Cart Abandoned", signal.getString("signal"));
    assertTrue(signal.getBoolean("late"), "it fell due while the router was down");
    assertTrue(signal.getLong("late_by_ms") >= 1_000);
    assertEquals(12.5, ((JsonObject) signal.getValue("properties")).getDouble("value"));
    assertEquals(1, countInSignalsTopic(signal.getString("message_id")), "fired exactly once");
    Await.result(warehouse.close());
  }

  private String base() {
    return "http://127.0.0.1:" + setup.httpPort();
  }

  private JsonObject adminUser(String id) throws IOException, InterruptedException {
    return new JsonObject(http.send(HttpRequest.newBuilder(URI.create(base() + "/admin/users/" + id))
        .header("Authorization", "Bearer " + TestRouter.ADMIN_TOKEN).build(), HttpResponse.BodyHandlers.ofString()).body());
  }

  private long countInSignalsTopic(String messageId) {
    String bootstrap = "127.0.0.1:" + setup.env().get("ROUTER_KAFKA_EMBEDDED_PORT");
    return TopicRecords.values(bootstrap, "router.signals").stream().filter(value -> value.contains(messageId)).count();
  }


  /**
   * Sends single events and small batches until told to stop, recording the ids of every 200. Each batch carries
   * one event without a user, which must be refused alone and kept.
   */
  private void send(int client, Set<String> acknowledged, Set<String> rejected, AtomicInteger refused,
      AtomicBoolean sending) {
    String auth = TestRouter.basic(WRITE_KEY);
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
      String rejectId = UUID.randomUUID().toString();
      body.append(batch ? ",{\"type\":\"track\",\"event\":\"No User\",\"messageId\":\"" + rejectId + "\"}]}" : "");
      try {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(base()
                + (batch ? "/v1/batch" : "/v1/track"))).timeout(Duration.ofSeconds(15))
            .header("Content-Type", "application/json").header("Authorization", auth)
            .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() == 200) {
          acknowledged.addAll(ids);
          if (batch) {
            rejected.add(rejectId);
          }
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


}
