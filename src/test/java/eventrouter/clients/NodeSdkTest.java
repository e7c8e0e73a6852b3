package eventrouter.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The vendors' Node SDKs, from their npm packages, run by {@code node} as a customer's server runs them: each sends
 * every call type it has, flushes, and exits 0 only once the SDK reported the events delivered. Every row must reach
 * the warehouse with its ids, the SDK's library name and skew-corrected timestamps.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NodeSdkTest {
  private static final Duration RUN_AT_MOST = Duration.ofSeconds(60);
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  static Path dir;
  private TestRouter router;

  @BeforeAll
  void start() {
    Clients.requireSdks();
    router = TestRouter.start(vertx, dir.resolve("data"));
  }

  @AfterAll
  void stop() {
    if (router != null) {
      router.close();
    }
    vertx.close();
  }

  /** script, the types it sends, its library name. Neither SDK sends an anonymousId on alias. */
  static Stream<Arguments> sdks() {
    return Stream.of(
        Arguments.of("segment", Set.of("identify", "page", "track", "group", "alias"), "@segment/analytics-node"),
        Arguments.of("rudderstack", Set.of("identify", "page", "screen", "track", "group", "alias"),
            "analytics-node"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("sdks")
  @DisplayName("a Node SDK's calls are acknowledged and land in the warehouse with their ids, library and timestamps")
  void sdkReachesTheWarehouse(String sdk, Set<String> types, String library) throws Exception {
    String run = "node-" + sdk + "-" + UUID.randomUUID();
    String userId = "user-" + run;
    String anonymousId = "anon-" + run;
    Path output = dir.resolve(sdk + ".out");
    Process process = new ProcessBuilder(List.of(node(), "node/" + sdk + ".js", router.baseUrl(), TestRouter.WRITE_KEY,
        userId, anonymousId))
        .directory(Clients.DIR.toFile()).redirectErrorStream(true).redirectOutput(output.toFile()).start();
    boolean exited = process.waitFor(RUN_AT_MOST.toSeconds(), TimeUnit.SECONDS);
    if (!exited) {
      process.destroyForcibly().waitFor();
    }
    String printed = read(output);
    assertTrue(exited, "node " + sdk + ".js did not exit within " + RUN_AT_MOST + "; it printed:\n" + printed);
    assertEquals(0, process.exitValue(), "node " + sdk + ".js failed; it printed:\n" + printed);

    ClientRows.assertStored(vertx, router,
        new ClientRows.Expected(userId, anonymousId, types, library, false, Duration.ZERO),
        () -> "node " + sdk + ".js printed:\n" + printed);
  }

  /** The node on the PATH, which must exist: the SDKs are installed by npm ci, which needs it too. */
  private static String node() {
    for (String entry : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      Path candidate = Path.of(entry, "node");
      if (Files.isExecutable(candidate)) {
        return candidate.toString();
      }
    }
    throw new AssertionError("node is not on the PATH: apt-get install nodejs npm");
  }

  private static String read(Path file) {
    try {
      return Files.exists(file) ? Files.readString(file) : "(nothing)";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
