package eventrouter.embedded;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the embedded Redis and Postgres share about their server processes: finding one left running by a JVM that
 * died (its pid file, its working directory) and waiting for one to exit. Runs on start-up and shutdown threads,
 * never on an event loop.
 */
final class ServerProcesses {
  private static final Logger LOG = LoggerFactory.getLogger(ServerProcesses.class);
  static final Duration STOP_TIMEOUT = Duration.ofSeconds(15);
  private static final long EXIT_POLL_MS = 20;

  private ServerProcesses() {
  }

  /**
   * Waits up to {@link #STOP_TIMEOUT} for the process to exit. Polls rather than using {@code onExit()}: for a
   * process that is not our child (an orphan, or a postmaster detached by pg_ctl) the JDK polls only every 300+ ms
   * and counts a zombie as alive, and an orphan's zombie lingers until whatever adopted it reaps it, which some
   * container inits do only every few seconds.
   */
  static boolean awaitExit(ProcessHandle process) {
    long deadline = System.nanoTime() + STOP_TIMEOUT.toNanos();
    while (isRunning(process)) {
      if (System.nanoTime() >= deadline) {
        return false;
      }
      try {
        Thread.sleep(EXIT_POLL_MS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return !isRunning(process);
      }
    }
    return true;
  }

  /** Alive and not a zombie (state Z/X in Linux /proc/pid/stat): a zombie has already exited. */
  static boolean isRunning(ProcessHandle process) {
    if (!process.isAlive()) {
      return false;
    }
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(process.pid()), "stat"), StandardCharsets.US_ASCII);
      int afterName = stat.lastIndexOf(')'); // the command name in parentheses may contain spaces
      char state = afterName >= 0 && afterName + 2 < stat.length() ? stat.charAt(afterName + 2) : '?';
      return state != 'Z' && state != 'X';
    } catch (IOException | SecurityException noProcFs) {
      return process.isAlive();
    }
  }

  /** The pid on the first line of a pid file (Redis's redis.pid, Postgres's postmaster.pid). */
  static Optional<Long> readPid(Path pidFile) {
    try (var lines = Files.lines(pidFile, StandardCharsets.US_ASCII)) {
      return lines.findFirst().map(String::strip).filter(s -> !s.isEmpty()).map(Long::parseLong);
    } catch (NoSuchFileException absent) {
      return Optional.empty();
    } catch (IOException | UncheckedIOException | NumberFormatException e) {
      LOG.warn("Ignoring unreadable pid file {}: {}", pidFile, e.toString());
      return Optional.empty();
    }
  }

  /**
   * The process's working directory via Linux /proc; empty if it cannot be read. Redis and Postgres both change
   * into their data directory, so this tells our server from an unrelated process that reused the pid.
   */
  static Optional<Path> workingDirectory(ProcessHandle process) {
    try {
      return Optional.of(Path.of("/proc", Long.toString(process.pid()), "cwd").toRealPath());
    } catch (IOException | SecurityException unknowable) {
      return Optional.empty();
    }
  }

  static boolean isSameFile(Path a, Path b) {
    try {
      return Files.isSameFile(a, b);
    } catch (IOException e) {
      return false;
    }
  }
}
