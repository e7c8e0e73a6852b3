package eventrouter;

import static eventrouter.testing.TestRouter.WRITE_KEY;
import static eventrouter.testing.TestRouter.basic;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every refusal of the client contract, with the shipped default limits: the status, a message naming the field and
 * the limit, and nothing of the refused request stored.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ErrorPathsTest {
  private static final String USER = "error-paths-user";
  private static final String LIMITED_KEY = "limited-write-key";
  private static final Map<String, String> JSON = Map.of("Content-Type", "application/json", "Authorization",
      basic(WRITE_KEY));
  private final Vertx vertx = Vertx.vertx();
  /** Message ids that appeared in refused requests; none may reach the warehouse. */
  private final List<String> refusedIds = new ArrayList<>();
  @TempDir
  static Path dataDir;
  private TestRouter router;

  @BeforeAll
  void start() {
    JsonObject limitedSource = new JsonObject().put("sources", new JsonArray().add(new JsonObject()
        .put("id", "limited").put("writeKey", LIMITED_KEY)
        .put("rateLimit", new JsonObject().put("eventsPerSecond", 0.5).put("burst", 3))));
    router = TestRouter.start(vertx, dataDir, Map.of(), limitedSource);
  }

  @AfterAll
  void stop() {
    // Everything refused above was refused whole: after a later event of the same user (same partition, so the
    // writer has passed every earlier record) is stored, none of the refused ids is there.
    String sentinel = UUID.randomUUID().toString();
    assertEquals(200, router.post("/v1/track", track(sentinel), JSON).statusCode());
    router.awaitCount(1, "SELECT count(*) FROM events WHERE message_id = $1", sentinel);
    assertTrue(refusedIds.size() > 5, "the tests recorded refused ids");
    assertEquals(0, router.query("SELECT count(*) FROM events WHERE message_id = ANY($1)",
        (Object) refusedIds.toArray(String[]::new)).get(0).getLong(0));
    router.close();
    vertx.close();
  }

  private String newId() {
    String id = UUID.randomUUID().toString();
    refusedIds.add(id);
    return id;
  }

  private static String track(String messageId) {
    return new JsonObject().put("type", "track").put("event", "Viewed").put("userId", USER)
        .put("messageId", messageId).encode();
  }

  private static void assertRefused(HttpResponse<String> response, int status, String... fragments) {
    assertEquals(status, response.statusCode(), response.body());
    JsonObject body = new JsonObject(response.body());
    assertFalse(body.getBoolean("success"));
    for (String fragment : fragments) {
      assertTrue(body.getString("error").contains(fragment), "error \"" + body.getString("error")
          + "\" should mention \"" + fragment + "\"");
    }
    assertEquals("application/json", response.headers().firstValue("Content-Type").orElse(""));
  }

  @Test
  @DisplayName("malformed JSON is 400 with the position")
  void malformedJson() {
    assertRefused(router.post("/v1/batch", "{\"batch\":[" + track(newId()) + ",}", JSON), 400, "not valid JSON",
        "line 1");
    assertRefused(router.post("/v1/track", "[1,2]", JSON), 400, "JSON object");
  }

  @Test
  @DisplayName("one event without a user fails the whole batch with 400 naming its index and field")
  void missingUser() {
    String body = "{\"batch\":[" + track(newId()) + ",{\"type\":\"track\",\"event\":\"X\",\"messageId\":\"" + newId()
        + "\"}]}";
    assertRefused(router.post("/v1/batch", body, JSON), 400, "batch[1].userId or batch[1].anonymousId is required");
  }

  @Test
  @DisplayName("each type's required field is named when missing")
  void requiredFields() {
    assertRefused(router.post("/v1/track", "{\"userId\":\"u\",\"messageId\":\"" + newId() + "\"}", JSON), 400,
        "event is required for track events");
    assertRefused(router.post("/v1/group", "{\"userId\":\"u\",\"messageId\":\"" + newId() + "\"}", JSON), 400,
        "groupId is required for group events");
    assertRefused(router.post("/v1/alias", "{\"userId\":\"u\",\"messageId\":\"" + newId() + "\"}", JSON), 400,
        "previousId is required for alias events");
    assertRefused(router.post("/v1/batch", "{\"batch\":[" + track(newId())
        + ",{\"type\":\"purchase\",\"userId\":\"u\"}]}", JSON), 400, "batch[1].type must be one of");
    assertRefused(router.post("/v1/batch", "{\"batch\":[{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\","
        + "\"timestamp\":\"yesterday\",\"messageId\":\"" + newId() + "\"}]}", JSON), 400, "batch[0].timestamp",
        "ISO-8601");
    assertRefused(router.post("/v1/track", "{\"event\":\"E\",\"userId\":\"u\",\"properties\":[1],\"messageId\":\""
        + newId() + "\"}", JSON), 400, "properties must be a JSON object");
    assertRefused(router.post("/v1/track", "{\"event\":\"E\",\"userId\":\"u\",\"properties\":{\"note\":\"a\\u0000b\"},"
        + "\"messageId\":\"" + newId() + "\"}", JSON), 400, "properties.note contains a NUL character");
    assertRefused(router.post("/v1/batch", "{\"batch\":[]}", JSON), 400, "batch is empty");
  }

  @Test
  @DisplayName("a missing or unknown write key is 401, from the header or the body")
  void writeKeys() {
    assertRefused(router.post("/v1/track", track(newId()), Map.of("Content-Type", "application/json")), 401,
        "write key is missing");
    assertRefused(router.post("/v1/track", track(newId()), Map.of("Content-Type", "application/json",
        "Authorization", basic("nope"))), 401, "unknown write key");
    String withBodyKey = new JsonObject(track(newId())).put("writeKey", "nope").encode();
    assertRefused(router.post("/v1/track", withBodyKey, Map.of("Content-Type", "application/json")), 401,
        "unknown write key");
    assertRefused(router.post("/v1/track", track(newId()), Map.of("Content-Type", "application/json",
        "Authorization", "Basic !!!")), 401, "Basic base64");
  }

  @Test
  @DisplayName("an event over 32 KB, a body over 500 KB (also once gunzipped) and 2,501 events are each 413")
  void sizeLimits() {
    String big = "x".repeat(33_000);
    assertRefused(router.post("/v1/track", "{\"event\":\"E\",\"userId\":\"u\",\"messageId\":\"" + newId()
        + "\",\"properties\":{\"blob\":\"" + big + "\"}}", JSON), 413, "more than the limit of 32768 bytes per event");
    assertRefused(router.post("/v1/batch", "{\"batch\":[" + track(newId()) + ",{\"type\":\"track\",\"event\":\"E\","
        + "\"userId\":\"u\",\"properties\":{\"blob\":\"" + big + "\"}}]}", JSON), 413, "batch[1] is",
        "32768 bytes per event");

    StringBuilder manySmall = new StringBuilder("{\"batch\":[");
    for (int i = 0; i < 20; i++) {
      manySmall.append(i == 0 ? "" : ",").append("{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\","
          + "\"properties\":{\"blob\":\"").append("y".repeat(30_000)).append("\"}}");
    }
    String overRequestLimit = manySmall.append("]}").toString();
    assertRefused(router.post("/v1/batch", overRequestLimit, JSON), 413, "request body exceeds 512000 bytes");
    assertRefused(router.postGzip("/v1/batch", overRequestLimit, JSON), 413, "request body exceeds 512000 bytes");

    StringBuilder tooMany = new StringBuilder("{\"batch\":[");
    for (int i = 0; i < 2_501; i++) {
      tooMany.append(i == 0 ? "" : ",").append(track(i == 0 ? newId() : UUID.randomUUID().toString()));
    }
    assertRefused(router.post("/v1/batch", tooMany.append("]}").toString(), JSON), 413,
        "more than 2500 events");
  }

  @Test
  @DisplayName("a content type other than JSON is 415")
  void contentType() {
    assertRefused(router.post("/v1/track", track(newId()), Map.of("Content-Type", "application/x-www-form-urlencoded",
        "Authorization", basic(WRITE_KEY))), 415, "Content-Type must be application/json");
    assertRefused(router.post("/v1/track", track(newId()), Map.of("Authorization", basic(WRITE_KEY))), 415,
        "got none");
  }

  @Test
  @DisplayName("a source over its token bucket gets 429 with Retry-After, and other sources are unaffected")
  void rateLimit() {
    Map<String, String> limited = Map.of("Content-Type", "application/json", "Authorization", basic(LIMITED_KEY));
    String threeEvents = "{\"batch\":[" + track(UUID.randomUUID().toString()) + "," + track(UUID.randomUUID()
        .toString()) + "," + track(UUID.randomUUID().toString()) + "]}";
    assertEquals(200, router.post("/v1/batch", threeEvents, limited).statusCode(), "the burst of 3 is admitted");
    HttpResponse<String> refused = router.post("/v1/track", track(newId()), limited);
    assertRefused(refused, 429, "source limited is over its rate limit of 0.5 events/s");
    long retryAfter = Long.parseLong(refused.headers().firstValue("Retry-After").orElseThrow());
    assertTrue(retryAfter >= 1 && retryAfter <= 2, "Retry-After " + retryAfter + " s covers one token at 0.5/s");
    assertEquals(200, router.post("/v1/track", track(UUID.randomUUID().toString()), JSON).statusCode(),
        "another source is not limited");
  }
}
