package eventrouter.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.Await;
import eventrouter.testing.TestRouter;
import eventrouter.testing.WebhookSink;
import eventrouter.testing.WebhookSink.Received;
import eventrouter.testing.WebhookSink.Reply;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
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
 * A destination that is down for 60 s under a steady stream, then back, with the default delivery policy: its circuit
 * opens, it is only probed while down, nothing is lost, and once it is back its backlog drains at the speed it takes
 * events when healthy, measured first in the same run. An IT (the external-services pass only): it takes over a minute.
 */
class DestinationOutageIT {
  private static final int RATE_PER_SECOND = 50;
  private static final int DOWN_SECONDS = 60;
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  Path dataDir;
  private WebhookSink sink;
  private TestRouter router;

  @AfterEach
  void stop() {
    if (router != null) {
      router.close();
    }
    if (sink != null) {
      sink.close();
    }
    vertx.close();
  }

  @Test
  @DisplayName("a destination down for 60 s and then back gets everything, is only probed while down, and drains its"
      + " backlog at its normal speed")
  void downForAMinute() throws Exception {
    sink = WebhookSink.start(vertx);
    AtomicBoolean down = new AtomicBoolean(false);
    sink.behave("/outage", r -> down.get() ? Reply.status(503) : Reply.ok());
    Path file = dataDir.resolve("destinations.json");
    Files.writeString(file, new JsonArray().add(new JsonObject().put("id", "outage").put("type", "webhook")
        .put("url", sink.url("/outage")).put("secret", "outage-secret-0123456789")).encode());
    router = TestRouter.start(vertx, dataDir.resolve("router"), Map.of("ROUTER_DESTINATIONS", file.toString()),
        new JsonObject());

    // Its normal speed: a backlog of the same size, delivered while it is up.
    int backlog = RATE_PER_SECOND * DOWN_SECONDS;
    List<String> warmUp = new ArrayList<>();
    for (int i = 0; i < backlog / 100; i++) {
      warmUp.addAll(send(100));
    }
    long warmStart = System.nanoTime();
    Await.until(vertx, Duration.ofSeconds(120), "the healthy backlog is delivered", () -> Future.succeededFuture(
        delivered().containsAll(warmUp)));
    double normalRate = backlog / ((System.nanoTime() - warmStart) / 1e9);

    down.set(true);
    int callsBefore = sink.on("/outage").size();
    List<String> duringOutage = new ArrayList<>();
    long outageStart = System.nanoTime();
    for (int tick = 0; tick < DOWN_SECONDS * 10; tick++) {
      long due = outageStart + tick * 100_000_000L;
      Await.until(vertx, Duration.ofSeconds(5), "the next tick",
          () -> Future.succeededFuture(System.nanoTime() >= due));
      duringOutage.addAll(send(RATE_PER_SECOND / 10));
    }
    int callsWhileDown = sink.on("/outage").size() - callsBefore;
    double heldByCircuit = router.router().meterRegistry().get("router.delivery.failures")
        .tag("destination", "outage").tag("class", "circuit_open").counter().count();

    down.set(false);
    long upAt = System.nanoTime();
    Await.until(vertx, Duration.ofSeconds(180), "the backlog is delivered", () -> Future.succeededFuture(
        delivered().containsAll(duringOutage)));
    long allAt = System.nanoTime();
    List<Received> afterUp = sink.on("/outage").stream().filter(r -> r.atNanos >= upAt && r.delivered()).toList();
    long firstAt = afterUp.stream().mapToLong(r -> r.atNanos).min().orElse(allAt);
    double drainRate = afterUp.size() / Math.max(1e-3, (allAt - firstAt) / 1e9);
    System.out.printf("destination down %d s at %d events/s: %d events, %d calls while down (%.0f deliveries parked by"
        + " the open circuit); back: first delivery %d ms after, backlog drained at %.0f events/s, %.2f of its normal"
        + " %.0f events/s; all %d delivered %d ms after it was back%n", DOWN_SECONDS, RATE_PER_SECOND,
        duringOutage.size(), callsWhileDown, heldByCircuit, (firstAt - upAt) / 1_000_000, drainRate,
        drainRate / normalRate, normalRate, duringOutage.size(), (allAt - upAt) / 1_000_000);
    assertTrue(heldByCircuit > 0, "the circuit opened");
    assertTrue(callsWhileDown < duringOutage.size() / 4, "while down, the destination got " + callsWhileDown
        + " calls for " + duringOutage.size() + " events: it should only be probed");
    assertTrue(drainRate >= 0.5 * normalRate, "the backlog drained at " + drainRate + " events/s, its normal speed is "
        + normalRate);
    assertEquals(0L, router.query("SELECT count(*) FROM dead_letters WHERE destination = 'outage'").get(0)
        .getLong(0));
  }

  private List<String> send(int count) {
    List<String> ids = new ArrayList<>();
    JsonArray batch = new JsonArray();
    for (int i = 0; i < count; i++) {
      String id = UUID.randomUUID().toString();
      ids.add(id);
      batch.add(new JsonObject().put("type", "track").put("event", "Outage").put("userId", "outage-" + (i % 40))
          .put("messageId", id));
    }
    HttpResponse<String> response = router.postWithKey("/v1/batch", new JsonObject().put("batch", batch).encode());
    assertEquals(200, response.statusCode(), response.body());
    return ids;
  }

  private Set<String> delivered() {
    return sink.deliveredOn("/outage").stream().map(Received::messageId).collect(Collectors.toSet());
  }
}
