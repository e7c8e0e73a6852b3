package eventrouter.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class RouterConfigTest {
  private static RouterConfig read(String json, Map<String, String> env) {
    return RouterConfig.from(new Settings(new JsonObject(json), "router.json", env));
  }

  @Test
  @DisplayName("the shipped conf/router.json reads with the documented defaults and embedded services")
  void shippedDefaults() {
    RouterConfig config = RouterConfig.from(Settings.load(Path.of("conf", "router.json"), Map.of()));
    assertEquals(8080, config.http().port());
    assertEquals(Path.of("./data"), config.dataDir());
    assertNull(config.kafka().bootstrap());
    assertNull(config.redis().url());
    assertNull(config.postgres().url());
    assertEquals(32_768, config.ingest().maxEventBytes());
    assertEquals(512_000, config.ingest().maxRequestBytes());
    assertEquals(2_500, config.ingest().maxBatchEvents());
    assertEquals(50, config.warehouse().flushMs());
  }

  @Test
  @DisplayName("environment variables override the file")
  void envOverrides() {
    RouterConfig config = read("{\"http\":{\"port\":8080}}", Map.of("ROUTER_HTTP_PORT", "9090",
        "ROUTER_KAFKA_BOOTSTRAP", "k1:9092,k2:9092", "ROUTER_REDIS_URL", "redis://r:6379/1",
        "ROUTER_PG_URL", "postgresql://u:p@db:5432/w", "ROUTER_WRITE_KEYS", "a, b"));
    assertEquals(9090, config.http().port());
    assertEquals("k1:9092,k2:9092", config.kafka().bootstrap());
    assertEquals("redis://r:6379/1", config.redis().url());
    assertEquals("postgresql://u:p@db:5432/w", config.postgres().url());
    assertEquals(2, config.sources().size());
    assertEquals("a", config.sources().get(0).writeKey());
  }

  @Test
  @DisplayName("a bad value fails naming the key, where it came from and what is allowed")
  void badValues() {
    assertEquals("ROUTER_HTTP_PORT (config key http.port) must be an integer from 0 to 65535 (got \"70000\")",
        assertThrows(ConfigException.class, () -> read("{}", Map.of("ROUTER_HTTP_PORT", "70000"))).getMessage());
    assertEquals("ingest.maxBatchEvents in router.json must be an integer from 1 to 100000 (got \"many\")",
        assertThrows(ConfigException.class, () -> read("{\"ingest\":{\"maxBatchEvents\":\"many\"}}", Map.of()))
            .getMessage());
    assertEquals("ROUTER_KAFKA_BOOTSTRAP (config key kafka.bootstrap) must be host:port[,host:port...] (got \"kafka\")",
        assertThrows(ConfigException.class, () -> read("{}", Map.of("ROUTER_KAFKA_BOOTSTRAP", "kafka"))).getMessage());
  }

  @Test
  @DisplayName("a misspelt key, a bad source and a duplicate write key each fail at start-up")
  void structure() {
    assertThrows(ConfigException.class, () -> read("{\"htp\":{\"port\":1}}", Map.of()));
    assertEquals("sources[0].writeKey in router.json must be a non-empty string", assertThrows(ConfigException.class,
        () -> read("{\"sources\":[{\"id\":\"web\"}]}", Map.of())).getMessage());
    assertThrows(ConfigException.class, () -> read("{\"sources\":[{\"id\":\"web\",\"writeKey\":\"k\"}]}",
        Map.of("ROUTER_WRITE_KEYS", "k")));
    assertEquals("ingest.maxEventBytes (600000) must not exceed ingest.maxRequestBytes (512000)",
        assertThrows(ConfigException.class, () -> read("{\"ingest\":{\"maxEventBytes\":600000}}", Map.of()))
            .getMessage());
  }
}
