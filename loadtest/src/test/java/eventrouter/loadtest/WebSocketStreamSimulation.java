package eventrouter.loadtest;

import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.jsonPath;
import static io.gatling.javaapi.core.CoreDsl.pause;
import static io.gatling.javaapi.core.CoreDsl.repeat;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.ws;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import eventrouter.loadtest.Events.Product;
import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Session;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import io.gatling.javaapi.http.WsFrameCheck;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Web clients streaming over {@code /v1/stream}: each virtual user opens a WebSocket with the write key in the query
 * string (as a browser must), then sends {@code frames} rounds of one single event and one small
 * {@code {"batch":[...]}} frame, each event with its own messageId. Every frame must be answered by
 * {@code {"type":"ack","messageIds":[...]}} naming exactly its messageIds, within {@code ackTimeoutMs}; an error frame,
 * a closed socket or a late ack fails the request. Connections arrive at a constant rate (an open workload).
 *
 * <pre>
 * mvn gatling:test -Dgatling.simulationClass=eventrouter.loadtest.WebSocketStreamSimulation \
 *     -DbaseUrl=http://127.0.0.1:8080 -DwriteKey=KEY -Drate=20 -Dduration=30 -Dframes=4 -DbatchSize=5
 * </pre>
 *
 * The asserted percentile ({@code -Dpercentile=99 -DpercentileMaxMs=250}) covers the connect and every ack: the
 * time from sending a frame to its events being durable in Kafka.
 */
public class WebSocketStreamSimulation extends Simulation {
  private final LoadSettings settings = new LoadSettings();
  private final int frames = (int) LoadSettings.positive("frames", 4);
  private final int batchSize = (int) LoadSettings.positive("batchSize", 5);
  private final Duration ackTimeout = Duration.ofMillis((long) LoadSettings.positive("ackTimeoutMs", 5000));
  private final Duration think = Duration.ofMillis((long) LoadSettings.positive("thinkMs", 100));

  private final HttpProtocolBuilder protocol = http
      .baseUrl(settings.baseUrl)
      .wsBaseUrl(Streams.wsBaseUrl(settings.baseUrl))
      .userAgentHeader("analytics.js/5.2.0 (Gatling load test)");

  /** One click on the page: a track event carrying the visitor's ids. */
  private static ObjectNode click(Session session) {
    Product product = Events.randomProduct();
    ObjectNode event = Events.track(Events.pick(List.of("Product Viewed", "Product Clicked", "Product Added")),
        session.getString("anonymousId"), session.getString("userId"), "/products/" + product.id());
    Events.productProperties(event.putObject("properties"), product);
    return event;
  }

  /** A frame of one event; remembers its messageId for the ack check. */
  private static Session single(Session session) {
    ObjectNode event = click(session);
    return session.set("frame", Streams.text(event))
        .set("messageIds", List.of(event.get("messageId").asText()));
  }

  /** A {"batch":[...]} frame, as the browser SDKs flush a queue; remembers its messageIds in order. */
  private Session batch(Session session) {
    ObjectNode body = Events.JSON.createObjectNode();
    ArrayNode items = body.putArray("batch");
    List<String> ids = new ArrayList<>(batchSize);
    for (int i = 0; i < batchSize; i++) {
      ObjectNode event = click(session);
      event.remove("sentAt");
      ids.add(event.get("messageId").asText());
      items.add(event);
    }
    body.put("sentAt", Instant.now().toString());
    return session.set("frame", Streams.text(body)).set("messageIds", ids);
  }

  private ChainBuilder send(String name) {
    return exec(ws("send " + name).sendText(session -> session.getString("frame"))
        .await(ackTimeout).on(ackOf(name)));
  }

  /** The ack for this frame: an ack (not an error) naming exactly the frame's messageIds, in order. */
  private static WsFrameCheck ackOf(String name) {
    return ws.checkTextMessage("ack " + name)
        .matching(jsonPath("$.type").in("ack", "error"))
        .check(
            jsonPath("$.type").is("ack"),
            jsonPath("$.messageIds[*]").findAll().is(session -> session.getList("messageIds")));
  }

  private final ScenarioBuilder clients = scenario("WebSocket stream")
      .exec(session -> session
          .set("anonymousId", UUID.randomUUID().toString())
          .set("userId", "ws-user-" + ThreadLocalRandom.current().nextInt(1, 5_000_000)))
      .exec(ws("connect").connect("/v1/stream?writeKey=" + Streams.urlEncode(settings.writeKey)))
      .exec(repeat(frames).on(
          exec(WebSocketStreamSimulation::single).exec(send("event"))
              .exec(pause(think))
              .exec(this::batch).exec(send("batch of " + batchSize))
              .exec(pause(think))))
      .exec(ws("close").close());

  {
    setUp(clients.injectOpen(constantUsersPerSec(settings.rate).during(settings.duration)))
        .protocols(protocol)
        .assertions(
            global().failedRequests().count().is(0L),
            global().responseTime().percentile(settings.percentile).lt(settings.percentileMaxMs));
  }

  /** Helpers shared by the WebSocket simulations. */
  static final class Streams {
    private Streams() {
    }

    /** ws://host:port for the http://host:port the settings checked to be on this machine. */
    static String wsBaseUrl(String baseUrl) {
      return "ws" + baseUrl.substring("http".length());
    }

    static String urlEncode(String value) {
      return java.net.URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    static String text(ObjectNode node) {
      return new String(Events.bytes(node), StandardCharsets.UTF_8);
    }
  }
}
