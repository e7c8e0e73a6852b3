package eventrouter.embedded;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.Objects;
import java.util.Properties;
import java.util.stream.Stream;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Exit;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node KRaft Kafka broker running in this JVM, with its log under a data directory.
 *
 * <p>The node is both the KRaft controller and the broker ({@code process.roles=broker,controller}),
 * listens on 127.0.0.1 only, and is tuned for one small machine: replication factors and ISR
 * minimums of 1, small thread pools, no topic auto-creation. It is started from Kafka's own server
 * classes ({@link KafkaRaftServer}), not from a test kit, so it stores data exactly like a
 * {@code kafka-server-start} process would:
 *
 * <ul>
 *   <li>The data directory is formatted (as {@code kafka-storage format} would) only while it holds
 *       no {@code meta.properties}. From then on the cluster id lives in {@code meta.properties}, and
 *       every later start reuses the directory and its records, whether the previous broker was
 *       closed or its process was killed.</li>
 *   <li>The controller quorum is static ({@code controller.quorum.voters}), so nothing on disk pins a
 *       port: each start may use different broker and controller ports.</li>
 *   <li>As in a stand-alone broker, writes reach the OS page cache and are not fsynced per record:
 *       acknowledged records survive the JVM dying ({@code kill -9}), not a power cut.</li>
 * </ul>
 *
 * <p>All output goes through SLF4J. Kafka logs a lot at INFO under the {@code kafka},
 * {@code org.apache.kafka} and {@code state.change.logger} loggers.
 *
 * <p>Caveat: as in a stand-alone broker, a fatal storage or metadata fault inside Kafka (say, the
 * disk under the data directory fails) makes Kafka halt the whole JVM through
 * {@code org.apache.kafka.common.utils.Exit}; it does not surface as an exception here. This class
 * logs the reason and where Kafka called it from, at ERROR, just before.
 */
