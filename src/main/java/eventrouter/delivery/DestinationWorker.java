package eventrouter.delivery;

import eventrouter.config.DestinationConfig;
import eventrouter.config.DestinationConfig.DeliveryPolicy;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything one destination owns, so that it can never hold back another: its queue, its cap on requests in flight,
 * its rate limit, its circuit breaker, its sender (with its own connections) and its retry poller. Runs on the
 * delivery verticle's event loop; nothing here blocks.
 *
 * <p>A delivery from the log is settled (its future completes) once it is delivered, parked in the retry store, or a
 * dead letter. It is parked at once, without an attempt, when the circuit is open, so a destination that hangs holds
 * its feed's offsets only until its requests time out. Its queue is bounded by its {@link DestinationFeed}, which
 * stops reading at {@code queueSize} unsettled records.
 *
 * <p>Ordered destinations keep a lane per user: only the lane's head is attempted, and a user with parked rows sends
 * newer events to the store behind them, so that a failing event holds back only that user's later events.
 */
final class DestinationWorker {
  private static final Logger LOG = LoggerFactory.getLogger(DestinationWorker.class);
  private static final long STORE_RETRY_BASE_MS = 200;
  private static final long STORE_RETRY_MAX_MS = 10_000;
  private static final int MAX_CLAIM = 500;
  /** How often an ordered destination's parked counts are checked against the store, which other nodes change. */
  private static final long RESYNC_PARKED_MS = 5_000;

  private final Vertx vertx;
  /** The delivery verticle's context: every state change of this worker runs on it. */
  private final Context context;
  private final Destination destination;
  private final DeliveryPolicy policy;
  private final Sender sender;
  private final DeliveryStore store;
  private final Clock clock;
  private final long retryPollMs;
  private final DestinationCircuit circuit;
  private final TokenBucket rateLimit;
  private final DeliveryMetrics metrics;

  /** Deliveries waiting for a free request slot (for an ordered destination: lane heads only). */
  private final ArrayDeque<Delivery> ready = new ArrayDeque<>();
  /** Ordered only: each user's deliveries held in memory, oldest first; the head is ready, in flight or settling. */
  private final Map<String, ArrayDeque<Delivery>> lanes = new HashMap<>();
  /** Ordered only: rows in the retry store per user (counted from the start of a park, so no newer event slips by). */
  private final Map<String, Integer> parkedPerUser = new HashMap<>();
  /** Ordered only: users with a park under way (their row may not be in the store yet), by number of parks. */
  private final Map<String, Integer> parksUnderWay = new HashMap<>();
  /** Ordered only: users whose count changed while a resync's query was out; that resync never lowers them. */
  private final Set<String> changedDuringResync = new HashSet<>();
  /** Ordered only: completes once the counts reflect the store as read after the last partition assignment. */
  private Future<Void> parkedInSync = Future.succeededFuture();
  /** Ordered only: the resync whose query is out, if any. */
  private Future<Void> resyncInFlight;
  private long lastResyncNanos;
  /** Retry rows this worker holds, so that a re-claim after an expired lease does not double them. */
  private final Set<Long> claimedRows = new HashSet<>();
  private int inFlightRequests;
  private int inFlightDeliveries;
  private long wakeTimer = -1;
  private long pollTimer = -1;
  private boolean polling;
  /** Ordered only: a user's parked row left the store while a poll was out, so their next row may be due at once. */
  private boolean pollAgain;
  private boolean stopped;

  /** Built on the delivery verticle's context, which it keeps. */
  DestinationWorker(Vertx vertx, Destination destination, Sender sender, DeliveryStore store, MeterRegistry registry,
      Clock clock, long retryPollMs) {
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    this.destination = destination;
    this.policy = destination.config().policy();
    this.sender = sender;
    this.store = store;
    this.clock = clock;
    this.retryPollMs = retryPollMs;
    // Opening parks what waits in memory; half-opening and closing look for due deliveries at once.
    this.circuit = new DestinationCircuit(destination.id(), policy.circuit(), vertx, context, this::spillReady,
        this::pollRetries, this::pollRetries);
    this.rateLimit = new TokenBucket(policy.rateLimitPerSecond(), System::nanoTime);
    this.metrics = new DeliveryMetrics(registry, destination.id(), () -> inFlightDeliveries, ready::size,
        () -> circuit.state().ordinal(), circuit::failureRate, circuit::slowCallRate);
  }

