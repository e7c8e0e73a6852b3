package eventrouter.delivery;

import eventrouter.config.DestinationConfig.CircuitPolicy;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig.SlidingWindowType;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * One destination's circuit breaker: Resilience4j's {@link CircuitBreaker}, which opens on the <em>share</em> of failed
 * calls, or of slow ones, over a sliding window of its last calls once that holds a minimum of them, so that a
 * destination failing one call in a hundred stays closed at any volume while one that is down opens within the
 * window's first calls. While open, nothing is sent; after a wait, a round of trial calls decides whether it closes
 * again or reopens, and each failed round doubles the next wait (up to a ceiling), so a destination that stays down is
 * probed less and less often.
 *
 * <p>The wait runs on a Vert.x timer rather than Resilience4j's scheduler thread, and every call and transition happens
 * on the delivery verticle's context. A {@link PermanentDeliveryException} (a 4xx other than 408 and 429) says the
 * event is at fault, not the destination, so it is ignored.
 */
final class DestinationCircuit {
  enum State {
    CLOSED, HALF_OPEN, OPEN
  }

  private final Vertx vertx;
  private final CircuitPolicy policy;
  private final CircuitBreaker breaker;
  private final Runnable opened;
  private final Runnable halfOpened;
  private final Runnable closed;
  /** Rounds of trials that failed since the circuit last closed: the exponent of the next wait. */
  private int failedRounds;
  private long trialTimer = -1;
  /** This half-open round's trials: out, back, and failed (or slow). */
  private int trialsOut;
  private int trialsBack;
  private int trialsFailed;

  /** A permitted call: when it started, and whether it is one of a half-open round's trials. */
  record Call(long startedAt, boolean trial) {
  }

  /**
   * @param opened runs on the context each time the circuit opens
   * @param halfOpened runs on the context each time the trials may start
   * @param closed runs on the context each time it closes again
   */
  DestinationCircuit(String destinationId, CircuitPolicy policy, Vertx vertx, Context context, Runnable opened,
      Runnable halfOpened, Runnable closed) {
    this.vertx = vertx;
    this.policy = policy;
    this.opened = opened;
    this.halfOpened = halfOpened;
    this.closed = closed;
    this.breaker = CircuitBreaker.of("delivery-" + destinationId, CircuitBreakerConfig.custom()
        .failureRateThreshold(policy.failureRate())
        .slowCallRateThreshold(policy.failureRate())
        .slowCallDurationThreshold(Duration.ofMillis(policy.slowCallMs()))
        // By count: a destination's last calls, however long ago, so that a busy one that goes down opens after
        // about windowCalls/2 failures, and a quiet one is judged on as many calls.
        .slidingWindow(policy.windowCalls(), Math.min(policy.minCalls(), policy.windowCalls()),
            SlidingWindowType.COUNT_BASED)
        .permittedNumberOfCallsInHalfOpenState(policy.trialCalls())
        // The wait is this class's timer; Resilience4j's own would need its scheduler thread.
        .waitDurationInOpenState(Duration.ofDays(365))
        .automaticTransitionFromOpenToHalfOpenEnabled(false)
        .ignoreExceptions(PermanentDeliveryException.class)
        .build());
    breaker.getEventPublisher().onStateTransition(event -> {
      CircuitBreaker.State to = event.getStateTransition().getToState();
      context.runOnContext(v -> transitioned(to));
    });
  }

  /**
   * Takes a permission for one call: null while open, and while half-open once the round's trials are out. Pass the
   * call to {@link #record} when it ends.
   */
  Call tryAcquire() {
    if (!breaker.tryAcquirePermission()) {
      return null;
    }
    boolean trial = breaker.getState() == CircuitBreaker.State.HALF_OPEN;
    if (trial) {
      trialsOut++;
    }
    return new Call(breaker.getCurrentTimestamp(), trial);
  }

  /** The outcome of a permitted call: {@code failure} null for a success. Its duration decides whether it was slow. */
  void record(Call call, Throwable failure) {
    long took = breaker.getCurrentTimestamp() - call.startedAt();
    if (failure == null) {
      breaker.onSuccess(took, breaker.getTimestampUnit());
    } else {
      breaker.onError(took, breaker.getTimestampUnit(), failure);
    }
    if (call.trial()) {
      trialsOut--;
      trialsBack++;
      boolean slow = took > breaker.getTimestampUnit().convert(policy.slowCallMs(), TimeUnit.MILLISECONDS);
      if ((failure != null && !(failure instanceof PermanentDeliveryException)) || slow) {
        trialsFailed++;
      }
      decideRoundIfOver();
    }
  }

  /**
   * Resilience4j decides a half-open round once all {@code trialCalls} trials are back; when fewer were due (a burst
   * that was all tried, a quiet destination), the round is over once the ones sent are back, and decided alike: the
   * circuit closes if fewer than {@code failureRate} percent of them failed or were slow, and opens again otherwise.
   */
  private void decideRoundIfOver() {
    if (trialsOut > 0 || trialsBack == 0 || breaker.getState() != CircuitBreaker.State.HALF_OPEN) {
      return;
    }
    if (trialsFailed * 100 >= policy.failureRate() * trialsBack) {
      breaker.transitionToOpenState();
    } else {
      breaker.transitionToClosedState();
    }
  }

  State state() {
    return switch (breaker.getState()) {
      case HALF_OPEN -> State.HALF_OPEN;
      case OPEN, FORCED_OPEN -> State.OPEN;
      default -> State.CLOSED;
    };
  }

  /** Failed calls in the window, in percent; -1 until the window holds {@code minCalls}. */
  float failureRate() {
    return breaker.getMetrics().getFailureRate();
  }

  /** Slow calls in the window, in percent; -1 until the window holds {@code minCalls}. */
  float slowCallRate() {
    return breaker.getMetrics().getSlowCallRate();
  }

  void close() {
    vertx.cancelTimer(trialTimer);
  }

  private void transitioned(CircuitBreaker.State to) {
    switch (to) {
      case OPEN -> {
        long waitMs = Math.min(policy.openMaxMs(), (long) policy.openMs() << Math.min(failedRounds, 20));
        failedRounds++;
        vertx.cancelTimer(trialTimer);
        trialTimer = vertx.setTimer(waitMs, t -> {
          trialTimer = -1;
          if (breaker.getState() == CircuitBreaker.State.OPEN) {
            breaker.transitionToHalfOpenState();
          }
        });
        opened.run();
      }
      case HALF_OPEN -> {
        trialsOut = 0;
        trialsBack = 0;
        trialsFailed = 0;
        halfOpened.run();
      }
      case CLOSED -> {
        failedRounds = 0;
        closed.run();
      }
      default -> {
      }
    }
  }
}
