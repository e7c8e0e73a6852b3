package eventrouter.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The rule core without Vert.x or Redis; time is whatever the facts say. */
class RuleEngineTest {
  private static final Instant T0 = Instant.parse("2026-11-24T12:00:00Z");

  private static Facts facts(Map<String, Object> event, Map<String, Object> session, Map<String, Object> traits,
      Instant at) {
    return new Facts(event, session, traits, "u:ada", "ada", "anon-1", List.of("m-1"), at);
  }

  private static Map<String, Object> track(String name, Map<String, Object> properties) {
    return Map.of("type", "track", "event", name, "properties", properties, "context", Map.of("ip", "10.0.0.1"));
  }

  private static RuleEngine engine(String rules) {
    return RuleEngine.parse("{\"rules\":[" + rules + "]}", "test.json");
  }

  @Test
  @DisplayName("the shipped conf/rules.json compiles: the six examples and the demo's offer, every kind")
  void shippedRules() {
    RuleEngine shipped = RuleEngine.load(Path.of("conf", "rules.json"));
    assertEquals(8, shipped.rules().size());
    assertEquals(List.of(RuleKind.ABSENCE, RuleKind.ABSENCE, RuleKind.MATCH, RuleKind.THRESHOLD, RuleKind.THRESHOLD,
        RuleKind.THRESHOLD, RuleKind.ABSENCE, RuleKind.THRESHOLD), shipped.rules().stream().map(Rule::kind).toList());
  }

  @Test
  @DisplayName("a match rule raises its signal with computed properties and a cause-derived id, and runs its actions")
  void match() {
    RuleEngine rules = engine("{\"id\":\"churn\",\"kind\":\"match\",\"signal\":\"Churn Risk\","
        + "\"when\":\"event.event == 'Renewal Declined' && traits.ltv >= 500\","
        + "\"properties\":{\"ltv\":\"traits.ltv\",\"missing\":\"event.properties.nope\"},"
        + "\"actions\":[{\"trait\":\"risk\",\"set\":\"'high'\"},{\"session\":\"declines\",\"increment\":\"1\"}]}");
    Evaluation hit = rules.evaluate(facts(track("Renewal Declined", Map.of()), Map.of(), Map.of("ltv", 900.5), T0));
    assertEquals(1, hit.signals().size());
    Signal signal = hit.signals().get(0);
    assertEquals("Churn Risk", signal.name());
    assertEquals(900.5, signal.properties().get("ltv").doubleValue());
    assertTrue(signal.properties().get("missing").isNull(), "a property that cannot be computed is null");
    assertEquals(List.of("m-1"), signal.causes());
    assertEquals(Signal.idFor("churn", "m-1"), signal.id(), "the same cause always gives the same id");
    assertEquals(2, hit.actions().size());
    assertEquals("high", hit.actions().get(0).value().asText());

    assertTrue(rules.evaluate(facts(track("Renewal Declined", Map.of()), Map.of(), Map.of("ltv", 100L), T0))
        .isEmpty());
    assertTrue(rules.evaluate(facts(track("Renewal Declined", Map.of()), Map.of(), Map.of(), T0)).isEmpty(),
        "a missing trait is no match, not an error");
  }

  @Test
  @DisplayName("a threshold rule asks for a count under its key (the user by default, or an expression)")
  void threshold() {
    RuleEngine rules = engine("{\"id\":\"logins\",\"kind\":\"threshold\",\"signal\":\"Login Velocity\","
        + "\"when\":\"event.event == 'Login Failed'\",\"count\":5,\"window\":\"60s\",\"cooldown\":\"5m\"},"
        + "{\"id\":\"by-ip\",\"kind\":\"threshold\",\"signal\":\"IP Velocity\",\"key\":\"event.context.ip\","
        + "\"when\":\"event.event == 'Login Failed'\",\"count\":3,\"window\":\"1m\"}");
    Facts facts = facts(track("Login Failed", Map.of()), Map.of(), Map.of(), T0);
    Evaluation evaluation = rules.evaluate(facts);
    assertTrue(evaluation.signals().isEmpty(), "a threshold trips only once the shared count says so");
    assertEquals(2, evaluation.thresholds().size());
    Evaluation.ThresholdCheck byUser = evaluation.thresholds().get(0);
    assertEquals("u:ada", byUser.key());
    assertEquals(60_000, byUser.windowMs());
    assertEquals(5, byUser.count());
    assertEquals(300_000, byUser.cooldownMs());
    assertEquals("m-1", byUser.member());
    Evaluation.ThresholdCheck byIp = evaluation.thresholds().get(1);
    assertEquals("10.0.0.1", byIp.key());
    assertEquals(60_000, byIp.cooldownMs(), "the cooldown defaults to the window");
    assertEquals("IP Velocity", rules.thresholdSignal(byIp, facts).orElseThrow().name());
  }

