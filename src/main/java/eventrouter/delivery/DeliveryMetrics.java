package eventrouter.delivery;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * One destination's meters, tagged {@code destination=<id>}: {@code router.delivery.attempts}, {@code .successes},
 * {@code .failures} (tag {@code class}: retryable, permanent, circuit_open), {@code .retries} (parked for another
 * attempt), {@code .dead_letters}, {@code .filter_errors}, the gauges {@code .in_flight}, {@code .queued} and
 * {@code .circuit_state} (0 closed, 1 half-open, 2 open), {@code .circuit_failure_rate} and
 * {@code .circuit_slow_call_rate} (percent of the window's calls), the counter {@code .circuit_not_permitted}, and the
 * timer {@code router.delivery.latency} from the event's {@code receivedAt} to its delivery.
 */
final class DeliveryMetrics {
  static final String PREFIX = "router.delivery.";

  private final MeterRegistry registry;
  private final Tags tags;
  private final Counter attempts;
  private final Counter successes;
  private final Counter retries;
  private final Counter deadLetters;
  private final Counter filterErrors;
  private final Counter notPermitted;
  private final Timer latency;
  private final ConcurrentHashMap<String, Counter> failures = new ConcurrentHashMap<>();

  DeliveryMetrics(MeterRegistry registry, String destination, Supplier<Number> inFlight, Supplier<Number> queued,
      Supplier<Number> circuitState, Supplier<Number> failureRate, Supplier<Number> slowCallRate) {
    this.registry = registry;
    this.tags = Tags.of("destination", destination);
    this.attempts = registry.counter(PREFIX + "attempts", tags);
    this.successes = registry.counter(PREFIX + "successes", tags);
    this.retries = registry.counter(PREFIX + "retries", tags);
    this.deadLetters = registry.counter(PREFIX + "dead_letters", tags);
    this.filterErrors = registry.counter(PREFIX + "filter_errors", tags);
    this.latency = Timer.builder(PREFIX + "latency").tags(tags)
        .description("from the event's receivedAt to its delivery")
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofHours(3))
        .register(registry);
    Gauge.builder(PREFIX + "in_flight", inFlight).tags(tags).register(registry);
    Gauge.builder(PREFIX + "queued", queued).tags(tags).register(registry);
    Gauge.builder(PREFIX + "circuit_state", circuitState).tags(tags).register(registry);
    Gauge.builder(PREFIX + "circuit_failure_rate", failureRate).tags(tags)
        .description("failed calls in the circuit's window, in percent; -1 until it holds circuitMinCalls")
        .register(registry);
    Gauge.builder(PREFIX + "circuit_slow_call_rate", slowCallRate).tags(tags)
        .description("slow calls in the circuit's window, in percent; -1 until it holds circuitMinCalls")
        .register(registry);
    this.notPermitted = registry.counter(PREFIX + "circuit_not_permitted", tags);
  }

  /** Deliveries the circuit did not let through (open, or half-open with its trials out): parked instead. */
  void notPermitted(int deliveries) {
    notPermitted.increment(deliveries);
  }

  void attempts(int n) {
    attempts.increment(n);
  }

  void success(Duration sinceReceived) {
    successes.increment();
    if (sinceReceived != null && !sinceReceived.isNegative()) {
      latency.record(sinceReceived);
    }
  }

  /** @param failureClass retryable, permanent or circuit_open */
  void failure(String failureClass) {
    failures.computeIfAbsent(failureClass, c -> registry.counter(PREFIX + "failures", tags.and("class", c)))
        .increment();
  }

  void retry() {
    retries.increment();
  }

  void deadLetter() {
    deadLetters.increment();
  }

  void filterError() {
    filterErrors.increment();
  }
}
