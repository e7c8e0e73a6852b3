package eventrouter.testing;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/** Waiting in tests: for a condition with a deadline, never for a fixed time. */
public final class Await {
  private static final long RECHECK_MS = 25;

  private Await() {
  }

  /** Blocks the test thread until the condition holds, failing with {@code what} after the deadline. */
  public static void until(Vertx vertx, Duration deadline, String what, Supplier<Future<Boolean>> condition) {
    long giveUpAt = System.nanoTime() + deadline.toNanos();
    result(check(vertx, giveUpAt, what, condition), deadline.plusSeconds(10));
  }

  private static Future<Void> check(Vertx vertx, long giveUpAt, String what, Supplier<Future<Boolean>> condition) {
    return condition.get().otherwise(false).compose(holds -> {
      if (holds) {
        return Future.succeededFuture();
      }
      if (System.nanoTime() > giveUpAt) {
        return Future.failedFuture(new AssertionError("timed out waiting until " + what));
      }
      return vertx.timer(RECHECK_MS).compose(t -> check(vertx, giveUpAt, what, condition));
    });
  }

  /** The result of a future, on the (non-Vert.x) test thread. */
  public static <T> T result(Future<T> future) {
    return result(future, Duration.ofSeconds(60));
  }

  public static <T> T result(Future<T> future, Duration timeout) {
    try {
      return future.toCompletionStage().toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof AssertionError assertion) {
        throw assertion;
      }
      throw new IllegalStateException(e.getCause());
    } catch (TimeoutException e) {
      throw new AssertionError("no result within " + timeout, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