  String id() {
    return destination.id();
  }

  Destination destination() {
    return destination;
  }

  DeliveryMetrics metrics() {
    return metrics;
  }

  /** Loads the users with parked rows (ordered destinations) and starts polling the retry store. */
  Future<Void> start() {
    return resyncParked().onSuccess(v -> pollTimer = vertx.setPeriodic(retryPollMs, t -> {
      boolean resyncDue = System.nanoTime() - lastResyncNanos > RESYNC_PARKED_MS * 1_000_000;
      if (policy.ordered() && resyncInFlight == null && resyncDue) {
        resyncParked().onFailure(e -> LOG.debug("delivery to {}: could not read parked users: {}", id(),
            e.getMessage()));
      }
      pollRetries();
    }));
  }

  /**
   * The feed was given partitions: their previous owner, another node perhaps, may have parked rows of their users,
   * which this worker has not counted. Their records wait for {@link #parkedInSync()} so that no user's newer event
   * overtakes a parked one.
   */
  void partitionsAssigned() {
    if (policy.ordered()) {
      parkedInSync = durably(this::resyncParked, "reading the parked users");
    }
  }

  /** Completes once the parked counts include every row parked before the last partition assignment. */
  Future<Void> parkedInSync() {
    return parkedInSync;
  }

  /**
   * Ordered only: sets each user's count of parked rows to the store's. Other nodes change the store: a partition's
   * previous owner parked rows this worker never counted, and any node's poller delivers rows whose user this worker
   * counts, whose events would otherwise go through the store for good. A user with a park under way, or whose count
   * changed while the query was out, is never lowered by it: its row may be missing from what was read.
   */
  private Future<Void> resyncParked() {
    if (!policy.ordered()) {
      return Future.succeededFuture();
    }
    if (resyncInFlight != null) {
      return resyncInFlight.transform(ar -> resyncParked()); // the caller needs a read sent after its call
    }
    changedDuringResync.clear();
    lastResyncNanos = System.nanoTime();
    resyncInFlight = store.parkedUsers(id()).<Void>map(stored -> {
      parkedPerUser.keySet().removeIf(user -> !stored.containsKey(user) && !mayBeUnread(user));
      stored.forEach((user, rows) -> parkedPerUser.merge(user, rows,
          (counted, read) -> mayBeUnread(user) ? Math.max(counted, read) : read));
      return null;
    }).andThen(ar -> {
      changedDuringResync.clear();
      resyncInFlight = null;
    });
    return resyncInFlight;
  }

  private boolean mayBeUnread(String user) {
    return parksUnderWay.containsKey(user) || changedDuringResync.contains(user);
  }

  private void countParked(String user, int change) {
    if (change > 0) {
      parkedPerUser.merge(user, change, Integer::sum);
    } else {
      parkedPerUser.computeIfPresent(user, (k, n) -> n > 1 ? n - 1 : null);
    }
    if (resyncInFlight != null) {
      changedDuringResync.add(user);
    }
  }

  Future<Void> stop() {
    stopped = true;
    vertx.cancelTimer(pollTimer);
    vertx.cancelTimer(wakeTimer);
    circuit.close();
    return sender.close();
  }

  /** Takes a delivery read from the log; the future completes once it is delivered, parked or a dead letter. */
  Future<Void> submit(Delivery d) {
    if (stopped) {
      return Future.failedFuture("delivery to " + id() + " is stopping");
    }
    if (policy.ordered()) {
      ArrayDeque<Delivery> lane = lanes.computeIfAbsent(d.userKey, k -> new ArrayDeque<>());
      lane.add(d);
      if (lane.size() == 1) {
        startHead(d);
      }
    } else {
      startHead(d);
    }
    return d.settled.future();
  }

  /** A delivery whose payload could not be built: a dead letter at once. */
  Future<Void> deadLetterNow(Delivery d, String error) {
    d.recordFailure(0, error);
    metrics.failure("permanent");
    return deadLetter(d);
  }

  /** A delivery at the head of its lane (or any delivery, unordered): send it, or park it. */
  private void startHead(Delivery d) {
    if (policy.ordered() && d.retryId == null && parkedPerUser.getOrDefault(d.userKey, 0) > 0) {
      park(d, 0, "waits behind an earlier event of user " + d.userKey);
    } else if (circuit.state() == DestinationCircuit.State.OPEN) {
      parkWhileOpen(d);
    } else {
      d.readyAtNanos = System.nanoTime();
      ready.add(d);
      dispatch();
    }
  }

