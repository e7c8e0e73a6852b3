package eventrouter.loadtest;

import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.doIfOrElse;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.jsonPath;
import static io.gatling.javaapi.core.CoreDsl.pause;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.ws;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import eventrouter.loadtest.Events.Product;
import eventrouter.loadtest.WebSocketStreamSimulation.Streams;
import io.gatling.http.action.ws.WsInboundMessage;
import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Session;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import io.gatling.javaapi.http.WsFrameCheck;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

/**
 * Abandonment at scale, end to end through the shipped {@code demo-offer} rule (an absence rule: a
 * {@code Product Added} with {@code context.demo == true}, then no {@code Order Completed} within 10 s, raises
 * {@code Cart Abandoned}, pushed to the user's open WebSockets).
 *
 * <p>Shoppers arrive at a constant rate (an open workload), each with a fresh anonymousId and userId, and open a
 * WebSocket on {@code /v1/stream}. Each one sends a demo {@code Product Added} (acked), then:
 * <ul>
 *   <li>odd users (half) <b>abandon</b>: they send nothing more, and must receive on their own socket a
 *       {@code {"type":"signal","event":"Cart Abandoned","rule":{"id":"demo-offer"}}} frame for their own ids,
 *       caused by their Product Added, within {@code signalTimeoutMs} (20 s) of the ack;</li>
 *   <li>even users (half) <b>complete</b>: they send {@code Order Completed} within 0.5–2 s (acked), keep the socket
 *       open {@code quietMs} (15 s), and must have received no {@code Cart Abandoned} signal in that time. Frames
 *       that no check waited for are buffered by Gatling; after the quiet period they are scanned, and a final
 *       acked frame ("Order Confirmation" page view) carries a check that fails if any Cart Abandoned arrived.</li>
 * </ul>
 * With 0 failed requests, every abandoned journey produced its Cart Abandoned signal and no completed journey did.
 *
 * <pre>
 * mvn gatling:test -Dgatling.simulationClass=eventrouter.loadtest.AbandonmentSimulation \
 *     -DbaseUrl=http://127.0.0.1:8080 -DwriteKey=KEY -Drate=5 -Dduration=30
 * </pre>
 *
 * Each user keeps its socket open about 12–17 s, so about {@code rate × 17} sockets are open at once (the router
 * allows {@code stream.maxConnectionsPerKey}, 10000 by default). The asserted percentile
 * ({@code -Dpercentile=99 -DpercentileMaxMs=250}) covers the connects and acks; the signal's own deadline is its
 * timeout.
 */
public class AbandonmentSimulation extends Simulation {
  static final String SIGNAL = "Cart Abandoned";
  static final String RULE = "demo-offer";

  private final LoadSettings settings = new LoadSettings();
  private final Duration ackTimeout = Duration.ofMillis((long) LoadSettings.positive("ackTimeoutMs", 5000));
  private final Duration signalTimeout = Duration.ofMillis((long) LoadSettings.positive("signalTimeoutMs", 20_000));
  private final Duration quiet = Duration.ofMillis((long) LoadSettings.positive("quietMs", 15_000));

  private final HttpProtocolBuilder protocol = http
      .baseUrl(settings.baseUrl)
      .wsBaseUrl(Streams.wsBaseUrl(settings.baseUrl))
      // Keep the frames no check waited for, so that the completers' quiet period can be inspected afterwards.
      .wsUnmatchedInboundMessageBufferSize(256)
      .userAgentHeader("analytics.js/5.2.0 (Gatling load test, demo shop)");

  /** A shopper on the demo page: fresh ids, one product; odd users abandon, even users complete. */
  private static Session arrive(Session session) {
    return session
        .set("anonymousId", UUID.randomUUID().toString())
        .set("userId", "abandon-" + UUID.randomUUID())
        .set("product", Events.randomProduct())
        .set("completes", session.userId() % 2 == 0)
        .set("unexpectedSignal", "");
  }

  /** A track event from the demo page: context.demo == true is what the demo-offer rule looks for. */
  private static ObjectNode demoTrack(Session session, String event, String path) {
    ObjectNode node = Events.track(event, session.getString("anonymousId"), session.getString("userId"), path);
    ((ObjectNode) node.get("context")).put("demo", true);
    return node;
  }

  private static Session frame(Session session, ObjectNode event) {
    return session.set("frame", Streams.text(event)).set("messageIds", List.of(event.get("messageId").asText()));
  }

  private static Session productAdded(Session session) {
    Product product = session.get("product");
    ObjectNode event = demoTrack(session, "Product Added", "/demo/");
    Events.productProperties(event.putObject("properties"), product).put("quantity", 1);
    return frame(session, event).set("addedMessageId", event.get("messageId").asText());
  }

