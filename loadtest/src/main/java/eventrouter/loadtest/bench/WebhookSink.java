package eventrouter.loadtest.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import org.HdrHistogram.Histogram;

/**
 * A webhook destination that times deliveries: for every event it receives it records its arrival time minus the
 * event's {@code receivedAt} (the router's clock when ingest took it; same machine, same clock), in a histogram.
 * A body may be one event, an array of events, or an object holding them under {@code batch}, {@code events} or
 * {@code data}; an event may also be wrapped under {@code event} or {@code payload}. It answers 200 at once.
 *
 * <ul>
 *   <li>{@code GET /stats}: {@code {"requests":..,"events":..,"withoutReceivedAt":..,"p50Ms":..,"p99Ms":..,
 *       "p999Ms":..,"maxMs":..}}</li>
 *   <li>{@code POST /reset}: clears the histogram and the counters</li>
 *   <li>anything else that is a POST: a delivery</li>
 * </ul>
 *
 * <pre>java -cp ... eventrouter.loadtest.bench.WebhookSink --port 18090</pre>
 */
public final class WebhookSink extends VerticleBase {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private final int port;
  private final Histogram micros = new Histogram(3_600_000_000L, 3);
  private long requests;
  private long withoutReceivedAt;

  WebhookSink(int port) {
    this.port = port;
  }

  public static void main(String[] argv) {
    Args args = new Args(argv, 0);
    int port = (int) args.getLong("port", 18090);
    Vertx vertx = Vertx.vertx();
    // One instance: the histogram is touched by its event loop only.
    vertx.deployVerticle(new WebhookSink(port))
        .onSuccess(id -> System.out.println("webhook sink listening on 127.0.0.1:" + port))
        .onFailure(error -> {
          System.err.println("webhook sink failed to start: " + error.getMessage());
          System.exit(1);
        });
  }

  @Override
  public Future<?> start() {
    return vertx.createHttpServer(new HttpServerOptions().setHost("127.0.0.1").setPort(port)
            .setDecompressionSupported(true).setTcpNoDelay(true))
        .requestHandler(this::handle)
        .listen();
  }

  private void handle(HttpServerRequest request) {
    if (request.method() == HttpMethod.GET && request.path().equals("/stats")) {
      request.response().putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(stats().toString());
      return;
    }
    if (request.method() == HttpMethod.POST && request.path().equals("/reset")) {
      micros.reset();
      requests = 0;
      withoutReceivedAt = 0;
      request.response().end("{\"reset\":true}");
      return;
    }
    request.body().onSuccess(body -> {
      long arrivedMicros = toMicros(Instant.now());
      requests++;
      try {
        record(MAPPER.readTree(body.getBytes()), arrivedMicros);
      } catch (IOException e) {
        withoutReceivedAt++;
      }
      request.response().setStatusCode(200).end();
    });
  }

  private void record(JsonNode node, long arrivedMicros) {
    if (node == null) {
      return;
    }
    if (node.isArray()) {
      node.forEach(item -> record(item, arrivedMicros));
      return;
    }
    for (String holder : new String[] {"batch", "events", "data"}) {
      if (node.path(holder).isArray()) {
        record(node.get(holder), arrivedMicros);
        return;
      }
    }
    JsonNode event = node.has("receivedAt") ? node
        : node.path("event").has("receivedAt") ? node.get("event")
        : node.path("payload").has("receivedAt") ? node.get("payload")
        : null;
    if (event == null) {
      withoutReceivedAt++;
      return;
    }
    try {
      long received = toMicros(Instant.parse(event.get("receivedAt").asText()));
      micros.recordValue(Math.max(0, Math.min(arrivedMicros - received, micros.getHighestTrackableValue())));
    } catch (DateTimeParseException e) {
      withoutReceivedAt++;
    }
  }

  private ObjectNode stats() {
    ObjectNode out = MAPPER.createObjectNode();
    out.put("requests", requests);
    out.put("events", micros.getTotalCount());
    out.put("withoutReceivedAt", withoutReceivedAt);
    if (micros.getTotalCount() > 0) {
      out.put("p50Ms", micros.getValueAtPercentile(50) / 1000.0);
      out.put("p99Ms", micros.getValueAtPercentile(99) / 1000.0);
      out.put("p999Ms", micros.getValueAtPercentile(99.9) / 1000.0);
      out.put("maxMs", micros.getMaxValue() / 1000.0);
    }
    return out;
  }

  private static long toMicros(Instant instant) {
    return instant.getEpochSecond() * 1_000_000L + instant.getNano() / 1_000;
  }
}
