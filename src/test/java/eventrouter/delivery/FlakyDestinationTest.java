package eventrouter.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.Await;
import eventrouter.testing.TestRouter;
import eventrouter.testing.WebhookSink;
import eventrouter.testing.WebhookSink.Received;
import eventrouter.testing.WebhookSink.Reply;
import io.micrometer.core.instrument.MeterRegistry;
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
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Destinations that fail the way real ones do, each with the default delivery policy (only its URL and secret set):
 * one that fails the first two tries of every message, and one that fails one call in a hundred under a steady 1,000
 * events/s. Both must get everything, promptly, and the second must never open its circuit.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FlakyDestinationTest {
  private static final String SECRET = "flaky-secret-0123456789";
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  static Path dataDir;
  private WebhookSink sink;
  private TestRouter router;

  @BeforeAll
  void start() throws Exception {
    sink = WebhookSink.start(vertx);
    Map<String, AtomicInteger> tries = new ConcurrentHashMap<>();
    sink.behave("/third-try", r -> tries.computeIfAbsent(r.messageId(), id -> new AtomicInteger())
        .incrementAndGet() <= 2 ? Reply.status(500) : Reply.ok());
    sink.behave("/one-in-a-hundred", r -> Math.floorMod(r.messageId().hashCode(), 100) == 0
        && tries.computeIfAbsent(r.messageId(), id -> new AtomicInteger()).incrementAndGet() == 1
        ? Reply.status(503) : Reply.ok());
    JsonArray destinations = new JsonArray()
        .add(webhook("third-try", "event.event == 'Third Try'"))
        .add(webhook("one-in-a-hundred", "event.event == 'Steady'"));
    Path file = dataDir.resolve("destinations.json");
    Files.writeString(file, destinations.encode());
    router = TestRouter.start(vertx, dataDir.resolve("router"), Map.of("ROUTER_DESTINATIONS", file.toString()),
        new JsonObject());
  }

  @AfterAll
  void stop() {
    router.close();
    sink.close();
    vertx.close();
  }

  private JsonObject webhook(String id, String filter) {
    return new JsonObject().put("id", id).put("type", "webhook").put("url", sink.url("/" + id)).put("secret", SECRET)
        .put("filter", filter);
  }

  @Test
  @DisplayName("a destination that fails the first two tries of every message gets all of a 200-event burst within"
      + " 30 s")
  void failsTheFirstTwoTries() {
    List<String> ids = send("Third Try", 200);
    long sentAt = System.nanoTime();
    Await.until(vertx, Duration.ofSeconds(30), "all 200 events are delivered", () -> Future.succeededFuture(
        delivered("/third-try").containsAll(ids)));
    System.out.printf("third-try: all 200 delivered %d ms after the burst, in %d requests%n",
        (System.nanoTime() - sentAt) / 1_000_000, sink.on("/third-try").size());
  }

  @Test
  @DisplayName("a destination that fails 1% of calls at 1,000 events/s never opens its circuit and gets everything")
  void failsOneCallInAHundred() {
    List<String> ids = new ArrayList<>();
    long start = System.nanoTime();
    for (int second = 0; second < 10; second++) {
      for (int tick = 0; tick < 10; tick++) {
        long due = start + (second * 10L + tick) * 100_000_000L;
        Await.until(vertx, Duration.ofSeconds(5), "the next tick", () -> Future.succeededFuture(
            System.nanoTime() >= due));
        ids.addAll(send("Steady", 100)); // 100 events every 100 ms
      }
    }
    Await.until(vertx, Duration.ofSeconds(60), "all 10,000 events are delivered", () -> Future.succeededFuture(
        delivered("/one-in-a-hundred").containsAll(ids)));
    MeterRegistry meters = router.router().meterRegistry();
    double notPermitted = meters.get("router.delivery.circuit_not_permitted").tag("destination", "one-in-a-hundred")
        .counter().count();
    long failed = sink.on("/one-in-a-hundred").stream().filter(r -> !r.delivered()).count();
    System.out.printf("one-in-a-hundred: %d events, %d failed calls, %.0f deliveries not permitted by the circuit%n",
        ids.size(), failed, notPermitted);
    assertTrue(failed >= 50, "the destination failed some calls: " + failed);
    assertEquals(0.0, notPermitted, "the circuit opened");
    assertEquals(0.0, meters.get("router.delivery.circuit_state").tag("destination", "one-in-a-hundred").gauge()
        .value());
  }

  private List<String> send(String event, int count) {
    List<String> ids = new ArrayList<>();
    JsonArray batch = new JsonArray();
    for (int i = 0; i < count; i++) {
      String id = UUID.randomUUID().toString();
      ids.add(id);
      batch.add(new JsonObject().put("type", "track").put("event", event).put("userId", "user-" + (i % 50))
          .put("messageId", id));
    }
    HttpResponse<String> response = router.postWithKey("/v1/batch", new JsonObject().put("batch", batch).encode());
    assertEquals(200, response.statusCode(), response.body());
    return ids;
  }

  private Set<String> delivered(String path) {
    return sink.deliveredOn(path).stream().map(Received::messageId).collect(Collectors.toSet());
  }
}