  private static Session orderCompleted(Session session) {
    Product product = session.get("product");
    ObjectNode event = demoTrack(session, "Order Completed", "/demo/checkout");
    ObjectNode properties = event.putObject("properties").put("order_id", "order-" + UUID.randomUUID())
        .put("total", product.price()).put("revenue", product.price()).put("currency", "USD");
    properties.putArray("products").add(Events.productProperties(Events.JSON.createObjectNode(), product)
        .put("quantity", 1));
    return frame(session, event);
  }

  private static Session confirmationPage(Session session) {
    ObjectNode page = Events.base("page", session.getString("anonymousId"), session.getString("userId"),
        "/demo/thank-you");
    ((ObjectNode) page.get("context")).put("demo", true);
    page.put("name", "Order Confirmation");
    return frame(session, page);
  }

  /** The frame's ack: an ack (not an error) naming exactly its messageId. */
  private static WsFrameCheck ack(String name) {
    return ws.checkTextMessage(name)
        .matching(jsonPath("$.type").in("ack", "error"))
        .check(
            jsonPath("$.type").is("ack"),
            jsonPath("$.messageIds[*]").findAll().is(session -> session.getList("messageIds")));
  }

  /** True when a frame is a Cart Abandoned signal raised by demo-offer. */
  static boolean isDemoOfferSignal(String text) {
    try {
      JsonNode frame = Events.JSON.readTree(text);
      return "signal".equals(frame.path("type").asText()) && SIGNAL.equals(frame.path("event").asText())
          && RULE.equals(frame.path("rule").path("id").asText());
    } catch (IOException e) {
      return false;
    }
  }

  /** The completer's quiet period is over: record any Cart Abandoned frame that arrived on its socket. */
  private static Session scanForSignals(List<WsInboundMessage> messages, Session session) {
    for (WsInboundMessage message : messages) {
      if (message instanceof WsInboundMessage.Text text && isDemoOfferSignal(text.message())) {
        return session.set("unexpectedSignal", text.message());
      }
    }
    return session;
  }

  private final ChainBuilder completer =
      exec(ws("send Product Added").sendText(session -> session.getString("frame"))
          .await(ackTimeout).on(ack("ack Product Added")))
      .exec(pause(Duration.ofMillis(500), Duration.ofMillis(2000)))
      .exec(AbandonmentSimulation::orderCompleted)
      .exec(ws("send Order Completed").sendText(session -> session.getString("frame"))
          .await(ackTimeout).on(ack("ack Order Completed")))
      .exec(pause(quiet))
      .exec(ws.processUnmatchedMessages(AbandonmentSimulation::scanForSignals))
      .exec(AbandonmentSimulation::confirmationPage)
      .exec(ws("send Order Confirmation").sendText(session -> session.getString("frame"))
          .await(ackTimeout).on(
              ws.checkTextMessage("completer: no Cart Abandoned within " + quiet.toSeconds() + " s")
                  .matching(jsonPath("$.type").in("ack", "error"))
                  .check(
                      jsonPath("$.type").is("ack"),
                      jsonPath("$.messageIds[*]").findAll().is(session -> session.getList("messageIds")),
                      // The frame of a Cart Abandoned pushed to this completer, or "" when none came: must be "".
                      jsonPath("$.type").transformWithSession((type, session) -> session.getString("unexpectedSignal"))
                          .is(""))));

  private final ChainBuilder abandoner =
      exec(ws("send Product Added").sendText(session -> session.getString("frame"))
          .await(ackTimeout).on(ack("ack Product Added"))
          // Then nothing more is sent: the push must come on this socket, for this user, caused by that event.
          .await(signalTimeout).on(
              ws.checkTextMessage("abandoner: Cart Abandoned pushed")
                  .matching(jsonPath("$.type").is("signal"), jsonPath("$.event").is(SIGNAL),
                      jsonPath("$.rule.id").is(RULE))
                  .check(
                      jsonPath("$.userId").is(session -> session.getString("userId")),
                      jsonPath("$.anonymousId").is(session -> session.getString("anonymousId")),
                      jsonPath("$.causes[*]").findAll()
                          .transformWithSession((causes, session) -> causes.contains(session.getString("addedMessageId")))
                          .is(true))));

  private final ScenarioBuilder shoppers = scenario("Abandonment")
      .exec(AbandonmentSimulation::arrive)
      .exec(ws("connect").connect("/v1/stream?writeKey=" + Streams.urlEncode(settings.writeKey)))
      .exec(AbandonmentSimulation::productAdded)
      .exec(doIfOrElse(session -> session.getBoolean("completes")).then(completer).orElse(abandoner))
      .exec(ws("close").close());

  {
    setUp(shoppers.injectOpen(constantUsersPerSec(settings.rate).during(settings.duration)))
        .protocols(protocol)
        .assertions(
            global().failedRequests().count().is(0L),
            details("ack Product Added").responseTime().percentile(settings.percentile).lt(settings.percentileMaxMs),
            details("ack Order Completed").responseTime().percentile(settings.percentile)
                .lt(settings.percentileMaxMs));
  }
}