  @Test
  @DisplayName("an absence rule arms on start at event time + T, is cancelled by its cancel event, and fires late")
  void absence() {
    RuleEngine rules = engine("{\"id\":\"cart\",\"kind\":\"absence\",\"signal\":\"Cart Abandoned\","
        + "\"start\":\"event.event == 'Product Added'\",\"cancel\":\"event.event == 'Order Completed'\","
        + "\"after\":\"30m\",\"rearm\":false,\"properties\":{\"value\":\"session.cart.value\"}}");
    Evaluation start = rules.evaluate(facts(track("Product Added", Map.of("sku", "a")), Map.of(), Map.of(), T0));
    assertEquals(1, start.arms().size());
    assertEquals(T0.plus(Duration.ofMinutes(30)).toEpochMilli(), start.arms().get(0).dueMs());
    assertFalse(start.arms().get(0).rearm());
    assertEquals(List.of("cart"), rules.evaluate(facts(track("Order Completed", Map.of()), Map.of(), Map.of(), T0))
        .cancels());

    long due = start.arms().get(0).dueMs();
    DueTimer timer = new DueTimer("cart", "u:ada", due, track("Product Added", Map.of()), "ada", "anon-1",
        List.of("m-1"), Map.of("cart", Map.of("value", 40.0)), Map.of());
    Signal onTime = rules.fire(timer, Instant.ofEpochMilli(due + 120)).orElseThrow();
    assertEquals(0, onTime.lateByMs(), "120 ms after due is on time");
    assertEquals(40.0, onTime.properties().get("value").doubleValue());
    Signal late = rules.fire(timer, Instant.ofEpochMilli(due + 3_600_000)).orElseThrow();
    assertEquals(3_600_000, late.lateByMs(), "a timer that fell due while the router was down is late");
    assertEquals(onTime.id(), late.id(), "re-firing one timer gives the same signal id");
    assertTrue(engine("").fire(timer, T0).isEmpty(), "a timer whose rule was removed raises nothing");
  }

  @Test
  @DisplayName("a broken expression fails with the rule's name, the field, the expression and the position")
  void brokenRule() {
    RuleException error = assertThrows(RuleException.class, () -> engine("{\"id\":\"bad\",\"kind\":\"match\","
        + "\"signal\":\"S\",\"when\":\"event.event == 'x' && evnt.type == 'track'\"}"));
    assertEquals("rule \"bad\" when: expression `event.event == 'x' && evnt.type == 'track'` has an error at"
        + " line 1, column 23: undeclared reference to 'evnt' (in container '')", error.getMessage());
    assertThrows(RuleException.class, () -> engine("{\"id\":\"t\",\"kind\":\"threshold\",\"signal\":\"S\","
        + "\"when\":\"true\",\"count\":0,\"window\":\"1s\"}"));
    assertThrows(RuleException.class, () -> engine("{\"id\":\"a\",\"kind\":\"absence\",\"signal\":\"S\","
        + "\"start\":\"true\",\"after\":\"soon\"}"));
    assertThrows(RuleException.class, () -> engine("{\"id\":\"x\",\"kind\":\"match\",\"signal\":\"S\",\"when\":\"true\"},"
        + "{\"id\":\"x\",\"kind\":\"match\",\"signal\":\"S\",\"when\":\"true\"}"));
  }
}
