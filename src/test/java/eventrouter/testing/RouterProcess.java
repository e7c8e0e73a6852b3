package eventrouter.testing;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * The packaged router ({@code target/event-router.jar}) as a process of its own, for tests that kill it with SIGKILL.
 * Its output goes to {@code router.log} in the data dir. {@link #close} stops what is still running with SIGTERM, so
 * that the shutdown hook stops the embedded servers.
 */
public final class RouterProcess implements AutoCloseable {
  private final Vertx vertx;
  private final Path dataDir;
  private final Map<String, String> env;
  private final int httpPort;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2))
      // HTTP/1.1, as the SDKs speak it: the JDK client's h2c upgrade once met a GOAWAY from a router just started.
      .version(HttpClient.Version.HTTP_1_1).build();
  private final List<Process> running = new ArrayList<>();

  /** @param env the router's environment; must set ROUTER_HTTP_PORT to {@code httpPort} */
  public RouterProcess(Vertx vertx, Path dataDir, Map<String, String> env, int httpPort) {
    this.vertx = vertx;
    this.dataDir = dataDir;
    this.env = env;
    this.httpPort = httpPort;
  }

  /** Starts the router and waits until {@code /health} answers 200. */
  public Process start() throws IOException {
    ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx512m", "-jar", Path.of("target", "event-router.jar").toAbsolutePath().toString(), "--conf",
        Path.of("conf", "router.json").toAbsolutePath().toString())
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dataDir.resolve("router.log").toFile()));
    builder.environment().putAll(env);
    Process process = builder.start();
    running.add(process);
    try {
      Await.until(vertx, Duration.ofSeconds(120), "the router answers /health with 200", () -> healthy(process));
    } catch (AssertionError notUp) {
      throw new AssertionError(notUp.getMessage() + "; the end of its log:\n" + logTail(), notUp);
    }
    return process;
  }

  /** SIGKILL, and wait until the process is gone. */
  public void kill(Process process) throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      throw new AssertionError("the router survived SIGKILL for 30 s");
    }
    running.remove(process);
  }

  private String logTail() {
    try {
      List<String> lines = Files.readAllLines(dataDir.resolve("router.log"));
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
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

  @Override
  public void close() throws InterruptedException {
    for (Process process : running) {
      process.destroy(); // SIGTERM: the shutdown hook stops the embedded servers
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
    running.clear();
  }

  /**
   * The environment of a router process with its own data dir, HTTP port, write key and the test admin token: in
   * embedded mode with fixed Postgres and Kafka ports (so the test can reach them after a restart), in external mode
   * with a fresh database and Redis key prefix.
   *
   * @param env mutable, for the test to add to
   * @param postgresUrl where the router's warehouse is, for assertions
   */
  public record Setup(Map<String, String> env, int httpPort, String postgresUrl) {
  }

  public static Setup setup(Vertx vertx, Path dataDir, String writeKey) {
    int httpPort = freePort();
    Map<String, String> env = new HashMap<>();
    env.put("ROUTER_DATA_DIR", dataDir.toString());
    env.put("ROUTER_HTTP_PORT", String.valueOf(httpPort));
    env.put("ROUTER_WRITE_KEYS", writeKey);
    env.put("ROUTER_ADMIN_TOKEN", TestRouter.ADMIN_TOKEN);
    env.put("ROUTER_PG_EMBEDDED_PORT", String.valueOf(freePort()));
    env.put("ROUTER_KAFKA_EMBEDDED_PORT", String.valueOf(freePort()));
    String pgUrl = TestServices.freshPostgresUrl(vertx);
    if (pgUrl != null) {
      env.put("ROUTER_PG_URL", pgUrl);
      env.put("ROUTER_REDIS_URL", TestServices.redisUrl());
      env.put("ROUTER_REDIS_PREFIX", "process-" + UUID.randomUUID() + ":"); // the machine's Redis is shared
    } else {
      pgUrl = "postgresql://postgres@127.0.0.1:" + env.get("ROUTER_PG_EMBEDDED_PORT") + "/postgres";
    }
    return new Setup(env, httpPort, pgUrl);
  }

  public static int freePort() {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
