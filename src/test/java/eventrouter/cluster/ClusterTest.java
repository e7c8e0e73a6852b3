package eventrouter.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.Await;
import eventrouter.testing.TestRouter;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.ClientWebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two routers as one: clustered over loopback, sharing node A's Kafka, Redis and Postgres. Each node's real-time path
 * owns some of the partitions, so a user's signal is raised on whichever node owns the user's, and must still reach
 * the user's socket on the other node.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClusterTest {
  private static final int USERS = 16;
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  static Path dir;
  private TestRouter nodeA;
  private TestRouter nodeB;
  private WebSocketClient webSockets;
  private final List<ClientWebSocket> sockets = new ArrayList<>();

  @BeforeAll
  void start() {
    int portA = freePort();
    int portB = freePort();
    String members = "127.0.0.1:" + portA + ",127.0.0.1:" + portB;
    nodeA = TestRouter.start(vertx, dir.resolve("a"), Map.of("ROUTER_CLUSTER_MEMBERS", members,
        "ROUTER_CLUSTER_PORT", String.valueOf(portA)), new JsonObject());
    Map<String, String> shared = new HashMap<>();
    shared.put("ROUTER_CLUSTER_MEMBERS", members);
    shared.put("ROUTER_CLUSTER_PORT", String.valueOf(portB));
    shared.put("ROUTER_KAFKA_BOOTSTRAP", nodeA.router().kafkaBootstrap());
    shared.put("ROUTER_REDIS_URL", nodeA.router().redisUrl());
    shared.put("ROUTER_REDIS_PREFIX", nodeA.router().config().realtime().redisPrefix());
    shared.put("ROUTER_PG_URL", nodeA.router().postgresUrl());
    nodeB = TestRouter.start(vertx, dir.resolve("b"), shared, new JsonObject());
    webSockets = vertx.createWebSocketClient();
  }

  @AfterAll
  void stop() {
    sockets.forEach(ClientWebSocket::close);
    if (nodeB != null) {
      nodeB.close();
    }
    if (nodeA != null) {
      nodeA.close();
    }
    vertx.close();
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The real-time partitions each node's member holds, once both hold some (B joined the group after A). */
  private Map<String, Set<Integer>> realtimePartitionsByNode() {
    String group = nodeA.router().config().realtime().groupId();
    Map<String, Set<Integer>> byNode = new ConcurrentHashMap<>();
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
        nodeA.router().kafkaBootstrap()))) {
      Await.until(vertx, Duration.ofSeconds(60), "both nodes' real-time members hold partitions", () ->
          vertx.executeBlocking(() -> {
            byNode.clear();
            ConsumerGroupDescription description = admin.describeConsumerGroups(List.of(group)).all().get()
                .get(group);
            for (MemberDescription member : description.members()) {
              String node = member.groupInstanceId().orElse("").startsWith(nodeA.router().config().nodeId()) ? "A"
                  : "B";
              member.assignment().topicPartitions()
                  .forEach(tp -> byNode.computeIfAbsent(node, n -> ConcurrentHashMap.newKeySet()).add(tp.partition()));
            }
            return byNode.containsKey("A") && byNode.containsKey("B");
          }));
    }
    return byNode;
  }

  @Test
  @DisplayName("GET /admin/verticles on either node lists its verticles, and each group's members on both nodes with"
      + " the partitions they hold, every partition once")
  void verticlesShowWhoOwnsWhat() {
    realtimePartitionsByNode(); // until both nodes hold some
    assertEquals(401, nodeA.get("/admin/verticles", Map.of()).statusCode());
    HttpResponse<String> response = nodeB.get("/admin/verticles", Map.of("Authorization",
        "Bearer " + TestRouter.ADMIN_TOKEN));
    assertEquals(200, response.statusCode(), response.body());
    JsonObject body = new JsonObject(response.body());
    assertEquals(nodeB.router().config().nodeId(), body.getString("node"));
    JsonObject realtime = body.getJsonArray("verticles").stream().map(JsonObject.class::cast)
        .filter(v -> v.getString("kind").equals("realtime")).findFirst().orElseThrow();
    assertEquals(1, realtime.getInteger("instances"));
    JsonObject group = realtime.getJsonArray("groups").getJsonObject(0);
    assertEquals(nodeA.router().config().realtime().groupId(), group.getString("group"));
    Set<String> members = new java.util.HashSet<>();
    List<String> partitions = new ArrayList<>();
    for (Object member : group.getJsonArray("members")) {
      members.add(((JsonObject) member).getString("member"));
      ((JsonObject) member).getJsonArray("partitions").forEach(p -> partitions.add((String) p));
    }
    assertEquals(Set.of(nodeA.router().config().nodeId() + "-realtime-0",
        nodeB.router().config().nodeId() + "-realtime-0"), members, response.body());
    assertEquals(nodeA.router().config().kafka().partitions(), partitions.size(), response.body());
    assertEquals(partitions.size(), Set.copyOf(partitions).size(), "no partition held twice: " + response.body());
    assertTrue(body.getJsonArray("verticles").stream().map(JsonObject.class::cast)
        .anyMatch(v -> v.getString("kind").equals("ingest") && v.getInteger("instances") == 2), response.body());
  }

  /** The partition Kafka's default partitioner gives a key. */
  private int partitionOf(String userId) {
    return Utils.toPositive(Utils.murmur2(userId.getBytes(StandardCharsets.UTF_8)))
        % nodeA.router().config().kafka().partitions();
  }

  @Test
  @DisplayName("sockets on node A get the signals raised from events sent to node B, whichever node's real-time path"
      + " owns the user")
  void pushesCrossNodes() {
    assertNotEquals(nodeA.router().config().nodeId(), nodeB.router().config().nodeId());
    Set<Integer> ownedByB = realtimePartitionsByNode().get("B");
    // Users on both nodes' partitions: half of the signals are raised on B and must cross to A.
    List<String> users = new ArrayList<>();
    int onB = 0;
    while (users.size() < USERS) {
      String user = "cluster-user-" + UUID.randomUUID();
      boolean raisedOnB = ownedByB.contains(partitionOf(user));
      if (raisedOnB ? onB < USERS / 2 : users.size() - onB < USERS / 2) {
        users.add(user);
        onB += raisedOnB ? 1 : 0;
      }
    }

    Map<String, JsonObject> signals = new ConcurrentHashMap<>();
    for (String user : users) {
      ClientWebSocket socket = webSockets.webSocket();
      Set<String> acked = ConcurrentHashMap.newKeySet();
      socket.textMessageHandler(text -> {
        JsonObject frame = new JsonObject(text);
        if ("signal".equals(frame.getString("type"))) {
          signals.put(frame.getString("userId"), frame);
        } else if ("ack".equals(frame.getString("type"))) {
          acked.add(user);
        }
      });
      Await.result(socket.connect(new WebSocketConnectOptions().setHost("127.0.0.1")
          .setPort(nodeA.router().httpPort()).setURI("/v1/stream?writeKey=" + TestRouter.WRITE_KEY)));
      sockets.add(socket);
      // The socket belongs to the users its events name.
      Await.result(socket.writeTextMessage(new JsonObject().put("type", "identify").put("userId", user).encode()));
      Await.until(vertx, Duration.ofSeconds(30), "the identify is acknowledged",
          () -> Future.succeededFuture(acked.contains(user)));
    }

    for (String user : users) {
      JsonArray failedLogins = new JsonArray();
      for (int attempt = 0; attempt < 5; attempt++) {
        failedLogins.add(new JsonObject().put("type", "track").put("event", "Login Failed").put("userId", user)
            .put("messageId", UUID.randomUUID().toString()));
      }
      HttpResponse<String> sent = nodeB.postWithKey("/v1/batch", new JsonObject().put("batch", failedLogins).encode());
      assertEquals(200, sent.statusCode(), sent.body());
    }
    Await.until(vertx, Duration.ofSeconds(60), "every user's socket on node A has its Login Velocity signal ("
        + onB + " of them raised on node B)", () -> Future.succeededFuture(signals.keySet().containsAll(users)));
    for (String user : users) {
      assertEquals("Login Velocity", signals.get(user).getString("event"), signals.get(user).encode());
    }
  }
}