  /** Starts requests while there are ready deliveries, free slots and rate budget. */
  private void dispatch() {
    while (!stopped && !ready.isEmpty() && inFlightRequests < policy.maxInFlight()) {
      int batchSize = Math.min(sender.maxBatch(), ready.size());
      if (batchSize < sender.maxBatch()) {
        long waitedMs = (System.nanoTime() - ready.peek().readyAtNanos) / 1_000_000;
        if (waitedMs < sender.batchMaxMs()) {
          wakeIn(sender.batchMaxMs() - waitedMs);
          return;
        }
      }
      long rateWaitMs = rateLimit.tryTake(batchSize);
      if (rateWaitMs > 0) {
        wakeIn(rateWaitMs);
        return;
      }
      List<Delivery> batch = new ArrayList<>(batchSize);
      for (int i = 0; i < batchSize; i++) {
        batch.add(ready.poll());
      }
      attempt(batch);
    }
  }

  private void wakeIn(long ms) {
    if (wakeTimer == -1) {
      wakeTimer = vertx.setTimer(Math.max(1, ms), t -> {
        wakeTimer = -1;
        dispatch();
      });
    }
  }

  private void attempt(List<Delivery> batch) {
    DestinationCircuit.Call call = circuit.tryAcquire();
    if (call == null) {
      // Open, or half-open with this round's trials out: the batch waits for the circuit, without an attempt.
      metrics.notPermitted(batch.size());
      batch.forEach(this::parkWhileOpen);
      return;
    }
    inFlightRequests++;
    inFlightDeliveries += batch.size();
    Instant now = clock.instant();
    batch.forEach(d -> d.recordAttempt(now));
    metrics.attempts(batch.size());
    send(batch).onComplete(result -> {
      circuit.record(call, result.cause());
      inFlightRequests--;
      inFlightDeliveries -= batch.size();
      batch.forEach(d -> settle(d, result));
      dispatch();
    });
  }

  private Future<Void> send(List<Delivery> batch) {
    try {
      return sender.send(batch);
    } catch (RuntimeException e) {
      return Future.failedFuture(e); // a sender's bug fails its call, and only that
    }
  }

  private void settle(Delivery d, AsyncResult<Void> result) {
    if (result.succeeded()) {
      metrics.success(d.receivedAt == null ? null : Duration.between(d.receivedAt, clock.instant()));
      if (d.retryId == null) {
        finish(d);
      } else {
        durably(() -> store.delete(d.retryId), "removing a delivered retry of " + d.messageId)
            .onComplete(ar -> forgetRow(d, true));
      }
      return;
    }
    Throwable error = result.cause();
    if (error instanceof PermanentDeliveryException permanent) {
      d.recordFailure(permanent.status(), permanent.getMessage());
      metrics.failure("permanent");
      deadLetter(d);
    } else {
      RetryableDeliveryException retryable = error instanceof RetryableDeliveryException r ? r
          : new RetryableDeliveryException(String.valueOf(error.getMessage()), 0, -1);
      d.recordFailure(retryable.status(), retryable.getMessage());
      metrics.failure("retryable");
      Backoff.Decision next = Backoff.afterFailure(policy, d.attempts, d.createdAt, clock.instant(),
          retryable.retryAfterMs(), ThreadLocalRandom.current().nextDouble());
      if (next.deadLetter()) {
        d.recordFailure(d.lastStatus, d.lastError + "; " + next.reason());
        deadLetter(d);
      } else {
        metrics.retry();
        park(d, next.delayMs(), d.lastError);
      }
    }
  }

  /** Parks in the retry store, then settles; a claimed row keeps its place in its user's order. */
  private void park(Delivery d, long delayMs, String why) {
    boolean counts = policy.ordered() && d.retryId == null && d.userKey != null;
    if (counts) {
      countParked(d.userKey, 1);
      parksUnderWay.merge(d.userKey, 1, Integer::sum);
    }
    LOG.debug("delivery of {} to {} parked for {} ms: {}", d.messageId, id(), delayMs, why);
    durably(() -> store.park(d, delayMs), "parking " + d.messageId).onComplete(ar -> {
      if (counts) {
        parksUnderWay.computeIfPresent(d.userKey, (k, n) -> n > 1 ? n - 1 : null);
      }
      if (counts && !(ar.succeeded() && ar.result())) {
        // already parked (a record read twice) or never parked (stopping): it does not add a row
        decrementParked(d.userKey);
      }
      afterStore(d, ar, false);
    });
  }

