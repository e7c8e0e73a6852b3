package eventrouter.loadtest.bench;

import java.util.Random;

/**
 * The typed tables' load (issue 15): track calls of 20 event names, each with 10 properties of its own (whole
 * numbers, prices, labels and flags, as a shop's events have), and a browser SDK's context, over many users. The
 * warehouse writer then keeps 20 tables of about 20 typed columns each.
 */
final class TypedMix {
  static final int NAMES = 20;
  static final int PROPERTIES = 10;

  private final Random random;
  private final int users;

  TypedMix(Random random, int users) {
    this.random = random;
    this.users = users;
  }

  /** One track call of about 700 bytes. */
  String event() {
    int name = random.nextInt(NAMES);
    StringBuilder event = new StringBuilder(720).append("{\"type\":\"track\",\"event\":\"Typed Event ").append(name)
        .append("\",\"userId\":\"typed-").append(random.nextInt(users)).append("\",\"properties\":{");
    for (int p = 0; p < PROPERTIES; p++) {
      event.append(p > 0 ? "," : "").append("\"").append(property(name, p)).append("\":");
      switch (p % 4) {
        case 0 -> event.append(random.nextInt(1_000));
        case 1 -> event.append(random.nextInt(100_000) / 100.0);
        case 2 -> event.append("\"label-").append(random.nextInt(50)).append('"');
        default -> event.append(random.nextBoolean());
      }
    }
    return event.append("},\"context\":{\"library\":{\"name\":\"analytics.js\",\"version\":\"5.2.0\"},")
        .append("\"page\":{\"path\":\"/p\",\"url\":\"https://shop.example.com/p\",\"title\":\"Product\"},")
        .append("\"locale\":\"en-US\",\"userAgent\":\"Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0\"}}")
        .toString();
  }

  /** A {@code /v1/batch} body of {@code size} events. */
  String batch(int size) {
    StringBuilder body = new StringBuilder(size * 720 + 20).append("{\"batch\":[");
    for (int i = 0; i < size; i++) {
      body.append(i > 0 ? "," : "").append(event());
    }
    return body.append("]}").toString();
  }

  /** Each event name's own property names: 200 columns over the 20 tables. */
  private static String property(int name, int index) {
    String[] kinds = {"count", "price", "label", "flag"};
    return kinds[index % 4] + "_" + name + "_" + index;
  }
}
