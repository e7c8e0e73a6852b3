package eventrouter.loadtest;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.zip.GZIPOutputStream;

/**
 * Builds events the way the Segment and RudderStack SDKs send them: a messageId made by the client, the device's
 * {@code timestamp} and {@code sentAt}, a {@code context} with library, page and user agent, and e-commerce
 * properties from Segment's spec.
 */
final class Events {
  static final ObjectMapper JSON = new ObjectMapper();

  /** A small catalogue, so that carts and searches repeat products as real traffic does. */
  record Product(String id, String sku, String name, String category, double price) {
  }

  static final List<Product> CATALOGUE = List.of(
      new Product("p-1001", "SHOE-RUN-42", "Trail running shoe", "shoes", 119.0),
      new Product("p-1002", "SHOE-CAS-40", "Canvas sneaker", "shoes", 59.5),
      new Product("p-2001", "JKT-RAIN-M", "Rain jacket", "outerwear", 149.0),
      new Product("p-2002", "JKT-DOWN-L", "Down jacket", "outerwear", 229.0),
      new Product("p-3001", "BAG-DAY-20", "Day pack 20 l", "bags", 79.0),
      new Product("p-3002", "BAG-DUF-40", "Duffel 40 l", "bags", 99.0),
      new Product("p-4001", "HAT-WOOL", "Wool beanie", "accessories", 24.0),
      new Product("p-4002", "SOCK-MER-3", "Merino socks, 3 pairs", "accessories", 32.0));

  static final List<String> QUERIES = List.of("running shoes", "rain jacket", "backpack", "winter", "socks",
      "sneakers", "duffel bag", "beanie");

  private static final List<String> USER_AGENTS = List.of(
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148");

  private Events() {
  }

  static Product randomProduct() {
    return CATALOGUE.get(ThreadLocalRandom.current().nextInt(CATALOGUE.size()));
  }

  static <T> T pick(List<T> values) {
    return values.get(ThreadLocalRandom.current().nextInt(values.size()));
  }

  /** The fields every SDK call carries. userId may be null (an anonymous visitor). */
  static ObjectNode base(String type, String anonymousId, String userId, String pagePath) {
    ObjectNode event = JSON.createObjectNode();
    event.put("type", type);
    event.put("messageId", UUID.randomUUID().toString());
    event.put("anonymousId", anonymousId);
    if (userId != null) {
      event.put("userId", userId);
    }
    // The device's clock: a little behind the server's, as real devices are; sentAt is stamped when flushed.
    String now = Instant.now().minusMillis(ThreadLocalRandom.current().nextInt(0, 1500)).toString();
    event.put("timestamp", now);
    event.put("sentAt", now);
    ObjectNode context = event.putObject("context");
    context.putObject("library").put("name", "analytics.js").put("version", "5.2.0");
    context.put("userAgent", pick(USER_AGENTS));
    context.put("locale", "en-US");
    context.putObject("page").put("path", pagePath).put("url", "https://shop.example.com" + pagePath)
        .put("referrer", "https://www.example.org/");
    return event;
  }

  static ObjectNode track(String event, String anonymousId, String userId, String pagePath) {
    ObjectNode node = base("track", anonymousId, userId, pagePath);
    node.put("event", event);
    return node;
  }

  static ObjectNode productProperties(ObjectNode properties, Product product) {
    return properties.put("product_id", product.id()).put("sku", product.sku()).put("name", product.name())
        .put("category", product.category()).put("price", product.price()).put("currency", "USD");
  }

  /** A batch body as RudderStack's and Segment's Node SDKs send it: events of several types, one sentAt. */
  static ObjectNode batch(int size) {
    ObjectNode body = JSON.createObjectNode();
    ArrayNode items = body.putArray("batch");
    for (int i = 0; i < size; i++) {
      String anonymousId = UUID.randomUUID().toString();
      String userId = ThreadLocalRandom.current().nextInt(3) == 0 ? "user-" + ThreadLocalRandom.current().nextInt(1_000_000)
          : null;
      int kind = ThreadLocalRandom.current().nextInt(10);
      ObjectNode event;
      if (kind < 6) {
        Product product = randomProduct();
        event = track(pick(List.of("Product Viewed", "Product Added", "Products Searched")), anonymousId, userId,
            "/products/" + product.id());
        productProperties(event.putObject("properties"), product);
      } else if (kind < 9) {
        event = base("page", anonymousId, userId, "/category/" + randomProduct().category());
        event.put("name", "Category");
        event.putObject("properties").put("title", "Shop by category");
      } else {
        event = base("identify", anonymousId, "user-" + ThreadLocalRandom.current().nextInt(1_000_000), "/account");
        event.putObject("traits").put("plan", "free").put("newsletter", true);
      }
      event.remove("sentAt");
      items.add(event);
    }
    body.put("sentAt", Instant.now().toString());
    body.putObject("context").putObject("library").put("name", "@rudderstack/rudder-sdk-node").put("version", "2.1.4");
    return body;
  }

  static byte[] bytes(ObjectNode node) {
    try {
      return JSON.writeValueAsBytes(node);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static byte[] gzip(byte[] bytes) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(bytes.length / 4 + 64);
    try (GZIPOutputStream zip = new GZIPOutputStream(out)) {
      zip.write(bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }
}
