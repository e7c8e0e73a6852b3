package eventrouter.realtime;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Where an event's time goes on the real-time path: the timer {@code router.realtime.stage}, tagged {@code stage}. */
final class RealtimeMetrics {
  enum Stage {
    /** The record's log timestamp (ingest's append) until this path polled it. */
    LOG,
    /** Polled until its wave started (one user's events run one wave after another). */
    QUEUE,
    /** The {@code apply_events} script of its wave: identity, session, cart, traits. */
    STATE,
    /** Evaluating the rules. */
    RULES,
    /** The {@code apply_effects} script of its wave: thresholds, timers, actions. */
    EFFECTS,
    /** Appending its signals to the signals topic until they are durable. */
    SIGNALS,
    /** The event's {@code receivedAt} until it is done: signals durable and pushed. */
    TOTAL
  }

  private final Map<Stage, Timer> timers = new EnumMap<>(Stage.class);

  RealtimeMetrics(MeterRegistry registry) {
    for (Stage stage : Stage.values()) {
      timers.put(stage, Timer.builder("router.realtime.stage").tag("stage", stage.name().toLowerCase(Locale.ROOT))
          .description("time an event spends in one stage of the real-time path")
          .publishPercentileHistogram()
          .minimumExpectedValue(Duration.ofNanos(100_000)).maximumExpectedValue(Duration.ofMinutes(10))
          .register(registry));
    }
  }

  /** A negative span (clocks of two processes, or a test's moved clock) is not a duration and is not recorded. */
  void record(Stage stage, long nanos) {
    if (nanos >= 0) {
      timers.get(stage).record(nanos, TimeUnit.NANOSECONDS);
    }
  }

  /** One span that {@code events} events shared (a wave's script call): each of them spent it. */
  void record(Stage stage, long nanos, int events) {
    for (int i = 0; i < events; i++) {
      record(stage, nanos);
    }
  }

  void recordMillis(Stage stage, long millis) {
    record(stage, TimeUnit.MILLISECONDS.toNanos(millis));
  }
}
