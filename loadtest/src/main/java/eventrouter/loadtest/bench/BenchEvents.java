package eventrouter.loadtest.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The bodies every benchmark load sends, to the baseline and to the router alike: a track call of about 600 bytes as
 * a browser SDK sends it, and batches of such calls. They carry no messageId, so the router makes each one unique,
 * and they spread over many users, so that the router's Kafka keys spread over its partitions.
 *
 * <pre>java -cp ... eventrouter.loadtest.bench.BenchEvents --mode single|batch --count N --batch 100 --out FILE</pre>
 * writes one body per line, which {@code bench.lua} (wrk) reads.
 */
public final class BenchEvents {
  private BenchEvents() {
  }

  public static void main(String[] argv) throws IOException {
    Args args = new Args(argv, 0);
    String mode = args.get("mode");
    int count = (int) args.getLong("count", 1000);
    int batch = (int) args.getLong("batch", 100);
    Random random = new Random(42);
    List<String> lines = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      lines.add(switch (mode) {
        case "single" -> single("anon-" + Long.toHexString(random.nextLong()), "Bench Event");
        case "batch" -> batch(random, batch);
        default -> throw new IllegalArgumentException("--mode must be single or batch (got " + mode + ")");
      });
    }
    Files.write(Path.of(args.get("out")), lines, StandardCharsets.UTF_8);
  }

  /** One track call of about 600 bytes, with the shape of Segment's analytics.js. */
  static String single(String anonymousId, String event) {
    return "{\"type\":\"track\",\"event\":\"" + event + "\",\"anonymousId\":\"" + anonymousId + "\","
        + "\"properties\":{\"product_id\":\"p-1001\",\"sku\":\"SHOE-RUN-42\",\"name\":\"Trail running shoe\","
        + "\"category\":\"shoes\",\"price\":119.0,\"currency\":\"USD\",\"quantity\":1,\"cart_id\":\"c-7f3a9e\"},"
        + "\"context\":{\"library\":{\"name\":\"analytics.js\",\"version\":\"5.2.0\"},"
        + "\"page\":{\"path\":\"/products/p-1001\",\"url\":\"https://shop.example.com/products/p-1001\","
        + "\"referrer\":\"https://www.example.org/\"},\"locale\":\"en-US\","
        + "\"userAgent\":\"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)"
        + " Version/17.5 Safari/605.1.15\"},\"timestamp\":\"2026-01-01T12:00:00.000Z\"}";
  }

  static String batch(Random random, int size) {
    StringBuilder body = new StringBuilder(size * 620 + 200).append("{\"batch\":[");
    for (int i = 0; i < size; i++) {
      if (i > 0) {
        body.append(',');
      }
      body.append(single("anon-" + Long.toHexString(random.nextLong()), "Bench Event"));
    }
    return body.append("],\"sentAt\":\"2026-01-01T12:00:00.100Z\",")
        .append("\"context\":{\"library\":{\"name\":\"@rudderstack/rudder-sdk-node\",\"version\":\"2.1.4\"}}}")
        .toString();
  }
}
