package eventrouter.embedded;

import static eventrouter.embedded.ServerProcesses.STOP_TIMEOUT;
import static eventrouter.embedded.ServerProcesses.awaitExit;
import static eventrouter.embedded.ServerProcesses.isRunning;
import static eventrouter.embedded.ServerProcesses.isSameFile;
import static eventrouter.embedded.ServerProcesses.readPid;
import static eventrouter.embedded.ServerProcesses.workingDirectory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import redis.embedded.core.ExecutableProvider;

/**
 * A real Redis server (the {@code redis-server} binary shipped inside the
 * {@code com.github.codemonstur:embedded-redis} artifact) whose data persists under a directory.
 *
 * <p>Durability comes from the append-only file ({@code appendonly yes}, {@code appendfsync everysec})
 * written to the data directory; RDB snapshots are disabled. The server binds to 127.0.0.1 only.
 *
 * <p>The server is a child process, so it outlives a JVM that is killed with {@code kill -9}. Such an
 * orphan keeps the port and keeps appending to the AOF. {@link #start} therefore looks for the
 * {@code redis.pid} file in the data directory and, if it names a live {@code redis-server} serving
 * this very directory, stops it with SIGTERM (Redis fsyncs the AOF on SIGTERM) before starting a
 * fresh server. A live owner JVM is told apart from a dead one by an OS file lock ({@code redis.lock})
 * that the owning JVM holds for the server's lifetime and the kernel releases when the JVM dies.
 *
 * <p>Only the library's binary is used, not its {@code RedisServer} wrapper: that wrapper waits on a
 * log line without a timeout, stops without a timeout, and stops draining the server's output after
 * startup, which eventually blocks Redis on a full pipe.
 */
