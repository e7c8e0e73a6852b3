package eventrouter.ingest;

import eventrouter.log.LogRecord;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.ToIntFunction;
import java.util.stream.Stream;

/**
 * The HTTP ingest hot path in process: parse, validate, normalise and serialise Segment {@code track} events of about
 * 600 bytes, alone and in batches of 100, through the router's code and through the code it replaced
 * ({@link LegacyIngest}), in the same JVM and in alternating rounds, so that both see the same machine.
 *
 * <p>Each run is reported as events per second of this process's CPU time (every thread: the benchmark's, the
 * garbage collector's and the JIT's), which other work on a shared machine disturbs far less than the wall clock,
 * and as events per second of wall-clock time.
 *
 * <p>Not a test, and not run by the suite:
 * <pre>mvn -B -q -o test-compile
 * java -cp target/classes:target/test-classes:$(cat cp.txt) eventrouter.ingest.NormalizeBench [rounds] [secondsPerRun] [shape]</pre>
 * where {@code cp.txt} holds the test classpath ({@code mvn dependency:build-classpath -Dmdep.outputFile=cp.txt
 * -Dmdep.includeScope=test}) and {@code shape}, if given, runs only the shapes whose name contains it.
 */
public final class NormalizeBench {
  private static final Instant RECEIVED_AT = Instant.parse("2026-11-24T12:00:05.250Z");
  private static final String IP = "203.0.113.7";
  private static final int BODIES = 64;
  private static final com.sun.management.OperatingSystemMXBean PROCESS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  private NormalizeBench() {
  }

  /** One way of handling a request body; returns the bytes written, so that nothing is optimised away. */
  private record Path(String name, ToIntFunction<byte[]> run) {
  }

  private record Shape(String name, int eventsPerBody, byte[][] bodies, Path legacy, Path current) {
  }

  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    double seconds = args.length > 1 ? Double.parseDouble(args[1]) : 2;
    Random random = new Random(7);
    String only = args.length > 2 ? args[2] : "";
    List<Shape> shapes = Stream.of(
        shape("single /v1/track", 1, random, false),
        shape("batch of 100 /v1/batch", 100, random, false),
        shape("batch of 100 with a batch context (bench.sh's shape)", 100, random, true),
        basicAuth())
        .filter(shape -> shape.name().contains(only)).toList();
    for (Shape shape : shapes) {
      System.out.printf("%s: %d bytes per body%n", shape.name(), shape.bodies()[0].length);
    }

