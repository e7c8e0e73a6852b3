package eventrouter.loadtest.bench;

import java.util.List;
import java.util.Locale;

/**
 * A shop's traffic as the shipped rules ({@code conf/rules.json}) see it: known users (a userId and an anonymousId)
 * walking a 20-step journey of product views with a category, carts, checkouts, orders, failed logins from an IP,
 * subscription cancellations, page calls and an occasional identify carrying an {@code ltv} trait. Every shape a
 * rule matches is in the rotation, so the real-time path does the work it does in production instead of skipping
 * an event no rule looks at.
 *
 * <p>Event {@code n} goes to user {@code n % users} (round-robin), at step {@code (n / users + user) % 20} of the
 * journey: each user walks the journey in order, and at any moment the users are spread over its steps, so the mix
 * is the same in every second of a run. Bodies carry no messageId, so the router makes each one unique.
 */
final class ShopMix {
  /** One step of the journey: the call's type ({@code track}, {@code page}, {@code identify}) and its event name. */
  record Step(String type, String event) {
  }

  static final List<Step> JOURNEY = List.of(
      new Step("page", null),
      new Step("track", "Product Viewed"),
      new Step("track", "Product Viewed"),
      new Step("track", "Product Viewed"),
      new Step("track", "Product Added"),
      new Step("page", null),
      new Step("track", "Product Viewed"),
      new Step("track", "Product Added"),
      new Step("track", "Checkout Started"),
      new Step("track", "Order Completed"),
      new Step("page", null),
      new Step("track", "Login Failed"),
      new Step("track", "Product Viewed"),
      new Step("page", null),
      new Step("track", "Product Viewed"),
      new Step("track", "Product Added"),
      new Step("page", null),
      new Step("track", "Login Failed"),
      new Step("track", "Subscription Cancelled"),
      new Step("identify", null));

  private static final List<String> CATEGORIES = List.of("shoes", "jackets", "tents", "backpacks", "socks");
  /** Failed logins come from 50 addresses, so the per-IP threshold sees several users behind one address. */
  private static final int IPS = 50;

  private final int users;

  ShopMix(int users) {
    if (users < 1) {
      throw new IllegalArgumentException("--users must be at least 1 (got " + users + ")");
    }
    this.users = users;
  }

  /** The journey step of event {@code n}. */
  Step step(long n) {
    int user = (int) (n % users);
    return JOURNEY.get((int) ((n / users + user) % JOURNEY.size()));
  }

  /** Event {@code n} as a JSON object, without a trailing newline. */
  String event(long n) {
    int user = (int) (n % users);
    long round = n / users;
    Step step = step(n);
    String category = CATEGORIES.get((int) ((user + round / 7) % CATEGORIES.size()));
    int product = 1000 + (int) ((user * 31L + round) % 400);
    StringBuilder json = new StringBuilder(700).append("{\"type\":\"").append(step.type()).append('"');
    if (step.event() != null) {
      json.append(",\"event\":\"").append(step.event()).append('"');
    }
    json.append(",\"userId\":\"shop-user-").append(user).append("\",\"anonymousId\":\"shop-anon-").append(user)
        .append('"');
    switch (step.type()) {
      case "page" -> json.append(",\"name\":\"").append(category).append("\",\"properties\":{\"path\":\"/c/")
          .append(category).append("\",\"url\":\"https://shop.example.com/c/").append(category)
          .append("\",\"title\":\"").append(category).append(" | Example Shop\"}");
      case "identify" -> json.append(",\"traits\":{\"email\":\"shop-user-").append(user)
          // Half the users are worth 500 or more, so churn-risk matches half the cancellations.
          .append("@example.com\",\"plan\":\"pro\",\"ltv\":").append(100 + (user * 37) % 900).append('}');
      default -> json.append(",\"properties\":").append(properties(step.event(), category, product, user, round));
    }
    json.append(",\"context\":{\"library\":{\"name\":\"analytics.js\",\"version\":\"5.2.0\"},\"ip\":\"10.0.0.")
        .append(user % IPS + 1).append("\",\"locale\":\"en-US\",")
        .append("\"userAgent\":\"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)")
        .append(" Version/17.5 Safari/605.1.15\"},\"timestamp\":\"2026-01-01T12:00:00.000Z\"}");
    return json.toString();
  }

  private static String properties(String event, String category, int product, int user, long round) {
    String price = String.format(Locale.ROOT, "%.2f", 9.5 + (product % 40) * 3.25);
    return switch (event) {
      case "Product Viewed" -> "{\"product_id\":\"p-" + product + "\",\"category\":\"" + category
          + "\",\"name\":\"Product " + product + "\",\"price\":" + price + ",\"currency\":\"USD\"}";
      case "Product Added" -> "{\"product_id\":\"p-" + product + "\",\"category\":\"" + category + "\",\"price\":"
          + price + ",\"quantity\":" + (1 + round % 3) + ",\"currency\":\"USD\",\"cart_id\":\"c-" + user + "\"}";
      case "Checkout Started" -> "{\"cart_id\":\"c-" + user + "\",\"value\":" + price + ",\"currency\":\"USD\"}";
      case "Order Completed" -> "{\"order_id\":\"o-" + user + "-" + round + "\",\"cart_id\":\"c-" + user
          + "\",\"total\":" + price + ",\"currency\":\"USD\"}";
      case "Login Failed" -> "{\"reason\":\"wrong password\"}";
      case "Subscription Cancelled" -> "{\"plan\":\"pro\",\"reason\":\"too expensive\"}";
      default -> "{}";
    };
  }

  /** A {@code /v1/batch} body of events {@code first} to {@code first + size - 1}. */
  String batch(long first, int size) {
    StringBuilder body = new StringBuilder(size * 650 + 200).append("{\"batch\":[");
    for (int i = 0; i < size; i++) {
      if (i > 0) {
        body.append(',');
      }
      body.append(event(first + i));
    }
    return body.append("],\"sentAt\":\"2026-01-01T12:00:00.100Z\"}").toString();
  }
}
