package eventrouter.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.Await;
import eventrouter.testing.RouterProcess;
import eventrouter.testing.TestRouter;
import eventrouter.testing.TopicRecords;
import eventrouter.testing.TestServices;
import eventrouter.testing.WebhookSink;
import eventrouter.testing.WebhookSink.Received;
import eventrouter.testing.WebhookSink.Reply;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.ClientWebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three router processes as one router, as an operator runs them: a Kafka broker in a process of its own
 * ({@code java -jar event-router.jar broker}), the machine's Postgres and Redis, and nodes A, B and C clustered over
 * loopback. Node B is killed with SIGKILL under load and later restarted. It runs in the external-services pass only
 * (pom.xml): a cluster shares its Postgres and Redis, which the embedded pass would start inside one node.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MultiNodeIT {
  private static final String WRITE_KEY = "multi-node-key";
  private static final int PARTITIONS = 8;
  private static final int CLIENTS = 6;
  private static final int USERS_PER_CLIENT = 5;
  private static final Duration CATCH_UP = Duration.ofSeconds(15);
  private static final List<String> NODES = List.of("a", "b", "c");

  private final Vertx vertx = Vertx.vertx();
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2))
      .version(HttpClient.Version.HTTP_1_1).build();
  @TempDir
  static Path dir;
  private Process broker;
  private String bootstrap;
  private final Map<String, RouterProcess> routers = new LinkedHashMap<>();
  private final Map<String, Integer> httpPorts = new HashMap<>();
  private final Map<String, Process> running = new ConcurrentHashMap<>();
  private WebhookSink sink;
  private Pool warehouse;
  private WebSocketClient webSockets;
  private final List<ClientWebSocket> sockets = new CopyOnWriteArrayList<>();
  /** Signals pushed to the test's sockets, by user, with the node whose socket got it. */
  private final Map<String, String> pushedTo = new ConcurrentHashMap<>();

  @BeforeAll
  void startCluster() throws Exception {
    if (!TestServices.external()) {
      throw new IllegalStateException("MultiNodeIT needs a Postgres and a Redis for its three nodes to share: set "
          + TestServices.PG_URL_ENV + " and " + TestServices.REDIS_URL_ENV + " (the external-it execution does)");
    }
    int brokerPort = RouterProcess.freePort();
    bootstrap = "127.0.0.1:" + brokerPort;
    broker = new ProcessBuilder(java(), "-Xmx512m", "-jar", jar(), "broker", "--data", dir.resolve("broker").toString(),
        "--port", String.valueOf(brokerPort))
        .redirectErrorStream(true).redirectOutput(dir.resolve("broker.log").toFile()).start();
    Await.until(vertx, Duration.ofSeconds(120), "the broker is ready", () -> vertx.executeBlocking(() -> {
      if (!broker.isAlive()) {
        throw new AssertionError("the broker exited: " + Files.readString(dir.resolve("broker.log")));
      }
      return Files.readString(dir.resolve("broker.log")).contains("Kafka broker ready");
    }));

    String pgUrl = TestServices.freshPostgresUrl(vertx);
    warehouse = PgBuilder.pool().connectingTo(PgConnectOptions.fromUri(pgUrl)).using(vertx).build();
    sink = WebhookSink.start(vertx);
    // Two ordered destinations: "hook" is healthy, and times the takeover; "flaky" fails one event in ten on its first
    // attempt, which parks it and its user's later events in the retry store, whichever node read them, and each
    // user's order must survive the takeover. One in ten is below the circuit's failure rate: it stays closed.
    Set<String> failedOnce = ConcurrentHashMap.newKeySet();
    sink.behave("/flaky", r -> Math.floorMod(r.messageId().hashCode(), 10) == 0 && failedOnce.add(r.messageId())
        ? Reply.status(503) : Reply.ok());
    Path destinations = dir.resolve("destinations.json");
    JsonArray hooks = new JsonArray();
    for (String hook : List.of("hook", "flaky")) {
      hooks.add(new JsonObject().put("id", hook).put("type", "webhook").put("url", sink.url("/" + hook))
          .put("secret", "multi-node-secret-0123456789").put("streams", new JsonArray().add("events"))
          .put("ordered", true).put("timeoutMs", 2000).put("backoffBaseMs", 200).put("backoffMaxMs", 1000));
    }
    Files.writeString(destinations, hooks.encode());
    JsonObject rules = new JsonObject(Files.readString(Path.of("conf", "rules.json")));
    rules.getJsonArray("rules").getJsonObject(0).put("after", "6s"); // cart-abandonment
    Path rulesFile = dir.resolve("rules.json");
    Files.writeString(rulesFile, rules.encode());

    List<String> members = new ArrayList<>();
    Map<String, Integer> clusterPorts = new HashMap<>();
    for (String node : NODES) {
      clusterPorts.put(node, RouterProcess.freePort());
      members.add("127.0.0.1:" + clusterPorts.get(node));
    }
    String redisPrefix = "multi-node-" + UUID.randomUUID() + ":";
    for (String node : NODES) {
      Path nodeDir = Files.createDirectories(dir.resolve("node-" + node));
      int httpPort = RouterProcess.freePort();
      Map<String, String> env = new HashMap<>();
      env.put("ROUTER_NODE_ID", "node-" + node);
      env.put("ROUTER_DATA_DIR", nodeDir.toString());
      env.put("ROUTER_HTTP_PORT", String.valueOf(httpPort));
      env.put("ROUTER_WRITE_KEYS", WRITE_KEY);
      env.put("ROUTER_ADMIN_TOKEN", TestRouter.ADMIN_TOKEN);
      env.put("ROUTER_KAFKA_BOOTSTRAP", bootstrap);
      env.put("ROUTER_KAFKA_PARTITIONS", String.valueOf(PARTITIONS));
      env.put("ROUTER_PG_URL", pgUrl);
      env.put("ROUTER_REDIS_URL", TestServices.redisUrl());
      env.put("ROUTER_REDIS_PREFIX", redisPrefix);
      env.put("ROUTER_CLUSTER_MEMBERS", String.join(",", members));
      env.put("ROUTER_CLUSTER_HOST", "127.0.0.1");
      env.put("ROUTER_CLUSTER_PORT", String.valueOf(clusterPorts.get(node)));
      env.put("ROUTER_INGEST_INSTANCES", "1");
      env.put("ROUTER_RULES", rulesFile.toString());
      env.put("ROUTER_DESTINATIONS", destinations.toString());
      env.put("ROUTER_DELIVERY_RETRY_POLL_MS", "200");
      routers.put(node, new RouterProcess(vertx, nodeDir, env, httpPort));
      httpPorts.put(node, httpPort);
    }
    for (String node : NODES) {
      running.put(node, routers.get(node).start());
    }
    webSockets = vertx.createWebSocketClient();
  }

  @AfterAll
  void stopCluster() throws Exception {
    sockets.forEach(ClientWebSocket::close);
    for (RouterProcess router : routers.values()) {
      router.close();
    }
    if (broker != null) {
      broker.destroy();
      if (!broker.waitFor(60, TimeUnit.SECONDS)) {
        broker.destroyForcibly();
      }
    }
    if (sink != null) {
      sink.close();
    }
    if (warehouse != null) {
      Await.result(warehouse.close());
    }
    vertx.close();
  }

  @Test
  @Order(1)
  @DisplayName("sockets on node A get the signals raised from events sent over HTTP to node B, for users on every"
      + " partition")
  void pushesReachEveryNode() {
    awaitSpread("router-realtime", Set.copyOf(NODES));
    assertPushesCross("b", "a", usersOnEveryPartition(2));
  }

  /** Sockets on {@code socketNode} get the signals of failed logins sent to {@code eventNode}. */
  private void assertPushesCross(String eventNode, String socketNode, List<String> users) {
    for (String user : users) {
      openSocket(socketNode, user);
    }
    for (String user : users) {
      sendFailedLogins(eventNode, user);
    }
    Await.until(vertx, Duration.ofSeconds(60), "every socket on node " + socketNode + " has its user's Login Velocity"
        + " signal", () -> Future.succeededFuture(users.stream()
            .allMatch(user -> socketNode.equals(pushedTo.get(user)))));
  }

  @Test
  @Order(2)
  @DisplayName("kill -9 of node B under load: nothing acknowledged is missing from the warehouse or the ordered"
      + " webhooks, the warehouse and a healthy webhook catch up within 15 s, each user's events reach both webhooks in"
      + " order (one failing now and then), pushes go on reaching sockets on A and C, and every armed timer fires"
      + " exactly once")
  void nodeDiesUnderLoad() throws Exception {
    // Sockets on A and C for users on every partition, B's included: their signals come after the takeover.
    List<String> pushUsers = usersOnEveryPartition(2);
    for (int i = 0; i < pushUsers.size(); i++) {
      openSocket(i % 2 == 0 ? "a" : "c", pushUsers.get(i));
    }
    Map<String, List<String>> acknowledged = new ConcurrentHashMap<>(); // user -> messageIds in the order sent
    AtomicBoolean sending = new AtomicBoolean(true);
    AtomicInteger failedRequests = new AtomicInteger();
    ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
    for (int c = 0; c < CLIENTS; c++) {
      int client = c;
      clients.submit(() -> load(client, acknowledged, sending, failedRequests));
    }
    Await.until(vertx, Duration.ofSeconds(60), "the clients have 1500 acknowledged events",
        () -> Future.succeededFuture(acknowledged.values().stream().mapToInt(List::size).sum() >= 1_500));

    // Carts abandoned while B is down: the timers fall due 6 s after their events are applied, wherever that is.
    List<String> timerUsers = usersOnEveryPartition(1);
    for (String user : timerUsers) {
      HttpResponse<String> added = post("b", "/v1/track", new JsonObject().put("userId", user)
          .put("event", "Product Added").put("properties", new JsonObject().put("product_id", "p-1").put("price", 9.5))
          .encode());
      assertEquals(200, added.statusCode(), added.body());
    }

    routers.get("b").kill(running.remove("b"));
    long killedAt = System.nanoTime();
    for (int i = 0; i < pushUsers.size(); i++) {
      sendFailedLogins(i % 2 == 0 ? "c" : "a", pushUsers.get(i)); // to the node without the user's socket
    }
    Await.until(vertx, Duration.ofSeconds(30), "the load goes on for 5 s after the kill",
        () -> Future.succeededFuture(System.nanoTime() - killedAt > 5_000_000_000L));
    sending.set(false);
    clients.shutdown();
    assertTrue(clients.awaitTermination(60, TimeUnit.SECONDS));

    String[] ids = acknowledged.values().stream().flatMap(List::stream).toArray(String[]::new);
    Await.until(vertx, Duration.ofSeconds(90), "every acknowledged event is in the warehouse",
        () -> countEvents(ids).map(n -> n == ids.length));
    long warehouseMs = (System.nanoTime() - killedAt) / 1_000_000;
    Await.until(vertx, Duration.ofSeconds(90), "every acknowledged event reached the webhook",
        () -> Future.succeededFuture(delivered("/hook").keySet().containsAll(List.of(ids))));
    long webhookMs = (System.nanoTime() - killedAt) / 1_000_000;
    Await.until(vertx, Duration.ofSeconds(90), "every acknowledged event reached the flaky webhook",
        () -> Future.succeededFuture(delivered("/flaky").keySet().containsAll(List.of(ids))));
    long flakyMs = (System.nanoTime() - killedAt) / 1_000_000;
    System.out.printf("node B killed under load: %d acknowledged events (%d requests failed with B); all in the"
        + " warehouse %d ms, at the webhook %d ms and at the flaky webhook %d ms after the kill%n", ids.length,
        failedRequests.get(), warehouseMs, webhookMs, flakyMs);
    assertTrue(warehouseMs <= CATCH_UP.toMillis(), "the warehouse caught up " + warehouseMs + " ms after the kill");
    assertTrue(webhookMs <= CATCH_UP.toMillis(), "the webhook caught up " + webhookMs + " ms after the kill");

    // In order: each user's acknowledged events first reached each webhook in the order they were sent.
    for (String hook : List.of("/hook", "/flaky")) {
      Map<String, Integer> firstArrival = delivered(hook);
      acknowledged.forEach((user, sent) -> {
        List<Integer> arrivals = sent.stream().map(firstArrival::get).toList();
        for (int i = 1; i < arrivals.size(); i++) {
          assertTrue(arrivals.get(i - 1) < arrivals.get(i), hook + ": user " + user + "'s event " + i + " ("
              + sent.get(i) + ") arrived before the one sent before it");
        }
      });
    }

    Await.until(vertx, Duration.ofSeconds(30), "every socket on A and C has its user's Login Velocity signal",
        () -> Future.succeededFuture(pushUsers.stream().allMatch(pushedTo::containsKey)));
    for (int i = 0; i < pushUsers.size(); i++) {
      assertEquals(i % 2 == 0 ? "a" : "c", pushedTo.get(pushUsers.get(i)));
    }

    Await.until(vertx, Duration.ofSeconds(90), "every armed timer fired (Cart Abandoned stored)", () -> warehouse
        .preparedQuery("SELECT count(DISTINCT user_id) FROM signals WHERE signal = 'Cart Abandoned'"
            + " AND user_id = ANY($1)").execute(Tuple.of(timerUsers.toArray(String[]::new)))
        .map(rows -> rows.iterator().next().getLong(0) == timerUsers.size()));
    Map<String, Integer> fired = cartAbandonedInSignalsTopic();
    for (String user : timerUsers) {
      assertEquals(1, fired.getOrDefault(user, 0), "Cart Abandoned records of " + user + " in the signals topic");
    }
  }

  @Test
  @Order(3)
  @DisplayName("node B restarted: it rejoins, the partitions spread over the three nodes again, and sockets on B get"
      + " signals raised elsewhere")
  void nodeRejoins() throws Exception {
    running.put("b", routers.get("b").start());
    long upAt = System.nanoTime();
    awaitSpread("router-realtime", Set.copyOf(NODES));
    awaitSpread("router-warehouse", Set.copyOf(NODES));
    awaitSpread("router-delivery.hook", Set.copyOf(NODES));
    awaitSpread("router-delivery.flaky", Set.copyOf(NODES));
    System.out.printf("node B restarted: the three nodes held partitions of every group %d ms after B was up%n",
        (System.nanoTime() - upAt) / 1_000_000);
    assertPushesCross("a", "b", usersOnEveryPartition(1));
  }

  /** Sends single events until told to stop, each user's one after another, to the nodes in turn. */
  private void load(int client, Map<String, List<String>> acknowledged, AtomicBoolean sending,
      AtomicInteger failedRequests) {
    int n = 0;
    while (sending.get()) {
      String user = "load-" + client + "-" + (n % USERS_PER_CLIENT);
      String node = NODES.get(n % NODES.size());
      n++;
      if (!running.containsKey(node)) {
        continue; // a load balancer stops sending to a node that is down
      }
      String messageId = UUID.randomUUID().toString();
      try {
        HttpResponse<String> response = post(node, "/v1/track", new JsonObject().put("userId", user)
            .put("event", "Page Load").put("messageId", messageId).put("properties", new JsonObject().put("n", n))
            .encode());
        if (response.statusCode() == 200) {
          acknowledged.computeIfAbsent(user, u -> new CopyOnWriteArrayList<>()).add(messageId);
        } else {
          failedRequests.incrementAndGet();
        }
      } catch (IOException e) {
        failedRequests.incrementAndGet(); // B died under it: not acknowledged
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private HttpResponse<String> post(String node, String path, String body) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPorts.get(node) + path))
        .timeout(Duration.ofSeconds(15)).header("Content-Type", "application/json")
        .header("Authorization", TestRouter.basic(WRITE_KEY)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private void sendFailedLogins(String node, String user) {
    JsonArray batch = new JsonArray();
    for (int attempt = 0; attempt < 5; attempt++) {
      batch.add(new JsonObject().put("type", "track").put("event", "Login Failed").put("userId", user));
    }
    try {
      HttpResponse<String> sent = post(node, "/v1/batch", new JsonObject().put("batch", batch).encode());
      assertEquals(200, sent.statusCode(), sent.body());
    } catch (IOException | InterruptedException e) {
      throw new AssertionError("node " + node + " did not take the failed logins of " + user, e);
    }
  }

  /** A socket on {@code node} that belongs to {@code user}, recording the signals pushed to it. */
  private void openSocket(String node, String user) {
    ClientWebSocket socket = webSockets.webSocket();
    AtomicBoolean acked = new AtomicBoolean();
    socket.textMessageHandler(text -> {
      JsonObject frame = new JsonObject(text);
      if ("signal".equals(frame.getString("type")) && "Login Velocity".equals(frame.getString("event"))) {
        pushedTo.put(frame.getString("userId"), node);
      } else if ("ack".equals(frame.getString("type"))) {
        acked.set(true);
      }
    });
    Await.result(socket.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(httpPorts.get(node))
        .setURI("/v1/stream?writeKey=" + WRITE_KEY)));
    sockets.add(socket);
    Await.result(socket.writeTextMessage(new JsonObject().put("type", "identify").put("userId", user).encode()));
    Await.until(vertx, Duration.ofSeconds(30), "the identify on node " + node + " is acknowledged",
        () -> Future.succeededFuture(acked.get()));
  }

  /** Fresh users, {@code perPartition} on each partition of the log. */
  private static List<String> usersOnEveryPartition(int perPartition) {
    Map<Integer, Integer> taken = new HashMap<>();
    List<String> users = new ArrayList<>();
    while (users.size() < PARTITIONS * perPartition) {
      String user = "user-" + UUID.randomUUID();
      int partition = Utils.toPositive(Utils.murmur2(user.getBytes(StandardCharsets.UTF_8))) % PARTITIONS;
      if (taken.merge(partition, 1, Integer::sum) <= perPartition) {
        users.add(user);
      }
    }
    return users;
  }

  /** Waits until the members of every given node hold partitions of {@code group}, each partition once. */
  private void awaitSpread(String group, Set<String> nodes) {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      Await.until(vertx, Duration.ofSeconds(90), "nodes " + nodes + " hold partitions of " + group,
          () -> vertx.executeBlocking(() -> {
            ConsumerGroupDescription description = admin.describeConsumerGroups(List.of(group)).all().get()
                .get(group);
            Set<String> holding = new HashSet<>();
            List<TopicPartition> held = new ArrayList<>();
            for (MemberDescription member : description.members()) {
              Set<TopicPartition> partitions = member.assignment().topicPartitions();
              if (!partitions.isEmpty()) {
                holding.add(member.groupInstanceId().orElse("").substring("node-".length(), "node-".length() + 1));
                held.addAll(partitions);
              }
            }
            return holding.equals(nodes) && held.size() == Set.copyOf(held).size();
          }));
    }
  }

  private Future<Long> countEvents(String[] ids) {
    return warehouse.preparedQuery("SELECT count(*) FROM events WHERE message_id = ANY($1)").execute(Tuple.of(ids))
        .map(rows -> rows.iterator().next().getLong(0));
  }

  /** Each message's first successful arrival at a webhook, as its position among the webhook's arrivals. */
  private Map<String, Integer> delivered(String hook) {
    Map<String, Integer> first = new HashMap<>();
    List<Received> arrivals = sink.on(hook);
    for (int i = 0; i < arrivals.size(); i++) {
      Received r = arrivals.get(i);
      if (r.delivered()) {
        first.putIfAbsent(r.messageId(), i);
      }
    }
    return first;
  }

  /** Cart Abandoned records per user in the signals topic, duplicates included. */
  private Map<String, Integer> cartAbandonedInSignalsTopic() {
    Map<String, Integer> byUser = new HashMap<>();
    for (String value : TopicRecords.values(bootstrap, "router.signals")) {
      JsonObject signal = new JsonObject(value);
      if ("Cart Abandoned".equals(signal.getString("event"))) {
        byUser.merge(signal.getString("userId"), 1, Integer::sum);
      }
    }
    return byUser;
  }


  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  private static String jar() {
    return Path.of("target", "event-router.jar").toAbsolutePath().toString();
  }
}