public final class EmbeddedRedis implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedRedis.class);

  private static final String HOST = "127.0.0.1";
  private static final String CONF_FILE = "redis.conf";
  private static final String PID_FILE = "redis.pid";
  private static final String LOCK_FILE = "redis.lock";
  /** Generous: replaying a large AOF happens before Redis answers PING with anything but -LOADING. */
  private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
  /** A port we picked ourselves can be grabbed by someone else before Redis binds it; retry then. */
  private static final int FREE_PORT_ATTEMPTS = 3;
  private static final int LOG_TAIL_LINES = 20;

  private final Path dataDir;
  private final int port;
  private final Process process;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final Path binary;
  private final Thread shutdownHook;
  private final AtomicBoolean closed = new AtomicBoolean();

  private EmbeddedRedis(Path dataDir, int port, Process process, FileChannel lockChannel, FileLock lock, Path binary) {
    this.dataDir = dataDir;
    this.port = port;
    this.process = process;
    this.lockChannel = lockChannel;
    this.lock = lock;
    this.binary = binary;
    // Without this, a normal JVM exit (System.exit, SIGTERM to the JVM) that skips close() would
    // leave Redis orphaned, exactly like kill -9 does.
    this.shutdownHook = new Thread(this::close, "embedded-redis-" + port + "-shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  /**
   * Starts Redis with its data (AOF) in {@code dataDir}, first stopping a server orphaned there by
   * a JVM that died without closing it.
   *
   * @param dataDir directory for the AOF, pid and config files; created if missing
   * @param port    TCP port on 127.0.0.1, or 0 to pick a free one
   * @return a running server that has answered PING
   * @throws IllegalStateException if another live process owns {@code dataDir}
   */
  public static EmbeddedRedis start(Path dataDir, int port) throws Exception {
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("port out of range: " + port);
    }
    long startNanos = System.nanoTime();
    Path dir = dataDir.toAbsolutePath().normalize();
    Files.createDirectories(dir);

    FileChannel lockChannel = FileChannel.open(dir.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    Path binary = null;
    try {
      FileLock lock = tryLock(lockChannel);
      if (lock == null) {
        throw new IllegalStateException("Redis data directory " + dir + " is in use by another live process");
      }
      // We hold the lock, so no live JVM owns a server here: any redis-server still running on
      // this directory is an orphan.
      stopOrphan(dir);

      binary = ExecutableProvider.newJarResourceProvider().get().toPath();
      for (int attempt = 1; ; attempt++) {
        int actualPort = port != 0 ? port : freePort();
        writeConfig(dir, actualPort);
        Process process = launch(binary, dir, actualPort);
        LogPump logs = LogPump.start(process, actualPort);
        try {
          awaitPong(process, actualPort, logs);
        } catch (ServerExitedException e) {
          if (port == 0 && attempt < FREE_PORT_ATTEMPTS) {
            LOG.warn("redis-server on port {} exited during startup, retrying on another port", actualPort);
            continue;
          }
          throw e;
        } catch (Exception e) {
          destroy(process.toHandle());
          throw e;
        }
        LOG.info("Redis {} ready on {}:{} in {} ms (data in {})", process.pid(), HOST, actualPort,
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos), dir);
        return new EmbeddedRedis(dir, actualPort, process, lockChannel, lock, binary);
      }
    } catch (Throwable e) {
      lockChannel.close(); // also releases the lock
      if (binary != null) {
        deleteExtractedBinary(binary);
      }
      throw e;
    }
  }

  /** The URL for clients such as the Vert.x Redis client: {@code redis://127.0.0.1:<port>/0}. */
  public String url() {
    return "redis://" + HOST + ":" + port + "/0";
  }

  /**
   * Stops Redis with SIGTERM, on which it fsyncs the AOF before exiting, and waits for it; kills it
   * only if it has not exited after 15 s. Idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    if (Thread.currentThread() != shutdownHook) {
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException jvmAlreadyShuttingDown) {
        // The hook is running or about to; our close() wins the flag, so it will be a no-op.
      }
    }
    long startNanos = System.nanoTime();
    boolean graceful = destroy(process.toHandle());
    if (graceful) {
      LOG.info("Redis on port {} stopped in {} ms", port, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
    }
    try {
      // Release only after the server is gone, so no other start on this directory can race it.
      lock.release();
      lockChannel.close();
    } catch (IOException e) {
      LOG.warn("Could not release {}", dataDir.resolve(LOCK_FILE), e);
    }
    deleteExtractedBinary(binary);
  }

  @Override
  public String toString() {
    return "EmbeddedRedis[" + url() + ", " + dataDir + "]";
  }

  private static FileLock tryLock(FileChannel channel) throws IOException {
    try {
      return channel.tryLock();
    } catch (OverlappingFileLockException heldByThisJvm) {
      return null;
    }
  }

  /**
   * Writes the config used for this start. Regenerated every time so the file always matches the
   * port in use; nothing else should edit it.
   */
  private static void writeConfig(Path dir, int port) throws IOException {
    String conf = String.join("\n",
        "# Generated by " + EmbeddedRedis.class.getName() + " on every start; edits are overwritten.",
        "bind " + HOST,
        "port " + port,
        "daemonize no",
        // The pid file is how the next start finds a server orphaned by kill -9 of its JVM.
        "pidfile " + quote(dir.resolve(PID_FILE).toString()),
        "dir " + quote(dir.toString()),
        // Empty logfile means stdout, which we forward to SLF4J.
        "logfile \"\"",
        "loglevel notice",
        // Durability via the AOF only. Redis write()s each command to it before replying, so even
        // SIGKILL of Redis loses nothing acknowledged (in practice); everysec fsync bounds the loss
        // on a machine crash to about a second. RDB snapshots would only add fork() pauses.
        "appendonly yes",
        "appendfilename \"appendonly.aof\"",
        "appendfsync everysec",
        "save \"\"",
        "");
    Path tmp = dir.resolve(CONF_FILE + ".tmp");
    Files.writeString(tmp, conf, StandardCharsets.UTF_8);
    Files.move(tmp, dir.resolve(CONF_FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** Quotes a value for redis.conf, which splits on spaces and understands C-style escapes in "". */
  private static String quote(String value) {
    return '"' + value.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
  }

  /**
   * Starts the extracted binary. An exec can fail with ETXTBSY ("Text file busy") when another thread forks (the
   * embedded Postgres starts in parallel) while the binary's extraction still held it open for writing: the child
   * inherits that descriptor until it closes it. The window is short, so a few more tries get past it.
   */
  private static Process launch(Path binary, Path dir, int port) throws IOException {
    LOG.debug("Starting {} on port {} in {}", binary, port, dir);
    ProcessBuilder builder = new ProcessBuilder(List.of(binary.toString(), dir.resolve(CONF_FILE).toString()))
        .directory(dir.toFile())
        .redirectErrorStream(true);
    for (int attempt = 1; ; attempt++) {
      try {
        return builder.start();
      } catch (IOException e) {
        if (attempt == 5 || e.getMessage() == null || !e.getMessage().contains("Text file busy")) {
          throw e;
        }
        LOG.debug("exec of {} found it busy (attempt {}), trying again", binary, attempt);
        LockSupport.parkNanos(Duration.ofMillis(20L * attempt).toNanos()); // start-up thread, never an event loop
      }
    }
  }

  /** Polls with a raw RESP PING until +PONG; -LOADING (AOF replay) and refused connections mean "not yet". */
  private static void awaitPong(Process process, int port, LogPump logs) throws Exception {
    long deadline = System.nanoTime() + STARTUP_TIMEOUT.toNanos();
    String lastReply = "no connection";
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        logs.awaitEnd();
        throw new ServerExitedException("redis-server exited with code " + process.exitValue()
            + " during startup on port " + port + "; last output:\n" + logs.tail());
      }
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress(HOST, port), 250);
        socket.setSoTimeout(1_000);
        OutputStream out = socket.getOutputStream();
        out.write("*1\r\n$4\r\nPING\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        lastReply = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8)).readLine();
        if ("+PONG".equals(lastReply)) {
          return;
        }
      } catch (IOException notYet) {
        lastReply = notYet.toString();
      }
      Thread.sleep(25);
    }
    throw new IOException("redis-server on port " + port + " did not answer PING within " + STARTUP_TIMEOUT
        + " (last: " + lastReply + "); last output:\n" + logs.tail());
  }

  /**
   * Stops a redis-server left running on {@code dir} by a JVM that died without closing it. Only a
   * process that is named redis-server and whose working directory is {@code dir} (Redis chdirs to
   * its {@code dir}) is touched, so a pid recycled by an unrelated process after a reboot is safe.
   */
  private static void stopOrphan(Path dir) throws IOException {
    Optional<ProcessHandle> found = readPid(dir.resolve(PID_FILE)).flatMap(ProcessHandle::of)
        .filter(ServerProcesses::isRunning)
        .filter(p -> p.info().command().map(c -> c.contains("redis-server")).orElse(false));
    if (found.isEmpty()) {
      return; // no pid file, a dead pid, or a recycled one: Redis simply overwrites the file
    }
    ProcessHandle orphan = found.get();
    Optional<Path> cwd = workingDirectory(orphan);
    if (cwd.isEmpty()) {
      // Guessing wrong either way is bad: killing a stranger, or a second server on our AOF.
      throw new IllegalStateException(PID_FILE + " in " + dir + " names running redis-server pid " + orphan.pid()
          + " whose data directory cannot be verified; stop it manually");
    }
    if (!isSameFile(cwd.get(), dir)) {
      return; // some other Redis got the recycled pid
    }
    Optional<String> orphanBinary = orphan.info().command();
    LOG.warn("Found orphaned redis-server (pid {}) on {}, left by a JVM that did not shut down cleanly;"
        + " stopping it with SIGTERM so it flushes its AOF", orphan.pid(), dir);
    long startNanos = System.nanoTime();
    destroy(orphan);
    if (isRunning(orphan)) {
      throw new IOException("Could not stop orphaned redis-server pid " + orphan.pid() + " on " + dir);
    }
    LOG.info("Orphaned redis-server (pid {}) stopped in {} ms", orphan.pid(),
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
    // Its JVM never ran its delete-on-exit for the extracted binary; tidy up after it.
    orphanBinary.map(Path::of).ifPresent(EmbeddedRedis::deleteExtractedBinary);
  }

  /**
   * SIGTERM, wait up to {@link #STOP_TIMEOUT}, then SIGKILL.
   *
   * @return true if the process exited on SIGTERM (graceful, AOF flushed)
   */
  private static boolean destroy(ProcessHandle handle) {
    if (!isRunning(handle)) {
      return true;
    }
    handle.destroy();
    if (awaitExit(handle)) {
      return true;
    }
    LOG.error("redis-server pid {} did not exit within {} of SIGTERM; killing it", handle.pid(), STOP_TIMEOUT);
    handle.destroyForcibly();
    awaitExit(handle);
    return false;
  }

  /** Picks a currently free loopback port. Redis can only be told a number, hence the small race. */
  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
      return socket.getLocalPort();
    }
  }

  /**
   * Deletes a binary the library extracted into a {@code redis-*} temp directory, and that directory.
   * Anything else (say, a redis-server from the OS) is left alone.
   */
  private static void deleteExtractedBinary(Path binary) {
    Path parent = binary.getParent();
    Path tmp = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath().normalize();
    if (parent == null || !tmp.equals(parent.getParent()) || !parent.getFileName().toString().startsWith("redis-")
        || !binary.getFileName().toString().startsWith("redis-server")) {
      return;
    }
    try {
      Files.deleteIfExists(binary);
      Files.deleteIfExists(parent);
    } catch (IOException e) {
      LOG.debug("Could not delete extracted redis binary {}", binary, e);
    }
  }

  private static final class ServerExitedException extends IOException {
    ServerExitedException(String message) {
      super(message);
    }
  }

  /**
   * Forwards redis-server's output to SLF4J for the server's whole life. Draining matters: an
   * unread pipe fills up and then blocks Redis on its next log line.
   */
  private static final class LogPump implements Runnable {
    private final Process process;
    private final Deque<String> tail = new ArrayDeque<>();
    private final Thread thread;

    private LogPump(Process process, int port) {
      this.process = process;
      this.thread = new Thread(this, "embedded-redis-" + port + "-log");
      this.thread.setDaemon(true);
    }

    static LogPump start(Process process, int port) {
      LogPump pump = new LogPump(process, port);
      pump.thread.start();
      return pump;
    }

    @Override
    public void run() {
      try (InputStream in = process.getInputStream();
         BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
        for (String line; (line = reader.readLine()) != null; ) {
          if (line.isBlank()) {
            continue;
          }
          remember(line);
          // Redis logs milestones such as "Server initialized" at its warning level ("#"),
          // so only its explicit WARNING lines map to WARN.
          if (line.contains("# WARNING")) {
            LOG.warn("[redis-server] {}", line);
          } else {
            LOG.info("[redis-server] {}", line);
          }
        }
      } catch (IOException e) {
        LOG.debug("redis-server output closed", e);
      }
    }

    private synchronized void remember(String line) {
      if (tail.size() == LOG_TAIL_LINES) {
        tail.removeFirst();
      }
      tail.addLast(line);
    }

    synchronized String tail() {
      return String.join("\n", tail);
    }

    void awaitEnd() throws InterruptedException {
      thread.join(1_000);
    }
  }
}
