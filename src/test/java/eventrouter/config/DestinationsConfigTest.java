package eventrouter.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.config.DestinationConfig.Stream;
import eventrouter.config.DestinationConfig.Type;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DestinationsConfigTest {
  @TempDir
  Path dir;

  private RouterConfig.DeliveryConfig read(String destinations, Map<String, String> env) throws Exception {
    Path file = dir.resolve("destinations.json");
    Files.writeString(file, destinations);
    Map<String, String> all = new java.util.HashMap<>(env);
    all.put("ROUTER_DESTINATIONS", file.toString());
    return RouterConfig.from(new Settings(new JsonObject(), "router.json", all)).delivery();
  }

  private String error(String destinations) {
    return assertThrows(ConfigException.class, () -> read(destinations, Map.of())).getMessage();
  }

  @Test
  @DisplayName("the shipped conf/destinations.json reads with nothing enabled; a file named but missing fails")
  void shipped() {
    RouterConfig shipped = RouterConfig.from(Settings.load(Path.of("conf", "router.json"), Map.of()));
    assertEquals("conf/destinations.json", shipped.delivery().destinationsFile());
    assertEquals("router-delivery", shipped.delivery().groupId());
    assertTrue(shipped.delivery().destinations().stream().noneMatch(DestinationConfig::enabled),
        "nothing is delivered anywhere until a destination is configured");
    assertThrows(ConfigException.class, () -> RouterConfig.from(new Settings(new JsonObject(), "router.json",
        Map.of("ROUTER_DESTINATIONS", dir.resolve("absent.json").toString()))), "a named file must exist");
  }

  @Test
  @DisplayName("a webhook needs only id, type, url and secret; every policy value falls back to delivery.*")
  void minimalWebhookTakesTheDefaults() throws Exception {
    RouterConfig.DeliveryConfig delivery = read("[{\"id\":\"crm\",\"type\":\"webhook\",\"url\":\"https://crm.example/in\","
        + "\"secret\":\"0123456789abcdef\"}]", Map.of("ROUTER_DELIVERY_TIMEOUT_MS", "2500"));
    DestinationConfig crm = delivery.destinations().get(0);
    assertEquals(Type.WEBHOOK, crm.type());
    assertTrue(crm.enabled());
    assertEquals(EnumSet.allOf(Stream.class), crm.streams());
    assertEquals(2500, crm.policy().timeoutMs(), "the global default, from the environment");
    assertEquals(16, crm.policy().maxInFlight());
    assertEquals(10, crm.policy().maxAttempts());
    assertEquals(3 * 3_600_000L, crm.policy().retryDeadlineMs());
    assertEquals(0.2, crm.policy().jitter());
    assertFalse(crm.policy().ordered());
    assertEquals(1, crm.webhook().batchMaxEvents());
    assertFalse(crm.toString().contains("0123456789abcdef"), "the secret is never printed");
  }

  @Test
  @DisplayName("per-destination values override the defaults")
  void overrides() throws Exception {
    DestinationConfig d = read("[{\"id\":\"k\",\"type\":\"kafka\",\"topic\":\"out\",\"bootstrap\":\"k1:9092\","
        + "\"streams\":[\"signals\"],\"timeoutMs\":500,\"maxInFlight\":2,\"maxAttempts\":3,\"ordered\":true,"
        + "\"rateLimit\":{\"eventsPerSecond\":50},\"backoffBaseMs\":10,\"backoffMaxMs\":20,\"jitter\":0}]", Map.of())
        .destinations().get(0);
    assertEquals(EnumSet.of(Stream.SIGNALS), d.streams());
    assertEquals(new DestinationConfig.Kafka("k1:9092", "out"), d.kafka());
    assertEquals(500, d.policy().timeoutMs());
    assertEquals(2, d.policy().maxInFlight());
    assertEquals(3, d.policy().maxAttempts());
    assertTrue(d.policy().ordered());
    assertEquals(50, d.policy().rateLimitPerSecond());
    assertEquals(0, d.policy().jitter());
  }

  @Test
  @DisplayName("the circuit keys of earlier versions are refused, naming the keys that replace them, wherever they are"
      + " set: the destinations file, router.json or the environment")
  void replacedCircuitKeys() {
    String file = dir.resolve("destinations.json").toString();
    assertEquals("destinations[0].circuitFailures (destination \"w\") in " + file + " was replaced: the circuit breaker"
        + " now opens on a share of failed calls: use circuitFailureRate (percent) and circuitMinCalls, over"
        + " circuitWindowCalls (got 5)", error("[{\"id\":\"w\",\"type\":\"websocket\",\"circuitFailures\":5}]"));
    assertTrue(assertThrows(ConfigException.class, () -> RouterConfig.from(new Settings(new JsonObject(
        "{\"delivery\":{\"circuitResetMs\":10000}}"), "router.json", Map.of()))).getMessage()
        .startsWith("delivery.circuitResetMs in router.json was replaced: use delivery.circuitOpenMs"));
    assertTrue(assertThrows(ConfigException.class, () -> RouterConfig.from(new Settings(new JsonObject(),
        "router.json", Map.of("ROUTER_DELIVERY_CIRCUIT_FAILURES", "5")))).getMessage()
        .startsWith("ROUTER_DELIVERY_CIRCUIT_FAILURES was replaced: the circuit breaker now opens on a share"));
  }

  @Test
  @DisplayName("a bad destination fails naming the index, the id, the field and the file")
  void badDestinations() {
    String file = dir.resolve("destinations.json").toString();
    assertEquals("destinations[0].url (destination \"crm\") in " + file + " must be an http:// or https:// URL"
        + " (got \"ftp://x\")", error("[{\"id\":\"crm\",\"type\":\"webhook\",\"url\":\"ftp://x\",\"secret\":\"0123456789abcdef\"}]"));
    assertTrue(error("[{\"id\":\"crm\",\"type\":\"webhook\",\"url\":\"http://x\"}]")
        .startsWith("destinations[0].secret (destination \"crm\")"));
    assertTrue(error("[{\"id\":\"crm\",\"type\":\"fax\"}]")
        .startsWith("destinations[0].type (destination \"crm\") in " + file + " must be one of [webhook, kafka, websocket]"));
    assertTrue(error("[{\"id\":\"k\",\"type\":\"kafka\"}]").startsWith("destinations[0].topic (destination \"k\")"));
    assertEquals("destinations[0].timeoutMs (destination \"w\") in " + file + " must be an integer from 10 to 300000"
        + " (got 5)", error("[{\"id\":\"w\",\"type\":\"websocket\",\"timeoutMs\":5}]"));
    assertTrue(error("[{\"id\":\"w\",\"type\":\"websocket\",\"url\":\"http://x\"}]")
        .startsWith("destinations[0].url (destination \"w\") in " + file + " is not a setting of a websocket destination"));
    assertTrue(error("[{\"id\":\"w\",\"type\":\"websocket\",\"streams\":[\"clicks\"]}]")
        .startsWith("destinations[0].streams (destination \"w\")"));
    assertTrue(error("[{\"id\":\"w\",\"type\":\"websocket\"},{\"id\":\"w\",\"type\":\"websocket\"}]")
        .contains("id \"w\" is used twice"));
    assertTrue(error("{\"id\":\"w\"}").contains("must hold a JSON array"));
    assertTrue(error("[{\"id\":\"bad id!\",\"type\":\"websocket\"}]").startsWith("destinations[0].id"));
  }
}