public final class EmbeddedKafka implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);

  private static final String HOST = "127.0.0.1";
  private static final int NODE_ID = 1;
  private static final String BROKER_LISTENER = "BROKER";
  private static final String CONTROLLER_LISTENER = "CONTROLLER";
  /** Written by formatting; its presence is what "this directory is a Kafka log directory" means. */
  private static final String META_PROPERTIES = "meta.properties";
  /** Attempts to start when a probed free port was taken before Kafka could bind it. */
  private static final int MAX_START_ATTEMPTS = 3;

  static {
    // Kafka's own procedures end the process without a word, which leaves nothing but "exit code 1" to go on.
    Exit.setHaltProcedure((status, message) -> {
      LOG.error("Kafka halts the JVM (status {}): {}", status, message, new Throwable("Kafka called Exit.halt"));
      Runtime.getRuntime().halt(status);
    });
    Exit.setExitProcedure((status, message) -> {
      LOG.error("Kafka exits the JVM (status {}): {}", status, message, new Throwable("Kafka called Exit.exit"));
      System.exit(status);
    });
  }

  private final KafkaRaftServer server;
  private final String bootstrapServers;
  private final Path dataDir;
  /** Holds the lock on {@code <dataDir>.lock} for as long as the broker may touch dataDir. */
  private final FileChannel dataDirLock;
  private boolean closed;

  private EmbeddedKafka(KafkaRaftServer server, String advertisedHost, int brokerPort, Path dataDir,
      FileChannel dataDirLock) {
    this.server = server;
    this.bootstrapServers = advertisedHost + ":" + brokerPort;
    this.dataDir = dataDir;
    this.dataDirLock = dataDirLock;
  }

  /**
   * Formats {@code dataDir} on first use, then starts the broker. Blocks until the broker accepts
   * clients.
   *
   * @param dataDir the broker's log directory; created if missing. It must be absent, empty, or a
   *     directory this class used before: a non-empty directory without {@code meta.properties} is
   *     refused rather than formatted over. Two siblings are used as well: {@code <dataDir>.lock},
   *     locked while the broker runs, and {@code <dataDir>.formatting}, present only while formatting.
   * @param port the client port on 127.0.0.1, or 0 to pick a free one
   * @throws IllegalStateException if another broker, in this JVM or another, is using
   *     {@code dataDir}, or if it is not a Kafka data directory
   * @throws Exception if formatting or startup fails; nothing is left running then
   */
  public static EmbeddedKafka start(Path dataDir, int port) throws Exception {
    return start(dataDir, new Listener(HOST, port, HOST));
  }

  /**
   * Where clients reach the broker: it binds {@code bindHost:port} and tells clients to connect to
   * {@code advertisedHost:port}. The router's own broker is {@code 127.0.0.1} for both; a broker the nodes of a
   * cluster share ({@link BrokerCommand}) binds a reachable interface and advertises the name they know it by.
   */
  public record Listener(String bindHost, int port, String advertisedHost) {
    public Listener {
      Objects.requireNonNull(bindHost, "bindHost");
      Objects.requireNonNull(advertisedHost, "advertisedHost");
      if (port < 0 || port > 65_535) {
        throw new IllegalArgumentException("port out of range: " + port);
      }
    }
  }

  /** As {@link #start(Path, int)}, on the given listener. */
  public static EmbeddedKafka start(Path dataDir, Listener listener) throws Exception {
    Objects.requireNonNull(dataDir, "dataDir");
    Path dir = dataDir.toAbsolutePath().normalize();
    if (Files.exists(dir)) {
      // Follow a symlinked data dir, so formatting renames into the link's target, not over the link.
      dir = dir.toRealPath();
    }
    if (dir.getParent() == null) {
      throw new IllegalArgumentException("dataDir cannot be a filesystem root");
    }

    long startNanos = System.nanoTime();
    FileChannel lock = lockDataDir(dir);
    try {
      formatIfNeeded(dir);
      String clusterId = readClusterId(dir);
      EmbeddedKafka kafka = startServer(dir, listener, lock);
      LOG.info("Embedded Kafka started on {} (cluster {}, data {}) in {} ms",
          kafka.bootstrapServers, clusterId, dir, (System.nanoTime() - startNanos) / 1_000_000);
      return kafka;
    } catch (Throwable t) {
      closeQuietly(lock);
      throw t;
    }
  }

  /** The {@code bootstrap.servers} value for clients, e.g. {@code "127.0.0.1:9092"}. */
  public String bootstrapServers() {
    return bootstrapServers;
  }

  /**
   * Shuts the broker down in order (controlled shutdown, logs flushed and closed, clean-shutdown
   * marker written so that the next start skips log recovery) and waits for it. Idempotent;
   * concurrent callers wait for the first one to finish.
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    long startNanos = System.nanoTime();
    try {
      server.shutdown();
      server.awaitShutdown();
    } finally {
      closeQuietly(dataDirLock);
    }
    LOG.info("Embedded Kafka on {} (data {}) stopped in {} ms",
        bootstrapServers, dataDir, (System.nanoTime() - startNanos) / 1_000_000);
  }

  @Override
  public String toString() {
    return "EmbeddedKafka[" + bootstrapServers + ", " + dataDir + "]";
  }

  private static EmbeddedKafka startServer(Path dir, Listener listener, FileChannel lock) throws Exception {
    int port = listener.port();
    for (int attempt = 1; ; attempt++) {
      int brokerPort = port != 0 ? port : freePort(-1);
      // The controller listener is internal (the broker half talks to the controller half over it),
      // so it always gets a fresh port; the static voter list is rebuilt on every start.
      int controllerPort = freePort(brokerPort);
      // doLog=false: KafkaConfig would otherwise dump all of its ~400 settings at INFO here.
      KafkaConfig config = new KafkaConfig(serverProperties(dir, listener, brokerPort, controllerPort), false);
      KafkaRaftServer server = new KafkaRaftServer(config, Time.SYSTEM);
      try {
        // Returns once the broker has registered with the controller, caught up with the metadata
        // log and been unfenced, i.e. once it serves clients.
        server.startup();
        return new EmbeddedKafka(server, listener.advertisedHost(), brokerPort, dir, lock);
      } catch (Exception e) {
        // Release sockets, threads and Kafka's own directory lock before retrying or giving up.
        shutdownQuietly(server);
        if (!isBindFailure(e)) {
          throw e;
        }
        // Ports we probed can be taken by another process before Kafka binds them: probe again.
        // A port the caller chose that is busy will stay busy, so that fails at once.
        if (port == 0 && attempt < MAX_START_ATTEMPTS) {
          LOG.warn("Kafka could not bind its ports (attempt {}), retrying with others", attempt);
          continue;
        }
        throw new IOException("Kafka could not listen on " + listener.bindHost() + ":" + brokerPort
            + " (clients) and " + HOST + ":" + controllerPort + " (controller)", e);
      }
    }
  }

  /** The broker configuration. Everything not set here is Kafka's default. */
  private static Properties serverProperties(Path logDir, Listener listener, int brokerPort, int controllerPort) {
    Properties p = new Properties();

    // One process, one node, both roles. With a static voter set (rather than a dynamic KIP-853
    // quorum) the controller's address is configuration, not metadata, so it may change per start.
    p.setProperty("process.roles", "broker,controller");
    p.setProperty("node.id", String.valueOf(NODE_ID));
    p.setProperty("controller.quorum.voters", NODE_ID + "@" + HOST + ":" + controllerPort);
    p.setProperty("controller.listener.names", CONTROLLER_LISTENER);
    // The controller listener serves only this process's own broker half, so it stays on loopback.
    p.setProperty("listeners", BROKER_LISTENER + "://" + listener.bindHost() + ":" + brokerPort + ","
        + CONTROLLER_LISTENER + "://" + HOST + ":" + controllerPort);
    p.setProperty("advertised.listeners", BROKER_LISTENER + "://" + listener.advertisedHost() + ":" + brokerPort);
    p.setProperty("inter.broker.listener.name", BROKER_LISTENER);
    p.setProperty("listener.security.protocol.map",
        BROKER_LISTENER + ":PLAINTEXT," + CONTROLLER_LISTENER + ":PLAINTEXT");

    // The metadata log (__cluster_metadata-0) defaults to the first log dir, so both live here.
    p.setProperty("log.dirs", logDir.toString());

    // A single node cannot meet Kafka's cluster defaults (replication factor 3 for internal topics):
    // without these, consumer groups and transactions would never find a coordinator.
    p.setProperty("offsets.topic.replication.factor", "1");
    p.setProperty("transaction.state.log.replication.factor", "1");
    p.setProperty("transaction.state.log.min.isr", "1");
    p.setProperty("share.coordinator.state.topic.replication.factor", "1");
    p.setProperty("share.coordinator.state.topic.min.isr", "1");
    p.setProperty("min.insync.replicas", "1");
    p.setProperty("default.replication.factor", "1");
    // Internal topics default to 50 partitions each, sized for a cluster. This only counts when
    // the topic is first created, so existing data directories keep what they have.
    p.setProperty("offsets.topic.num.partitions", "1");
    p.setProperty("transaction.state.log.num.partitions", "1");
    p.setProperty("share.coordinator.state.topic.num.partitions", "1");

    // Topics are part of the application's schema: a typo must fail, not create a topic.
    p.setProperty("auto.create.topics.enable", "false");
    // No other members can be on their way: do not wait 3 s before the first group rebalance.
    p.setProperty("group.initial.rebalance.delay.ms", "0");
    // After a crash (kill -9) the restarted controller still counts the dead broker incarnation as
    // alive until its session times out, and rejects the new one until then
    // (DuplicateBrokerRegistrationException), so a restart after a crash takes about this long.
    // Kafka's 9 s default suits brokers on other machines; these heartbeats never leave the JVM.
    p.setProperty("broker.heartbeat.interval.ms", "500");
    p.setProperty("broker.session.timeout.ms", "3000");

    // Sized for a 2-core machine: Kafka's defaults assume a dedicated server.
    p.setProperty("num.network.threads", "2");
    p.setProperty("num.io.threads", "2");
    p.setProperty("background.threads", "2");
    p.setProperty("num.recovery.threads.per.data.dir", "1");
    p.setProperty("group.coordinator.threads", "1");
    p.setProperty("share.coordinator.threads", "1");
    // The cleaner must stay on (__consumer_offsets is a compacted topic), but its dedupe buffer is
    // allocated on the heap up front: 8 MiB instead of 128 MiB.
    p.setProperty("log.cleaner.threads", "1");
    p.setProperty("log.cleaner.dedupe.buffer.size", String.valueOf(8 * 1024 * 1024));
    return p;
  }

  /**
   * Locks {@code <dir>.lock} so that only one broker at a time, in any JVM, uses {@code dir}.
   *
   * <p>Kafka has its own {@code .lock} inside the log directory, but in combined mode the controller
   * starts, and writes to the metadata log, before the broker takes that lock: a second instance
   * would run its controller on the same files before failing. Our lock must also cover formatting,
   * before {@code dir} exists, hence a sibling file. The OS releases it if the process dies.
   */
  private static FileChannel lockDataDir(Path dir) throws IOException {
    Files.createDirectories(dir.getParent());
    Path lockFile = dir.resolveSibling(dir.getFileName() + ".lock");
    FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    boolean locked = false;
    try {
      locked = channel.tryLock() != null;
    } catch (OverlappingFileLockException e) {
      // Held by another EmbeddedKafka in this JVM: the directory is in use all the same.
    } finally {
      if (!locked) {
        channel.close();
      }
    }
    if (!locked) {
      throw new IllegalStateException("Kafka data directory " + dir + " is in use by another broker ("
          + lockFile + " is locked)");
    }
    return channel;
  }

  /**
   * Formats {@code dir} unless it already holds {@code meta.properties}. Kafka refuses to start on
   * an unformatted directory; formatting writes the cluster id, node id and the bootstrap metadata.
   * It runs Kafka's own {@code kafka-storage format} ({@link StorageTool}), which needs only the
   * {@code kafka_2.13} artifact on the compile classpath.
   *
   * <p>Formatting happens in a sibling staging directory that is then renamed into place, so a
   * process killed mid-format leaves {@code dir} either absent (formatted afresh on the next start)
   * or complete, never half-written.
   */
  private static void formatIfNeeded(Path dir) throws Exception {
    if (Files.exists(dir.resolve(META_PROPERTIES))) {
      return;
    }
    if (Files.exists(dir) && !(Files.isDirectory(dir) && isEmptyDirectory(dir))) {
      throw new IllegalStateException(dir + " is neither empty nor a Kafka data directory (no "
          + META_PROPERTIES + "); refusing to format it");
    }
    Path staging = dir.resolveSibling(dir.getFileName() + ".formatting");
    deleteRecursively(staging); // left over by a start that died while formatting
    Files.createDirectories(staging);

    String clusterId = Uuid.randomUuid().toString();
    // StorageTool reads the server configuration from a file, as the CLI does. Ports do not matter
    // for formatting: the voter set is static, so no endpoint is written into the metadata.
    Path configFile = Files.createTempFile("embedded-kafka-format-", ".properties");
    ByteArrayOutputStream toolOutput = new ByteArrayOutputStream();
    int exitCode;
    try {
      try (OutputStream out = Files.newOutputStream(configFile)) {
        serverProperties(staging, new Listener(HOST, 0, HOST), 0, 0).store(out, "EmbeddedKafka: for formatting only");
      }
      try (PrintStream toolStream = new PrintStream(toolOutput, true, StandardCharsets.UTF_8)) {
        exitCode = StorageTool.execute(
            new String[] {"format", "--config", configFile.toString(), "--cluster-id", clusterId},
            toolStream);
      }
    } finally {
      Files.deleteIfExists(configFile);
    }
    // The tool prints its progress (including the whole bootstrap metadata) rather than logging it.
    String output = toolOutput.toString(StandardCharsets.UTF_8);
    output.lines().forEach(line -> LOG.debug("kafka-storage format: {}", line));
    if (exitCode != 0) {
      throw new IllegalStateException("Formatting " + dir + " failed (exit code " + exitCode + "): " + output);
    }

    // The caller may have created dir, empty, already; the rename needs the target gone.
    Files.deleteIfExists(dir);
    Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
    LOG.info("Formatted new Kafka data directory {} (cluster {})", dir, clusterId);
  }

  private static String readClusterId(Path dir) throws IOException {
    Properties meta = new Properties();
    try (InputStream in = Files.newInputStream(dir.resolve(META_PROPERTIES))) {
      meta.load(in);
    }
    return meta.getProperty("cluster.id");
  }

  /** A currently free port on 127.0.0.1 other than {@code exclude}. */
  private static int freePort(int exclude) throws IOException {
    while (true) {
      try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
        if (socket.getLocalPort() != exclude) {
          return socket.getLocalPort();
        }
      }
    }
  }

  private static boolean isBindFailure(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BindException) {
        return true;
      }
    }
    return false;
  }

  private static void shutdownQuietly(KafkaRaftServer server) {
    try {
      server.shutdown();
      server.awaitShutdown();
    } catch (Exception e) {
      LOG.warn("Error shutting down Kafka after a failed start", e);
    }
  }

  private static void closeQuietly(FileChannel channel) {
    try {
      channel.close();
    } catch (IOException e) {
      LOG.warn("Could not release the Kafka data directory lock", e);
    }
  }

  private static boolean isEmptyDirectory(Path dir) throws IOException {
    try (Stream<Path> entries = Files.list(dir)) {
      return entries.findAny().isEmpty();
    }
  }

  private static void deleteRecursively(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
        Files.delete(p);
      }
    }
  }
}
