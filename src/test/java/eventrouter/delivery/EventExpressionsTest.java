package eventrouter.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cel.runtime.CelEvaluationException;
import eventrouter.config.ConfigException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class EventExpressionsTest {
  private static final JsonObject EVENT = new JsonObject().put("type", "track").put("event", "Order Completed")
      .put("userId", "u-1").put("anonymousId", null)
      .put("properties", new JsonObject().put("revenue", 42.5).put("items", 3)
          .put("skus", new JsonArray().add("a").add("b")));

  @Test
  @DisplayName("a filter sees the event's JSON: ints, doubles, lists, nested maps and null")
  void filters() throws Exception {
    Map<String, Object> event = EventExpressions.toCel(EVENT);
    assertTrue(EventExpressions.filter("d", "filter", "event.properties.items > 2 && event.properties.revenue >= 42.5"
        + " && 'b' in event.properties.skus && event.anonymousId == null").matches(event));
    assertFalse(EventExpressions.filter("d", "filter", "event.event.startsWith('Product')").matches(event));
    assertTrue(EventExpressions.filter("d", "filter", null).matches(event));
    assertThrows(CelEvaluationException.class,
        () -> EventExpressions.filter("d", "filter", "event.context.ip == '1'").matches(event),
        "a missing key fails the evaluation, which delivery counts as no match");
  }

  @Test
  @DisplayName("a payload is one expression, or an object of field to expression, and comes out as JSON")
  void payloads() throws Exception {
    Map<String, Object> event = EventExpressions.toCel(EVENT);
    assertEquals(new JsonObject().put("user", "u-1").put("value", 42.5).put("count", 3L).put("nothing", null),
        EventExpressions.payload("d", "payload", new JsonObject().put("user", "event.userId")
            .put("value", "event.properties.revenue").put("count", "event.properties.items")
            .put("nothing", "event.anonymousId")).shape(event, EVENT));
    assertEquals(new JsonObject().put("name", "Order Completed").put("skus", new JsonArray().add("a").add("b")),
        EventExpressions.payload("d", "payload", "{'name': event.event, 'skus': event.properties.skus}")
            .shape(event, EVENT));
    assertEquals(EVENT, EventExpressions.payload("d", "payload", null).shape(event, EVENT));
  }

  @Test
  @DisplayName("a broken expression fails start-up naming the destination, the expression and the error's position")
  void brokenExpressions() {
    String syntax = assertThrows(ConfigException.class,
        () -> EventExpressions.filter("crm", "destinations[2].filter", "event.event == ")).getMessage();
    assertTrue(syntax.startsWith("destinations[2].filter (destination \"crm\") is not a valid CEL expression:"
        + " event.event == "), syntax);
    assertTrue(syntax.contains("1:16"), "the position: " + syntax);
    String notBool = assertThrows(ConfigException.class,
        () -> EventExpressions.filter("crm", "destinations[2].filter", "size(event)")).getMessage();
    assertTrue(notBool.contains("size(event)") && notBool.contains("1:"), notBool);
    String undeclared = assertThrows(ConfigException.class, () -> EventExpressions.payload("crm",
        "destinations[2].payload", new JsonObject().put("x", "session.id"))).getMessage();
    assertTrue(undeclared.startsWith("destinations[2].payload.x (destination \"crm\")"), undeclared);
    assertTrue(undeclared.contains("session"), undeclared);
  }
}