  private Future<Void> deadLetter(Delivery d) {
    LOG.warn("delivery of {} to {} is a dead letter after {} attempts: {}", d.messageId, id(), d.attempts,
        d.lastError);
    return durably(() -> store.deadLetter(d), "storing the dead letter of " + d.messageId).andThen(ar -> {
      if (ar.succeeded()) {
        metrics.deadLetter();
      }
      afterStore(d, ar, true);
    });
  }

  /**
   * After parking or dead-lettering: a delivery from the log is settled (or, when the store failed because the
   * worker is stopping, left unsettled so its offset is not committed); a retry row is released.
   *
   * @param rowGone whether a retry row left the store (a dead letter) rather than staying in it (parked again)
   */
  private void afterStore(Delivery d, AsyncResult<?> stored, boolean rowGone) {
    if (d.retryId != null) {
      forgetRow(d, rowGone);
      return;
    }
    if (stored.succeeded()) {
      d.settled.tryComplete();
    } else {
      d.settled.tryFail(stored.cause());
    }
    advanceLane(d);
  }

  /** A delivery from the log was delivered: its offset may go, and its lane moves on. */
  private void finish(Delivery d) {
    d.settled.tryComplete();
    advanceLane(d);
  }

  /** A retry row is done with for now: delivered or dead ({@code gone}), or parked again. */
  private void forgetRow(Delivery d, boolean gone) {
    claimedRows.remove(d.retryId);
    if (!gone && policy.ordered()) {
      releaseRunBehind(d);
    }
    if (gone && policy.ordered()) {
      decrementParked(d.userKey);
      // The user's next parked row is due now: claim it without waiting for the next tick, so that a user whose
      // events queued behind one failure drains at the destination's pace, not at one event per retryPollMs.
      if (parkedPerUser.containsKey(d.userKey)) {
        if (polling) {
          pollAgain = true;
        } else {
          context.runOnContext(v -> pollRetries());
        }
      }
    }
    advanceLane(d);
  }

  /**
   * Ordered only: a claimed row went back to the store (parked again), so the rows of its user claimed behind it in
   * the same run must wait behind it again, in the store, rather than go out ahead of it.
   */
  private void releaseRunBehind(Delivery head) {
    ArrayDeque<Delivery> lane = lanes.get(head.userKey);
    if (lane == null || lane.peek() != head) {
      return;
    }
    List<Long> released = new ArrayList<>();
    for (Iterator<Delivery> behind = lane.iterator(); behind.hasNext(); ) {
      Delivery next = behind.next();
      if (next != head && next.retryId != null) {
        behind.remove();
        claimedRows.remove(next.retryId);
        released.add(next.retryId);
      }
    }
    if (!released.isEmpty()) {
      store.release(released).onFailure(e -> LOG.debug("delivery to {}: could not release {} claims (they lapse with"
          + " their lease): {}", id(), released.size(), e.getMessage()));
    }
  }

  private void advanceLane(Delivery d) {
    if (policy.ordered()) {
      ArrayDeque<Delivery> lane = lanes.get(d.userKey);
      if (lane != null && lane.peek() == d) {
        lane.poll();
        if (lane.isEmpty()) {
          lanes.remove(d.userKey);
        } else {
          startHead(lane.peek());
        }
      }
    }
    dispatch();
  }

  private void decrementParked(String user) {
    countParked(user, -1);
  }

  /** The circuit just opened: what waits in memory is parked rather than held until the circuit closes. */
  private void spillReady() {
    List<Delivery> waiting = new ArrayList<>(ready);
    ready.clear();
    waiting.forEach(this::parkWhileOpen);
  }

  /** The circuit is open: park without an attempt until it may close, unless the retry deadline has passed. */
  private void parkWhileOpen(Delivery d) {
    metrics.failure("circuit_open");
    if (clock.instant().isAfter(d.createdAt.plusMillis(policy.retryDeadlineMs()))) {
      d.recordFailure(d.lastStatus, (d.lastError == null ? "" : d.lastError + "; ") + "the retry deadline of "
          + policy.retryDeadlineMs() + " ms passed while the circuit was open");
      deadLetter(d);
    } else {
      // Due at once: the circuit, not a due time, holds it back. Nothing is claimed while it is open, and once it
      // lets calls through again the backlog drains at the destination's pace, not at the pace it was parked.
      park(d, 0, "circuit open");
    }
  }

