package eventrouter.config;

import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.Set;

/**
 * One destination from {@code conf/destinations.json}, checked: which streams it takes, its CEL filter and payload
 * (compiled later, by {@code eventrouter.delivery}), its delivery policy and the settings of its type.
 *
 * @param filter a CEL expression over {@code event}; null takes every event
 * @param payload null (the event as it is), a CEL expression (String) or a mapping of field to CEL expression
 *     ({@link JsonObject})
 * @param webhook non-null for {@link Type#WEBHOOK}
 * @param kafka non-null for {@link Type#KAFKA}
 */
public record DestinationConfig(String id, Type type, boolean enabled, Set<Stream> streams, String filter,
    Object payload, DeliveryPolicy policy, Webhook webhook, Kafka kafka) {

  public enum Type {
    WEBHOOK, KAFKA, WEBSOCKET;

    public String wireName() {
      return name().toLowerCase();
    }
  }

  /** The log topics delivery reads: {@code kafka.topic} (events) and {@code kafka.signalsTopic} (signals). */
  public enum Stream {
    EVENTS, SIGNALS;

    public String wireName() {
      return name().toLowerCase();
    }
  }

  /**
   * How one destination is delivered to. Each value falls back to the {@code delivery.*} key of the same name.
   *
   * @param rateLimitPerSecond most events per second sent to the destination; 0 is no limit
   * @param ordered one user's events go out in order, one at a time for that user
   */
  public record DeliveryPolicy(int timeoutMs, int maxInFlight, int maxAttempts, long retryDeadlineMs,
      int backoffBaseMs, int backoffMaxMs, double jitter, double rateLimitPerSecond, boolean ordered, int queueSize,
      CircuitPolicy circuit) {
  }

  /**
   * When a destination's circuit opens, and how it closes again. Each value falls back to the {@code delivery.circuit*}
   * key of the same name.
   *
   * @param failureRate percentage of failed calls, or of slow calls, that opens the circuit
   * @param minCalls calls the window must hold before the rate counts
   * @param windowCalls the sliding window the rate is taken over: the last this many calls
   * @param slowCallMs a call longer than this is slow
   * @param openMs the first wait of an open circuit before its trial calls; doubled after each failed round of trials
   * @param openMaxMs the longest wait
   * @param trialCalls trial calls let through while half-open
   */
  public record CircuitPolicy(int failureRate, int minCalls, int windowCalls, int slowCallMs, int openMs, int openMaxMs,
      int trialCalls) {
  }

  /**
   * @param batchMaxEvents events per request; 1 sends each event alone
   * @param batchMaxMs longest an event waits for a batch to fill
   */
  public record Webhook(String url, String secret, Map<String, String> headers, int batchMaxEvents, int batchMaxMs) {
    @Override
    public String toString() {
      return "Webhook[url=" + url + ", batchMaxEvents=" + batchMaxEvents + ", batchMaxMs=" + batchMaxMs + "]";
    }
  }

  /** @param bootstrap the cluster to produce to: the router's own when null */
  public record Kafka(String bootstrap, String topic) {
  }

  public boolean takes(Stream stream) {
    return streams.contains(stream);
  }
}
