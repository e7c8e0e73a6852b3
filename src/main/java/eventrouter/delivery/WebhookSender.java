package eventrouter.delivery;

import eventrouter.config.DestinationConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.PoolOptions;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * POSTs JSON to a webhook: one event as the body, or {@code {"batch":[...]}}. Every request is signed (see
 * {@link Signatures}) and carries an {@code Idempotency-Key}. Its own client and connection pool (sized to the
 * destination's max in-flight), so a slow receiver never takes connections from another destination.
 */
final class WebhookSender implements Sender {
  static final String IDEMPOTENCY_KEY = "Idempotency-Key";
  static final String DESTINATION_HEADER = "X-Router-Destination";
  static final String ATTEMPT_HEADER = "X-Router-Attempt";

  private final String destination;
  private final DestinationConfig.Webhook config;
  private final int timeoutMs;
  private final Clock clock;
  private final WebClient client;

  WebhookSender(Vertx vertx, DestinationConfig destination, Clock clock) {
    this.destination = destination.id();
    this.config = destination.webhook();
    this.timeoutMs = destination.policy().timeoutMs();
    this.clock = clock;
    this.client = WebClient.create(vertx, new WebClientOptions()
            .setConnectTimeout(timeoutMs)
            .setKeepAlive(true)
            .setIdleTimeout(60).setIdleTimeoutUnit(TimeUnit.SECONDS)
            .setUserAgent("event-router"),
        new PoolOptions().setHttp1MaxSize(destination.policy().maxInFlight()));
  }

  @Override
  public int maxBatch() {
    return config.batchMaxEvents();
  }

  @Override
  public int batchMaxMs() {
    return config.batchMaxMs();
  }

  @Override
  public Future<Void> send(List<Delivery> batch) {
    Buffer body = Buffer.buffer(batch.size() == 1 ? batch.get(0).payload
        : batch.stream().map(d -> d.payload).collect(Collectors.joining(",", "{\"batch\":[", "]}")));
    long timestamp = clock.instant().getEpochSecond();
    HttpRequest<Buffer> request = client.postAbs(config.url())
        .timeout(timeoutMs)
        .putHeader(HttpHeaders.CONTENT_TYPE.toString(), "application/json")
        .putHeader(IDEMPOTENCY_KEY, idempotencyKey(batch))
        .putHeader(DESTINATION_HEADER, destination)
        .putHeader(ATTEMPT_HEADER, String.valueOf(batch.stream().mapToInt(d -> d.attempts).max().orElse(1)))
        .putHeader(Signatures.TIMESTAMP_HEADER, String.valueOf(timestamp))
        .putHeader(Signatures.SIGNATURE_HEADER, Signatures.sign(config.secret(), timestamp, body.getBytes()));
    config.headers().forEach(request::putHeader);
    return request.sendBuffer(body)
        // The request's own timeout covers the exchange; this one also bounds a connect that never completes.
        .timeout(timeoutMs + 50L, TimeUnit.MILLISECONDS)
        .recover(error -> Future.failedFuture(new RetryableDeliveryException("no response from " + config.url()
            + " within " + timeoutMs + " ms: " + error.getMessage(), 0, -1)))
        .compose(this::classify);
  }

  /** 2xx delivers; 408, 429 and 5xx are worth retrying (429 and 503 with their Retry-After); any other is final. */
  private Future<Void> classify(HttpResponse<Buffer> response) {
    int status = response.statusCode();
    if (status >= 200 && status < 300) {
      return Future.succeededFuture();
    }
    String what = config.url() + " answered " + status + excerpt(response.bodyAsString());
    if (status == 408 || status == 429 || status >= 500) {
      return Future.failedFuture(new RetryableDeliveryException(what, status,
          retryAfterMs(response.getHeader("Retry-After"))));
    }
    return Future.failedFuture(new PermanentDeliveryException(what, status));
  }

  /** One event: its own key. A batch: a key derived from its members' keys, so a retried batch keeps it. */
  static String idempotencyKey(List<Delivery> batch) {
    if (batch.size() == 1) {
      return batch.get(0).idempotencyKey();
    }
    String joined = batch.stream().map(Delivery::idempotencyKey).collect(Collectors.joining(","));
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(joined.getBytes(StandardCharsets.UTF_8));
      return "batch:" + HexFormat.of().formatHex(digest, 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JRE", e);
    }
  }

  /** Retry-After as seconds or as an HTTP date; -1 when absent or unreadable. */
  long retryAfterMs(String header) {
    if (header == null || header.isBlank()) {
      return -1;
    }
    try {
      return Math.max(0, Long.parseLong(header.trim()) * 1000);
    } catch (NumberFormatException notSeconds) {
      try {
        ZonedDateTime at = ZonedDateTime.parse(header.trim(), DateTimeFormatter.RFC_1123_DATE_TIME);
        return Math.max(0, Duration.between(clock.instant(), at.toInstant()).toMillis());
      } catch (DateTimeParseException notADate) {
        return -1;
      }
    }
  }

  private static String excerpt(String body) {
    if (body == null || body.isBlank()) {
      return "";
    }
    return ": " + (body.length() > 200 ? body.substring(0, 200) + "…" : body);
  }

  @Override
  public Future<Void> close() {
    client.close();
    return Future.succeededFuture();
  }
}
