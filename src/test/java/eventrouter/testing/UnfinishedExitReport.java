package eventrouter.testing;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * When the test JVM exits while tests still run, logs every thread's stack, the caller of {@code System.exit} among
 * them. Without it, surefire reports only "The forked VM terminated without properly saying goodbye", and the dead
 * class's output is lost. Registered through {@code META-INF/services}.
 */
public final class UnfinishedExitReport implements LauncherSessionListener {
  private static final Logger LOG = LoggerFactory.getLogger(UnfinishedExitReport.class);
  private static final AtomicBoolean HOOK_ADDED = new AtomicBoolean();
  private static final AtomicBoolean TESTS_RUNNING = new AtomicBoolean();

  @Override
  public void launcherSessionOpened(LauncherSession session) {
    TESTS_RUNNING.set(true);
    if (HOOK_ADDED.compareAndSet(false, true)) {
      Runtime.getRuntime().addShutdownHook(new Thread(UnfinishedExitReport::reportIfRunning, "unfinished-exit-report"));
    }
  }

  @Override
  public void launcherSessionClosed(LauncherSession session) {
    TESTS_RUNNING.set(false);
  }

  private static void reportIfRunning() {
    if (!TESTS_RUNNING.get()) {
      return;
    }
    // The exiting thread goes last, so that a log read from its end shows it first.
    StringBuilder others = new StringBuilder();
    StringBuilder exiting = new StringBuilder();
    for (Map.Entry<Thread, StackTraceElement[]> thread : Thread.getAllStackTraces().entrySet()) {
      boolean callsExit = Arrays.stream(thread.getValue())
          .anyMatch(frame -> frame.getClassName().equals("java.lang.Shutdown"));
      appendStack(callsExit ? exiting : others, thread.getKey(), thread.getValue());
    }
    LOG.error("The test JVM is exiting while tests still run. Its other threads:{}\nThe thread that called exit:{}",
        others, exiting);
  }

  private static void appendStack(StringBuilder out, Thread thread, StackTraceElement[] stack) {
    out.append("\n\"").append(thread.getName()).append('"');
    for (StackTraceElement frame : stack) {
      out.append("\n    at ").append(frame);
    }
  }
}
