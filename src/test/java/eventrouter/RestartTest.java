package eventrouter;

import static org.junit.jupiter.api.Assertions.assertEquals;

import eventrouter.config.Secrets;
import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RestartTest {
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  Path dataDir;

  @AfterEach
  void close() {
    vertx.close();
  }

  @Test
  @DisplayName("after a stop and a restart on the same data dir, the data and the generated write key are still there")
  void restart() throws Exception {
    // No configured key: the router generates one into the data dir.
    try (TestRouter router = TestRouter.start(vertx, dataDir, Map.of("ROUTER_WRITE_KEYS", " "), new JsonObject())) {
      String writeKey = Files.readString(dataDir.resolve(Secrets.WRITE_KEY_FILE)).trim();
      Map<String, String> headers = Map.of("Content-Type", "application/json", "Authorization",
          TestRouter.basic(writeKey));
      String first = UUID.randomUUID().toString();
      assertEquals(200, router.post("/v1/track", "{\"event\":\"Before\",\"userId\":\"r\",\"messageId\":\"" + first
          + "\"}", headers).statusCode());
      router.awaitCount(1, "SELECT count(*) FROM events WHERE message_id = $1", first);

      router.restart();

      assertEquals(writeKey, Files.readString(dataDir.resolve(Secrets.WRITE_KEY_FILE)).trim());
      assertEquals(1, router.query("SELECT count(*) FROM events WHERE message_id = $1", first).get(0).getLong(0));
      String second = UUID.randomUUID().toString();
      assertEquals(200, router.post("/v1/track", "{\"event\":\"After\",\"userId\":\"r\",\"messageId\":\"" + second
          + "\"}", headers).statusCode(), "the generated key still works");
      router.awaitCount(1, "SELECT count(*) FROM events WHERE message_id = $1", second);
    }
  }
}
