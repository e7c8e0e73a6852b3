package eventrouter.loadtest;

import static io.gatling.javaapi.core.CoreDsl.StringBody;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.jsonPath;
import static io.gatling.javaapi.core.CoreDsl.pause;
import static io.gatling.javaapi.core.CoreDsl.percent;
import static io.gatling.javaapi.core.CoreDsl.randomSwitchOrElse;
import static io.gatling.javaapi.core.CoreDsl.repeat;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import eventrouter.loadtest.Events.Product;
import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Session;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;

/**
 * Shoppers arriving at a constant rate (an open workload): each one searches, views one to three products, adds one
 * to the cart, and then either checks out or abandons the cart. A visitor starts anonymous ({@code anonymousId} only)
 * and logs in mid-journey with an {@code identify} carrying both ids; from then on every call carries the userId.
 *
 * <pre>
 * mvn gatling:test -Dgatling.simulationClass=eventrouter.loadtest.ShopperJourneySimulation \
 *     -DbaseUrl=http://127.0.0.1:8080 -DwriteKey=KEY -Drate=20 -Dduration=30
 * </pre>
 *
 * Extra knobs: {@code -DabandonPercent=30} (half of the abandoners leave before logging in, half after),
 * {@code -DthinkMs=200} (pause between steps), {@code -Dpercentile=99 -DpercentileMaxMs=250} (the asserted limit).
 */
public class ShopperJourneySimulation extends Simulation {
  private final LoadSettings settings = new LoadSettings();
  private final double abandonPercent = LoadSettings.positive("abandonPercent", 30);
  private final Duration think = Duration.ofMillis((long) LoadSettings.positive("thinkMs", 200));

  private final HttpProtocolBuilder protocol = http
      .baseUrl(settings.baseUrl)
      .contentTypeHeader("application/json")
      .acceptHeader("application/json")
      .header("Authorization", settings.basicAuth())
      .userAgentHeader("analytics.js/5.2.0 (Gatling load test)");

  /** One shopper's identity and intent, drawn when they arrive. */
  private static Session arrive(Session session) {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    Product product = Events.randomProduct();
    return session
        .set("anonymousId", UUID.randomUUID().toString())
        .set("userId", "user-" + random.nextInt(1, 5_000_000))
        .set("loggedIn", false)
        .set("query", Events.pick(Events.QUERIES))
        .set("product", product)
        .set("cartId", "cart-" + UUID.randomUUID())
        .set("views", random.nextInt(1, 4));
  }

  /** The userId once the shopper has logged in; null before, so the event is anonymous. */
  private static String userId(Session session) {
    return session.getBoolean("loggedIn") ? session.getString("userId") : null;
  }

  private static ChainBuilder post(String name, String endpoint, Function<Session, ObjectNode> body) {
    return exec(http(name).post(endpoint)
        .body(StringBody(session -> new String(Events.bytes(body.apply(session)), java.nio.charset.StandardCharsets.UTF_8)))
        .check(status().is(200), jsonPath("$.success").ofBoolean().is(true)));
  }

  private static ChainBuilder track(String event, String pagePath, Function<Session, ObjectNode> properties) {
    return post("track " + event, "/v1/track", session -> {
      ObjectNode node = Events.track(event, session.getString("anonymousId"), userId(session), pagePath);
      node.set("properties", properties.apply(session));
      return node;
    });
  }

  private static ObjectNode productProps(Session session) {
    return Events.productProperties(Events.JSON.createObjectNode(), session.get("product"));
  }

  private final ChainBuilder search = exec(session -> arrive(session))
      .exec(post("page Search", "/v1/page", session -> {
        ObjectNode page = Events.base("page", session.getString("anonymousId"), null, "/search");
        page.put("name", "Search");
        page.putObject("properties").put("title", "Search results").put("path", "/search");
        return page;
      }))
      .exec(track("Products Searched", "/search",
          session -> Events.JSON.createObjectNode().put("query", session.getString("query"))))
      .exec(pause(think));

  private final ChainBuilder view = repeat(session -> session.getInt("views")).on(
      exec(session -> session.set("product", Events.randomProduct()))
          .exec(track("Product Viewed", "/products", ShopperJourneySimulation::productProps))
          .exec(pause(think)));

  private final ChainBuilder addToCart = track("Product Added", "/products",
      session -> productProps(session).put("cart_id", session.getString("cartId")).put("quantity", 1))
      .exec(pause(think));

  private final ChainBuilder logIn = exec(session -> session.set("loggedIn", true))
      .exec(post("identify", "/v1/identify", session -> {
        ObjectNode identify = Events.base("identify", session.getString("anonymousId"), session.getString("userId"),
            "/login");
        String userId = session.getString("userId");
        identify.putObject("traits").put("email", userId + "@example.com").put("name", "Shopper " + userId)
            .put("plan", "member");
        return identify;
      }))
      .exec(pause(think));

  private final ChainBuilder checkout = track("Checkout Started", "/checkout", session -> {
        ObjectNode properties = Events.JSON.createObjectNode().put("cart_id", session.getString("cartId"));
        Product product = session.get("product");
        properties.put("value", product.price()).put("currency", "USD");
        properties.putArray("products").add(productProps(session).put("quantity", 1));
        return properties;
      })
      .exec(pause(think))
      .exec(track("Order Completed", "/checkout/done", session -> {
        Product product = session.get("product");
        ObjectNode properties = Events.JSON.createObjectNode()
            .put("order_id", "order-" + UUID.randomUUID())
            .put("cart_id", session.getString("cartId"))
            .put("total", product.price()).put("revenue", product.price()).put("currency", "USD");
        ArrayNode products = properties.putArray("products");
        products.add(productProps(session).put("quantity", 1));
        return properties;
      }));

  /** Leaving with a full cart: the last thing the router sees is a page view of the cart. */
  private final ChainBuilder abandon = post("page Cart", "/v1/page", session -> {
    ObjectNode page = Events.base("page", session.getString("anonymousId"), userId(session), "/cart");
    page.put("name", "Cart");
    page.putObject("properties").put("cart_id", session.getString("cartId"));
    return page;
  });

  private final ScenarioBuilder shoppers = scenario("Shopper journey")
      .exec(search, view, addToCart)
      .exec(randomSwitchOrElse().on(
              percent(abandonPercent / 2).then(abandon),
              percent(abandonPercent / 2).then(exec(logIn).exec(abandon)))
          .orElse(exec(logIn).exec(checkout)));

  {
    setUp(shoppers.injectOpen(constantUsersPerSec(settings.rate).during(settings.duration)))
        .protocols(protocol)
        .assertions(
            global().failedRequests().count().is(0L),
            global().responseTime().percentile(settings.percentile).lt(settings.percentileMaxMs));
  }
}
