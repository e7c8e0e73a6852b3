package eventrouter.loadtest.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * An open-model load generator (wrk2-style): requests are scheduled at a constant rate, whatever the server does, and
 * each latency is measured from the moment the request was <em>scheduled</em>, not from when it could be sent, so a
 * stalled server shows up in the percentiles instead of slowing the load down (coordinated-omission correction).
 * The plain service time (sent → answered) is reported beside it.
 *
 * <pre>
 * java -cp ... eventrouter.loadtest.bench.RateLoad --url http://127.0.0.1:8080/v1/track --key KEY --rate 5000
 *     --seconds 20 [--connections 64] [--users 20000] [--event "Bench Event"] [--out FILE]
 *     [--mix shop --users 500 | --mix typed] [--batch 100] [--marks true]
 * </pre>
 *
 * By default every request is one {@code --event} track call from a fresh anonymous user. {@code --mix shop} sends
 * instead the {@link ShopMix} rotation over {@code --users} known users (500 unless given), each call to the
 * endpoint of its type (the last segment of {@code --url}'s path becomes {@code track}, {@code page} or
 * {@code identify}). {@code --mix typed} sends {@link TypedMix}'s 20 event names of 10 properties each over
 * {@code --users} users (5,000 unless given), for the typed tables. {@code --batch N}
 * posts {@code /v1/batch} bodies of N events of the same kind (the last path segment becomes {@code batch}); the
 * rate, the warm-up and the counts are then in events, and each request carries N of them. {@code --marks true}
 * prints {@code MARK measure-start EPOCH_MS} when the first measured request falls due and
 * {@code MARK measure-end EPOCH_MS} when the last one has been sent, for a caller that measures around the window
 * (see {@link Cost}).
 *
 * {@code --warmup S} first sends S seconds' worth at the same rate without timing them (the generator's JIT and the
 * connections warm up; their errors still count). It sends exactly rate × (warmup + seconds) requests, then waits at most 30 s for the answers, so it always stops by itself.
 * It prints one JSON object: sent, ok, errors by status, achieved rate, the first send and last answer (epoch ms),
 * and the latency percentiles in ms.
 */
public final class RateLoad {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long DRAIN_MS = 30_000;

  private final Vertx vertx;
  private final HttpClientAgent client;
  private final RequestOptions requestOptions;
  /** The path before its last segment, for the mix's per-type endpoints. */
  private final String pathPrefix;
  /** Requests per second: the event rate divided by the events per request. */
  private final double rate;
  private final double eventRate;
  private final int eventsPerRequest;
  private final ShopMix mix;
  /** {@code --mix typed}: 20 event names of 10 properties each, for the typed tables. */
  private final TypedMix typed;
  private final boolean marks;
  private final long total;
  /** Requests before this index are the generator's and the server's warm-up: sent, checked, not timed. */
  private final long warmupCount;
  private final int users;
  private final String event;
  private final long maxInFlight;
  private final Histogram corrected = new Histogram(3_600_000_000L, 3);
  private final Histogram service = new Histogram(3_600_000_000L, 3);
  private final Map<String, Long> errors = new TreeMap<>();
  private final Random random = new Random();
  private final Promise<Void> finished = Promise.promise();
  private long startNanos;
  private long sent;
  private long done;
  private long ok;
  private long measuredOk;
  private long firstSendEpochMs;
  private long lastAnswerEpochMs;
  private long measureStartEpochMs;
  private long measureEndEpochMs;

