package eventrouter.testing;

import io.vertx.core.Future;
import io.vertx.core.Promise;
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
    Promise<Void> done = Promise.promise();
    check(vertx, giveUpAt, what, condition, done);
    result(done.future(), deadline.plusSeconds(10));
  }

  /** Each check schedules the next, completing one promise: no future chain grows with the wait. */
  private static void check(Vertx vertx, long giveUpAt, String what, Supplier<Future<Boolean>> condition,
      Promise<Void> done) {
    condition.get().onComplete(ar -> {
      if (ar.failed() && ar.cause() instanceof AssertionError hopeless) {
        done.tryFail(hopeless); // the condition says it can never hold (a process it waits for died)
      } else if (Boolean.TRUE.equals(ar.result())) {
        done.tryComplete();
      } else if (System.nanoTime() > giveUpAt) {
        done.tryFail(new AssertionError("timed out waiting until " + what));
      } else {
        vertx.setTimer(RECHECK_MS, t -> check(vertx, giveUpAt, what, condition, done));
      }
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
