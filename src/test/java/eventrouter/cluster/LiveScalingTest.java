package eventrouter.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.Await;
import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
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
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** {@code PUT /admin/verticles/<kind>}: instance counts changed on a running router, under a steady load. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LiveScalingTest {
  private static final int CLIENTS = 2;
  private final Vertx vertx = Vertx.vertx();
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();
  @TempDir
  static Path dir;
  private TestRouter router;

  @BeforeAll
  void start() {
    // The shortest session Kafka allows: an instance scaled away keeps its partitions that long (static members).
    router = TestRouter.start(vertx, dir, Map.of("ROUTER_KAFKA_SESSION_TIMEOUT_MS", "6000"), new JsonObject());
  }

  @AfterAll
  void stop() {
    router.close();
    vertx.close();
  }

  private HttpResponse<String> put(String kind, String body) {
    return send(HttpRequest.newBuilder(URI.create(router.baseUrl() + "/admin/verticles/" + kind))
        .header("Authorization", "Bearer " + TestRouter.ADMIN_TOKEN).timeout(Duration.ofSeconds(60))
        .PUT(HttpRequest.BodyPublishers.ofString(body)).build());
  }

  private HttpResponse<String> send(HttpRequest request) {
    try {
      return http.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new AssertionError(request + " failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private void scale(String kind, int instances) {
    HttpResponse<String> response = put(kind, new JsonObject().put("instances", instances).encode());
    assertEquals(200, response.statusCode(), response.body());
    assertEquals(new JsonObject().put("kind", kind).put("instances", instances), new JsonObject(response.body()));
    JsonObject listed = new JsonObject(router.get("/admin/verticles", Map.of("Authorization",
        "Bearer " + TestRouter.ADMIN_TOKEN)).body());
    assertEquals(instances, listed.getJsonArray("verticles").stream().map(JsonObject.class::cast)
        .filter(v -> v.getString("kind").equals(kind)).findFirst().orElseThrow().getInteger("instances"));
  }

  @Test
  @DisplayName("raising and lowering the real-time and warehouse instances under a steady load fails no request and"
      + " loses no event: every one is in the warehouse, and the real-time group reads to the end")
  void scaleUnderLoad() throws Exception {
    Set<String> acknowledged = ConcurrentHashMap.newKeySet();
    AtomicInteger failed = new AtomicInteger();
    AtomicBoolean sending = new AtomicBoolean(true);
    ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
    for (int c = 0; c < CLIENTS; c++) {
      int client = c;
      clients.submit(() -> load(client, acknowledged, failed, sending));
    }
    try {
      scale("realtime", 3);
      scale("warehouse", 2);
      scale("realtime", 1);
      scale("warehouse", 1);
    } finally {
      sending.set(false);
      clients.shutdown();
      assertTrue(clients.awaitTermination(60, TimeUnit.SECONDS));
    }
    assertEquals(0, failed.get(), "requests that did not get 200");
    assertTrue(acknowledged.size() >= 100, "the load ran throughout: " + acknowledged.size() + " events");

    String[] ids = acknowledged.toArray(String[]::new);
    Await.until(vertx, Duration.ofSeconds(60), "every acknowledged event is in the warehouse",
        () -> router.queryAsync("SELECT count(*) FROM events WHERE message_id = ANY($1)", (Object) ids)
            .map(rows -> rows.get(0).getLong(0) == ids.length));
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
        router.router().kafkaBootstrap()))) {
      String group = router.router().config().realtime().groupId();
      String topic = router.router().config().kafka().topic();
      AtomicReference<String> seen = new AtomicReference<>();
      try {
        Await.until(vertx, Duration.ofSeconds(60), "the real-time group has committed every record of " + topic,
            () -> vertx.executeBlocking(() -> {
              Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                  .partitionsToOffsetAndMetadata().get();
              Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
              for (int p = 0; p < router.router().config().kafka().partitions(); p++) {
                latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
              }
              var ends = admin.listOffsets(latest).all().get();
              seen.set("committed " + committed + ", ends " + ends + ", group " + admin.describeConsumerGroups(
                  List.of(group)).all().get());
              // A partition that never had a record has nothing to commit.
              return ends.entrySet().stream().allMatch(end -> end.getValue().offset() == 0
                  || committed.get(end.getKey()) != null
                  && committed.get(end.getKey()).offset() >= end.getValue().offset());
            }));
      } catch (AssertionError e) {
        throw new AssertionError(e.getMessage() + "; last seen: " + seen.get(), e);
      }
    }
  }

  @Test
  @DisplayName("ingest scales up and down; delivery, an unknown kind and a bad count are refused, naming why")
  void refusals() {
    scale("ingest", 3);
    scale("ingest", 2);
    HttpResponse<String> delivery = put("delivery", "{\"instances\":2}");
    assertEquals(400, delivery.statusCode());
    assertTrue(delivery.body().contains("one instance per node"), delivery.body());
    assertEquals(404, put("nope", "{\"instances\":2}").statusCode());
    for (String bad : List.of("{\"instances\":0}", "{\"instances\":33}", "{\"instances\":\"2\"}", "{}", "nope")) {
      HttpResponse<String> response = put("realtime", bad);
      assertEquals(400, response.statusCode(), bad);
      assertTrue(response.body().contains("from 1 to 32"), response.body());
    }
  }

  /** Batches of 10 events, back to back, until told to stop; counts every answer that is not 200. */
  private void load(int client, Set<String> acknowledged, AtomicInteger failed, AtomicBoolean sending) {
    long giveUpAt = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    while (sending.get() && System.nanoTime() < giveUpAt) {
      JsonArray batch = new JsonArray();
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        String id = UUID.randomUUID().toString();
        ids.add(id);
        batch.add(new JsonObject().put("type", "track").put("event", "Scaled").put("messageId", id)
            .put("userId", "scale-user-" + client + "-" + (i % 5)));
      }
      try {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(router.baseUrl() + "/v1/batch"))
            .header("Authorization", TestRouter.basic(TestRouter.WRITE_KEY)).timeout(Duration.ofSeconds(30))
            .POST(HttpRequest.BodyPublishers.ofString(new JsonObject().put("batch", batch).encode())).build(),
            HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() == 200) {
          acknowledged.addAll(ids);
        } else {
          failed.incrementAndGet();
        }
      } catch (IOException e) {
        failed.incrementAndGet();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