  private RateLoad(Args args) {
    URI url = URI.create(args.get("url"));
    String host = url.getHost();
    if (!host.startsWith("127.") && !host.equals("localhost") && !host.equals("[::1]") && !host.equals("::1")) {
      throw new IllegalArgumentException("--url must be on this machine (127.0.0.0/8, localhost, ::1); got " + url);
    }
    this.eventRate = args.getDouble("rate", 1000);
    this.eventsPerRequest = (int) args.getLong("batch", 1);
    if (eventsPerRequest < 1 || eventsPerRequest > 2500) {
      throw new IllegalArgumentException("--batch must be in [1, 2500] (got " + eventsPerRequest + ")");
    }
    this.rate = eventRate / eventsPerRequest;
    double seconds = args.getDouble("seconds", 10);
    if (eventRate <= 0 || eventRate > 200_000 || seconds <= 0 || seconds > 600) {
      throw new IllegalArgumentException("--rate must be in (0, 200000] and --seconds in (0, 600]");
    }
    double warmup = args.getDouble("warmup", 0);
    if (warmup < 0 || warmup > 600) {
      throw new IllegalArgumentException("--warmup must be in [0, 600] seconds");
    }
    this.warmupCount = Math.round(rate * warmup);
    this.total = warmupCount + Math.round(rate * seconds);
    String mixName = args.get("mix", "single");
    this.mix = switch (mixName) {
      case "single", "typed" -> null;
      case "shop" -> new ShopMix((int) args.getLong("users", 500));
      default -> throw new IllegalArgumentException("--mix must be single, shop or typed (got " + mixName + ")");
    };
    this.typed = mixName.equals("typed") ? new TypedMix(random, (int) args.getLong("users", 5_000)) : null;
    this.users = (int) args.getLong("users", 20_000);
    this.event = args.get("event", "Bench Event");
    this.marks = Boolean.parseBoolean(args.get("marks", "false"));
    int connections = (int) args.getLong("connections", 64);
    // Beyond a few seconds' worth of requests waiting, the server has stalled: count them as errors instead of
    // buffering without bound.
    this.maxInFlight = Math.max(1000, Math.round(rate * 5));
    this.vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1));
    this.client = vertx.createHttpClient(
        new HttpClientOptions().setKeepAlive(true).setTcpNoDelay(true).setConnectTimeout(5_000),
        new PoolOptions().setHttp1MaxSize(connections));
    String key = args.get("key");
    this.requestOptions = new RequestOptions().setMethod(HttpMethod.POST).setHost(host).setPort(url.getPort())
        .setURI(eventsPerRequest > 1 ? parent(url.getRawPath()) + "batch" : url.getRawPath())
        .setTimeout(30_000)
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .putHeader(HttpHeaders.AUTHORIZATION,
            "Basic " + Base64.getEncoder().encodeToString((key + ":").getBytes(StandardCharsets.UTF_8)));
    this.pathPrefix = parent(url.getRawPath());
  }

  /** The path up to and with its last '/'. */
  private static String parent(String path) {
    return path.substring(0, path.lastIndexOf('/') + 1);
  }

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv, 0);
    RateLoad load = new RateLoad(args);
    ObjectNode result = load.run();
    String text = JSON.writerWithDefaultPrettyPrinter().writeValueAsString(result);
    String out = args.get("out", null);
    if (out != null) {
      java.nio.file.Files.writeString(java.nio.file.Path.of(out), text);
    }
    System.out.println(text);
    System.exit(0);
  }

  private ObjectNode run() throws Exception {
    CompletableFuture<Void> completion = new CompletableFuture<>();
    vertx.runOnContext(v -> {
      startNanos = System.nanoTime();
      firstSendEpochMs = System.currentTimeMillis() + (long) (warmupCount / rate * 1000);
      // A 1 ms tick sends whatever has fallen due since the last one.
      vertx.setPeriodic(1, id -> {
        tick();
        if (sent == total) {
          vertx.cancelTimer(id);
        }
      });
      vertx.setTimer((long) (total / rate * 1000) + DRAIN_MS, id -> finished.tryComplete());
      finished.future().onComplete(done -> completion.complete(null));
    });
    completion.get((long) (total / rate) + DRAIN_MS / 1000 + 30, TimeUnit.SECONDS);
    long unanswered = sent - done;
    if (unanswered > 0) {
      errors.merge("no answer within " + DRAIN_MS / 1000 + " s after the load", unanswered, Long::sum);
    }
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    return result();
  }

  private void tick() {
    long now = System.nanoTime();
    long due = Math.min(total, (long) ((now - startNanos) / 1e9 * rate));
    while (sent < due) {
      long index = sent++;
      if (index == warmupCount) {
        measureStartEpochMs = mark("measure-start");
      }
      long scheduled = startNanos + (long) (index * 1e9 / rate);
      if (sent - done > maxInFlight) {
        answered(index, scheduled, now, "client gave up: more than " + maxInFlight + " requests in flight");
        continue;
      }
      send(index, scheduled);
    }
    if (sent == total && measureEndEpochMs == 0) {
      measureEndEpochMs = mark("measure-end");
    }
  }

  private long mark(String name) {
    long now = System.currentTimeMillis();
    if (marks) {
      System.out.println("MARK " + name + " " + now);
      System.out.flush();
    }
    return now;
  }

  private void send(long index, long scheduled) {
    Buffer body = body(index);
    long[] sentAt = new long[1];
    client.request(options(index))
        .compose(request -> {
          sentAt[0] = System.nanoTime();
          return request.send(body);
        })
        .compose(this::consume)
        .onComplete(result -> answered(index, scheduled, sentAt[0],
            result.succeeded() ? (result.result() == 200 ? null : "HTTP " + result.result())
                : result.cause().getClass().getSimpleName() + ": " + result.cause().getMessage()));
  }

  private Buffer body(long index) {
    if (typed != null) {
      return Buffer.buffer(eventsPerRequest == 1 ? typed.event() : typed.batch(eventsPerRequest));
    }
    if (mix == null && eventsPerRequest == 1) {
      return Buffer.buffer(BenchEvents.single("bench-" + random.nextInt(users), event));
    }
    long first = index * eventsPerRequest;
    if (eventsPerRequest > 1) {
      return Buffer.buffer(mix != null ? mix.batch(first, eventsPerRequest)
          : BenchEvents.batch(random, eventsPerRequest));
    }
    return Buffer.buffer(mix.event(first));
  }

  /** Single events of the mix go to their type's endpoint; everything else to {@code --url} (or its batch path). */
  private RequestOptions options(long index) {
    if (mix == null || eventsPerRequest > 1) {
      return requestOptions;
    }
    return new RequestOptions(requestOptions).setURI(pathPrefix + mix.step(index).type());
  }

  private Future<Integer> consume(HttpClientResponse response) {
    return response.end().map(v -> response.statusCode());
  }

  private void answered(long index, long scheduled, long sentNanos, String error) {
    long now = System.nanoTime();
    done++;
    lastAnswerEpochMs = System.currentTimeMillis();
    if (error == null) {
      ok++;
    }
    if (error == null && index >= warmupCount) {
      measuredOk++;
      corrected.recordValue(Math.min((now - scheduled) / 1000, corrected.getHighestTrackableValue()));
      if (sentNanos > 0) {
        service.recordValue(Math.min((now - sentNanos) / 1000, service.getHighestTrackableValue()));
      }
    } else if (error != null) {
      errors.merge(error, 1L, Long::sum);
    }
    if (done == total) {
      finished.tryComplete();
    }
  }

  private ObjectNode result() {
    ObjectNode out = JSON.createObjectNode();
    out.put("offeredRate", eventRate);
    out.put("eventsPerRequest", eventsPerRequest);
    out.put("mix", typed != null ? "typed" : mix == null ? "single" : "shop");
    out.put("sent", sent);
    out.put("warmupRequests", warmupCount);
    out.put("ok", ok);
    out.put("measuredOk", measuredOk);
    long errorCount = errors.values().stream().mapToLong(Long::longValue).sum();
    out.put("errorCount", errorCount);
    ObjectNode errorNode = out.putObject("errors");
    errors.forEach(errorNode::put);
    double seconds = Math.max(1, lastAnswerEpochMs - firstSendEpochMs) / 1000.0;
    out.put("measuredOkEvents", measuredOk * eventsPerRequest);
    out.put("achievedRate", measuredOk * eventsPerRequest / seconds);
    out.put("measureStartEpochMs", measureStartEpochMs);
    out.put("measureEndEpochMs", measureEndEpochMs);
    out.put("firstSendEpochMs", firstSendEpochMs);
    out.put("lastAnswerEpochMs", lastAnswerEpochMs);
    out.set("latencyMs", percentiles(corrected));
    out.set("serviceTimeMs", percentiles(service));
    return out;
  }

  static ObjectNode percentiles(Histogram histogram) {
    ObjectNode node = JSON.createObjectNode();
    if (histogram.getTotalCount() == 0) {
      return node;
    }
    node.put("p50", histogram.getValueAtPercentile(50) / 1000.0);
    node.put("p90", histogram.getValueAtPercentile(90) / 1000.0);
    node.put("p99", histogram.getValueAtPercentile(99) / 1000.0);
    node.put("p999", histogram.getValueAtPercentile(99.9) / 1000.0);
    node.put("max", histogram.getMaxValue() / 1000.0);
    return node;
  }
}