  /** Claims due rows of the retry store into the ready queue, as far as there is room. */
  private void pollRetries() {
    if (polling || stopped) {
      return;
    }
    DestinationCircuit.State state = circuit.state();
    if (state == DestinationCircuit.State.OPEN) {
      expireWhileOpen();
      return;
    }
    boolean trial = state == DestinationCircuit.State.HALF_OPEN;
    int room = trial ? policy.circuit().trialCalls() - inFlightRequests
        : Math.min(MAX_CLAIM, policy.queueSize() - ready.size() - inFlightDeliveries);
    if (room <= 0) {
      return;
    }
    polling = true;
    long leaseMs = 2L * policy.timeoutMs() + Math.max(5_000, sender.batchMaxMs());
    store.claimDue(id(), policy.ordered(), room, leaseMs, policy.ordered() ? Set.copyOf(lanes.keySet()) : Set.of(),
            trial)
        .onComplete(ar -> {
          polling = false;
          if (pollAgain) {
            pollAgain = false;
            context.runOnContext(v -> pollRetries());
          }
          if (ar.failed()) {
            LOG.warn("could not read the retry store of {}: {}", id(), ar.cause().getMessage());
            return;
          }
          Set<String> usersClaimed = new HashSet<>(); // an ordered user's rows come oldest first, head then run
          for (Delivery d : ar.result()) {
            if (stopped || !claimedRows.add(d.retryId)) {
              continue;
            }
            if (policy.ordered()) {
              ArrayDeque<Delivery> lane = lanes.get(d.userKey);
              if (lane != null && !usersClaimed.contains(d.userKey)) {
                claimedRows.remove(d.retryId); // a newer event of that user arrived meanwhile; the row waits
                continue;
              }
              usersClaimed.add(d.userKey);
              if (lane != null) {
                lane.add(d); // behind the user's head from this claim
                continue;
              }
              lanes.computeIfAbsent(d.userKey, k -> new ArrayDeque<>()).add(d);
            }
            startHead(d);
          }
          if (ar.result().size() == room && !stopped) {
            context.runOnContext(v -> pollRetries()); // more are due: keep draining
          }
        });
  }

  /** Nothing is attempted while the circuit is open, so parked rows past the deadline become dead letters here. */
  private void expireWhileOpen() {
    polling = true;
    store.expire(id(), policy.retryDeadlineMs()).onComplete(ar -> {
      polling = false;
      if (ar.failed()) {
        LOG.warn("could not expire the retry store of {}: {}", id(), ar.cause().getMessage());
        return;
      }
      for (String user : ar.result()) {
        metrics.deadLetter();
        if (policy.ordered() && user != null) {
          decrementParked(user);
        }
      }
      if (!ar.result().isEmpty()) {
        LOG.warn("{} deliveries to {} are dead letters: the retry deadline passed while the circuit was open",
            ar.result().size(), id());
      }
    });
  }

  /** A store operation retried with backoff until it succeeds: what it records must not be lost. */
  private <T> Future<T> durably(Supplier<Future<T>> operation, String what) {
    return durably(operation, what, 1);
  }

  private <T> Future<T> durably(Supplier<Future<T>> operation, String what, int attempt) {
    return operation.get().recover(error -> {
      if (stopped) {
        return Future.failedFuture(error);
      }
      long delay = Math.min(STORE_RETRY_MAX_MS, STORE_RETRY_BASE_MS << Math.min(attempt - 1, 16));
      LOG.warn("delivery to {}: Postgres failed {} (attempt {}): {}; retrying in {} ms", id(), what, attempt,
          error.getMessage(), delay);
      return vertx.timer(delay).compose(t -> durably(operation, what, attempt + 1));
    });
  }



  /** The in-memory picture, for tests and logs. */
  @Override
  public String toString() {
    return "DestinationWorker[" + id() + ", ready=" + ready.size() + ", inFlight=" + inFlightDeliveries
        + ", lanes=" + lanes.size() + ", parkedUsers=" + parkedPerUser.size() + ", circuit=" + circuit.state() + "]";
  }

  DestinationConfig config() {
    return destination.config();
  }
}
