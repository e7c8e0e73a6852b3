package eventrouter.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.Await;
import eventrouter.testing.RouterProcess;
import eventrouter.testing.WebhookSink;
import eventrouter.testing.WebhookSink.Received;
import eventrouter.testing.WebhookSink.Reply;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * At-least-once delivery across SIGKILL: the packaged router delivers to a webhook that fails a third of the events
 * (they are parked in the retry store) and answers another third slowly (they are in flight), and is killed while
 * deliveries are pending, parked and in flight. After a restart on the same data dir, every acknowledged event is
 * delivered; duplicates are allowed and carry the same Idempotency-Key.
 */
class DeliveryKillNineIT {
  private static final String WRITE_KEY = "delivery-kill-key";
  private static final int EVENTS = 300;
  private final Vertx vertx = Vertx.vertx();
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2))
      // HTTP/1.1, as the SDKs speak it: the JDK client's h2c upgrade once met a GOAWAY from a router just started.
      .version(HttpClient.Version.HTTP_1_1).build();
  @TempDir
  Path dataDir;
  private RouterProcess routers;
  private WebhookSink sink;

  @AfterEach
  void stopAll() throws InterruptedException {
    if (routers != null) {
      routers.close();
    }
    if (sink != null) {
      sink.close();
    }
    vertx.close();
  }

  @Test
  @DisplayName("kill -9 with deliveries pending, in flight and parked: after restart every event is delivered")
  void everyAcknowledgedEventIsDeliveredAfterKillNine() throws Exception {
    sink = WebhookSink.start(vertx);
    AtomicBoolean failing = new AtomicBoolean(true);
    // Before the kill: a third fails (parked for a retry), a third is slow (in flight), a third succeeds. A third is
    // below the circuit's failure rate, so it stays closed and the failing third does not stop the others.
    sink.behave("/hook", r -> {
      if (!failing.get()) {
        return Reply.ok();
      }
      int bucket = Math.floorMod(r.messageId().hashCode(), 3);
      return bucket == 0 ? Reply.status(503) : bucket == 1 ? Reply.slow(300) : Reply.ok();
    });
    Path destinations = dataDir.resolve("destinations.json");
    Files.writeString(destinations, new JsonArray().add(new JsonObject().put("id", "hook").put("type", "webhook")
        .put("url", sink.url("/hook")).put("secret", "kill-nine-secret-0123456789").put("timeoutMs", 2000)
        .put("maxInFlight", 4).put("backoffBaseMs", 200).put("backoffMaxMs", 1000)
        .put("maxAttempts", 1000).put("retryDeadlineMs", 600_000)).encode());

    RouterProcess.Setup setup = RouterProcess.setup(vertx, dataDir.resolve("router"), WRITE_KEY);
    int httpPort = setup.httpPort();
    String pgUrl = setup.postgresUrl();
    setup.env().put("ROUTER_DESTINATIONS", destinations.toString());
    setup.env().put("ROUTER_DELIVERY_RETRY_POLL_MS", "100");
    Files.createDirectories(dataDir.resolve("router"));
    routers = new RouterProcess(vertx, dataDir.resolve("router"), setup.env(), httpPort);
    Process first = routers.start();

    List<String> acknowledged = new ArrayList<>();
    for (int i = 0; i < EVENTS; i += 10) {
      JsonArray batch = new JsonArray();
      List<String> ids = new ArrayList<>();
      for (int j = 0; j < 10; j++) {
        String id = UUID.randomUUID().toString();
        ids.add(id);
        batch.add(new JsonObject().put("type", "track").put("event", "Kill").put("userId", "kill-user-" + (j % 7))
            .put("messageId", id));
      }
      HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort
              + "/v1/batch")).timeout(Duration.ofSeconds(15))
          .header("Content-Type", "application/json")
          .header("Authorization", "Basic " + Base64.getEncoder().encodeToString((WRITE_KEY + ":")
              .getBytes(StandardCharsets.UTF_8)))
          .POST(HttpRequest.BodyPublishers.ofString(new JsonObject().put("batch", batch).encode())).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, response.statusCode(), response.body());
      acknowledged.addAll(ids);
    }
    Pool postgres = PgBuilder.pool().connectingTo(PgConnectOptions.fromUri(pgUrl)).using(vertx).build();
    Await.until(vertx, Duration.ofSeconds(60), "some deliveries are parked and some were delivered",
        () -> postgres.query("SELECT count(*) FROM delivery_retries").execute()
            .map(rows -> rows.iterator().next().getLong(0) >= 10 && delivered().size() >= 20));
    Set<String> deliveredBeforeKill = delivered();
    routers.kill(first);
    Await.result(postgres.close());
    assertTrue(deliveredBeforeKill.size() < EVENTS, "the kill came while deliveries were still pending");

    failing.set(false);
    routers.start();
    Await.until(vertx, Duration.ofSeconds(120), "every acknowledged event is delivered after the restart",
        () -> Future.succeededFuture(delivered().containsAll(acknowledged)));

    Map<String, Set<String>> keysByMessage = sink.on("/hook").stream().collect(Collectors.groupingBy(
        Received::messageId, Collectors.mapping(r -> r.header("Idempotency-Key"), Collectors.toSet())));
    for (String id : acknowledged) {
      assertEquals(Set.of(id + ":hook"), keysByMessage.get(id), "every attempt of " + id + " carries one key");
    }
    long requests = sink.on("/hook").size();
    System.out.println("delivery kill -9: " + acknowledged.size() + " events acknowledged, "
        + deliveredBeforeKill.size() + " delivered before the kill, " + requests + " requests in all");
  }

  private Set<String> delivered() {
    return sink.deliveredOn("/hook").stream().map(Received::messageId).collect(Collectors.toSet());
  }
}