    System.out.println("warming up ...");
    for (int i = 0; i < 3; i++) {
      for (Shape shape : shapes) {
        measure(shape.legacy(), shape, 1.5);
        measure(shape.current(), shape, 1.5);
      }
    }
    // [shape][legacy, current][cpu, wall][round]
    double[][][][] results = new double[shapes.size()][2][2][rounds];
    for (int round = 0; round < rounds; round++) {
      for (int s = 0; s < shapes.size(); s++) {
        Shape shape = shapes.get(s);
        // Alternate which one goes first, so that neither always follows the other's garbage.
        boolean legacyFirst = round % 2 == 0;
        double[] first = measure(legacyFirst ? shape.legacy() : shape.current(), shape, seconds);
        double[] second = measure(legacyFirst ? shape.current() : shape.legacy(), shape, seconds);
        double[] legacy = legacyFirst ? first : second;
        double[] current = legacyFirst ? second : first;
        for (int m = 0; m < 2; m++) {
          results[s][0][m][round] = legacy[m];
          results[s][1][m][round] = current[m];
        }
        System.out.printf("round %d  %-55s legacy %,9.0f / %,9.0f   current %,9.0f / %,9.0f  events per CPU s / wall s%n",
            round + 1, shape.name(), legacy[0], legacy[1], current[0], current[1]);
      }
    }
    for (int m = 0; m < 2; m++) {
      System.out.println();
      System.out.printf("%-55s %28s %28s %8s%n", "events per " + (m == 0 ? "CPU" : "wall-clock") + " second, median of "
          + rounds + " rounds (min-max)", "legacy", "current", "ratio");
      for (int s = 0; s < shapes.size(); s++) {
        double[] legacy = results[s][0][m];
        double[] current = results[s][1][m];
        double[] ratios = new double[rounds];
        for (int r = 0; r < rounds; r++) {
          ratios[r] = current[r] / legacy[r];
        }
        System.out.printf("%-55s %28s %28s %7.2fx  (median of per-round ratios %.2f, range %.2f-%.2f)%n",
            shapes.get(s).name(), summary(legacy), summary(current), median(current) / median(legacy),
            median(ratios), min(ratios), max(ratios));
      }
    }
  }

  private static Shape shape(String name, int eventsPerBody, Random random, boolean batchContext) {
    byte[][] bodies = new byte[BODIES][];
    for (int i = 0; i < BODIES; i++) {
      bodies[i] = (eventsPerBody == 1 ? event(random, true) : batch(random, eventsPerBody, batchContext))
          .getBytes(StandardCharsets.UTF_8);
    }
    boolean single = eventsPerBody == 1;
    LegacyIngest.Parser legacyParser = new LegacyIngest.Parser(2_500);
    LegacyIngest.Normalizer legacyNormalizer = new LegacyIngest.Normalizer(32_768);
    RequestParser parser = new RequestParser(2_500);
    EventNormalizer normalizer = new EventNormalizer(32_768);
    Path legacy = new Path("legacy", body -> total(legacyNormalizer.normalize(
        single ? legacyParser.parseSingle(body) : legacyParser.parseBatch(body), single ? EventType.TRACK : null,
        body, "web", RECEIVED_AT, IP)));
    Path current = new Path("current", body -> total(normalizer.normalize(
        single ? parser.parseSingle(body) : parser.parseBatch(body), single ? EventType.TRACK : null, body, "web",
        RECEIVED_AT, IP)));
    return new Shape(name, eventsPerBody, bodies, legacy, current);
  }

  /** Only the Authorization header's key (a request's worth of it), with the regular expression and without. */
  private static Shape basicAuth() {
    byte[][] headers = new byte[BODIES][];
    for (int i = 0; i < BODIES; i++) {
      headers[i] = ("Basic " + java.util.Base64.getEncoder().encodeToString(("key-" + i + ":").getBytes(
          StandardCharsets.UTF_8))).getBytes(StandardCharsets.UTF_8);
    }
    Path legacy = new Path("legacy", header -> LegacyIngest.writeKeyFromBasicAuth(
        new String(header, StandardCharsets.ISO_8859_1)).length());
    Path current = new Path("current", header -> IngestVerticle.writeKeyFromBasicAuth(
        new String(header, StandardCharsets.ISO_8859_1)).length());
    return new Shape("Basic auth header only (headers/s)", 1, headers, legacy, current);
  }

  /** @return events per second of this process's CPU time, and per second of wall-clock time */
  private static double[] measure(Path path, Shape shape, double seconds) {
    System.gc(); // each run starts with an empty young generation, and pays for its own garbage
    long deadline = System.nanoTime() + (long) (seconds * 1e9);
    long started = System.nanoTime();
    long cpuStarted = PROCESS.getProcessCpuTime();
    long events = 0;
    long sink = 0;
    int i = 0;
    while (System.nanoTime() < deadline) {
      for (int k = 0; k < 16; k++) {
        sink += path.run().applyAsInt(shape.bodies()[i++ & (BODIES - 1)]);
        events += shape.eventsPerBody();
      }
    }
    long elapsed = System.nanoTime() - started;
    long cpu = PROCESS.getProcessCpuTime() - cpuStarted;
    if (sink == 42) {
      System.out.println(); // keeps sink alive
    }
    return new double[] {events / (cpu / 1e9), events / (elapsed / 1e9)};
  }

  private static int total(List<LogRecord> records) {
    int bytes = 0;
    for (LogRecord record : records) {
      bytes += record.value().length;
    }
    return bytes;
  }

  /**
   * A track call as analytics.js sends it (about 600 bytes): ids, a messageId, the three device timestamps,
   * properties and the browser's context.
   */
  static String event(Random random, boolean withType) {
    String anonymousId = new java.util.UUID(random.nextLong(), random.nextLong()).toString();
    int second = random.nextInt(50);
    int millis = random.nextInt(1000);
    return "{" + (withType ? "\"type\":\"track\"," : "")
        + "\"event\":\"Product Added\",\"userId\":\"user-" + random.nextInt(1_000_000) + "\","
        + "\"anonymousId\":\"" + anonymousId + "\",\"messageId\":\"ajs-next-" + Long.toHexString(random.nextLong())
        + "\",\"properties\":{\"product_id\":\"p-1001\",\"sku\":\"SHOE-RUN-42\",\"name\":\"Trail running shoe\","
        + "\"category\":\"shoes\",\"price\":119.0,\"quantity\":1,\"currency\":\"USD\"},"
        + "\"context\":{\"library\":{\"name\":\"analytics.js\",\"version\":\"5.2.0\"},"
        + "\"page\":{\"path\":\"/products/p-1001\",\"url\":\"https://shop.example.com/products/p-1001\","
        + "\"referrer\":\"https://www.example.org/\"},\"locale\":\"en-US\","
        + "\"userAgent\":\"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)"
        + " Version/17.5\"},"
        + "\"originalTimestamp\":\"2026-11-24T12:00:" + two(second) + "." + three(millis) + "Z\","
        + "\"timestamp\":\"2026-11-24T12:00:" + two(second) + "." + three(millis) + "Z\","
        + "\"sentAt\":\"2026-11-24T12:00:" + two(second + 1) + "." + three(millis) + "Z\"}";
  }

  private static String batch(Random random, int size, boolean batchContext) {
    StringBuilder body = new StringBuilder(size * 700).append("{\"batch\":[");
    for (int i = 0; i < size; i++) {
      body.append(i == 0 ? "" : ",").append(event(random, true));
    }
    body.append("],\"sentAt\":\"2026-11-24T12:00:59.100Z\"");
    if (batchContext) {
      body.append(",\"context\":{\"library\":{\"name\":\"analytics.js\",\"version\":\"5.2.0\"}}");
    }
    return body.append("}").toString();
  }

  private static String two(int value) {
    return value < 10 ? "0" + value : Integer.toString(value);
  }

  private static String three(int value) {
    return String.format("%03d", value);
  }

  private static String summary(double[] values) {
    return String.format("%,.0f (%,.0f-%,.0f)", median(values), min(values), max(values));
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  private static double min(double[] values) {
    return Arrays.stream(values).min().orElse(0);
  }

  private static double max(double[] values) {
    return Arrays.stream(values).max().orElse(0);
  }
}
