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
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
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
    // Everything refused above was kept out of events: after a later event of the same user (same partition, so the
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

  /**
   * A batch with one refused event: 200, the refused one named by index, reason and field, and kept with its bytes
   * in ingest_rejects; its valid neighbour is stored.
   */
  private void assertOneRejected(HttpResponse<String> response, String storedId, String rejectedId, int index,
      String reason, String fragment) {
    assertEquals(200, response.statusCode(), response.body());
    JsonObject body = new JsonObject(response.body());
    assertTrue(body.getBoolean("success"), response.body());
    JsonArray rejected = body.getJsonArray("rejected");
    assertEquals(1, rejected.size(), response.body());
    JsonObject reject = rejected.getJsonObject(0);
    assertEquals(index, reject.getInteger("index"));
    assertEquals(rejectedId, reject.getString("messageId"));
    assertEquals(reason, reject.getString("reason"));
    assertTrue(reject.getString("error").contains(fragment), reject.getString("error"));
    if (storedId != null) {
      router.awaitCount(1, "SELECT count(*) FROM events WHERE message_id = $1", storedId);
    }
    assertKept(rejectedId, index, reason, fragment);
  }

  /** The refused event is in ingest_rejects, with its reason, its error and its bytes as sent. */
  private void assertKept(String messageId, Integer index, String reason, String fragment) {
    router.awaitCount(1, "SELECT count(*) FROM ingest_rejects WHERE message_id = $1", messageId);
    var row = router.query("SELECT event_index, reason, error, raw, source_id, status FROM ingest_rejects"
        + " WHERE message_id = $1", messageId).get(0);
    assertEquals(index, row.getInteger("event_index"));
    assertEquals(reason, row.getString("reason"));
    assertTrue(row.getString("error").contains(fragment), row.getString("error"));
    assertTrue(row.getString("raw").contains(messageId), row.getString("raw"));
    assertFalse(row.getString("source_id").isEmpty());
  }

  @Test
  @DisplayName("one event without a user is rejected alone: 200 naming its index and field, its neighbour stored")
  void missingUser() {
    String stored = UUID.randomUUID().toString();
    String rejected = newId();
    String body = "{\"batch\":[" + track(stored) + ",{\"type\":\"track\",\"event\":\"X\",\"messageId\":\""
        + rejected + "\"}]}";
    assertOneRejected(router.post("/v1/batch", body, JSON), stored, rejected, 1, "missing_id",
        "batch[1].userId or batch[1].anonymousId is required");
  }

  @Test
  @DisplayName("a batch item that is not an object is rejected alone, and kept as it was sent")
  void notAnObject() {
    String stored = UUID.randomUUID().toString();
    HttpResponse<String> response = router.post("/v1/batch", "{\"batch\":[\"hello\"," + track(stored) + "]}", JSON);
    assertEquals(200, response.statusCode(), response.body());
    JsonObject reject = new JsonObject(response.body()).getJsonArray("rejected").getJsonObject(0);
    assertEquals(0, reject.getInteger("index"));
    assertEquals("not_an_object", reject.getString("reason"));
    router.awaitCount(1, "SELECT count(*) FROM events WHERE message_id = $1", stored);
    router.awaitCount(1, "SELECT count(*) FROM ingest_rejects WHERE raw = '\"hello\"' AND reason = 'not_an_object'");
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
    String stored = UUID.randomUUID().toString();
    String purchase = newId();
    assertOneRejected(router.post("/v1/batch", "{\"batch\":[" + track(stored)
        + ",{\"type\":\"purchase\",\"userId\":\"u\",\"messageId\":\"" + purchase + "\"}]}", JSON), stored, purchase, 1,
        "invalid_type", "batch[1].type must be one of");
    String yesterday = newId();
    assertOneRejected(router.post("/v1/batch", "{\"batch\":[{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\","
        + "\"timestamp\":\"yesterday\",\"messageId\":\"" + yesterday + "\"}]}", JSON), null, yesterday, 0,
        "invalid_timestamp", "batch[0].timestamp must be an ISO-8601");
    String noEvent = newId();
    assertRefused(router.post("/v1/track", "{\"userId\":\"u\",\"messageId\":\"" + noEvent + "\"}", JSON), 400,
        "event is required for track events");
    assertKept(noEvent, null, "missing_field", "event is required");
    assertRefused(router.post("/v1/track", "{\"event\":\"E\",\"userId\":\"u\",\"properties\":[1],\"messageId\":\""
        + newId() + "\"}", JSON), 400, "properties must be a JSON object");
    assertRefused(router.post("/v1/track", "{\"event\":\"E\",\"userId\":\"u\",\"properties\":{\"note\":\"a\\u0000b\"},"
        + "\"messageId\":\"" + newId() + "\"}", JSON), 400, "properties.note contains a NUL character");
    assertRefused(router.post("/v1/batch", "{\"batch\":[]}", JSON), 400, "batch is empty");
  }

  @Test
  @DisplayName("a missing or unknown write key is 401, from the header or the body")
  void writeKeys() {
    // "Invalid write key" is what RudderStack's mobile SDKs look for before they stop retrying.
    assertRefused(router.post("/v1/track", track(newId()), Map.of("Content-Type", "application/json")), 401,
        "Invalid write key: none was sent");
    assertRefused(router.post("/v1/track", track(newId()), Map.of("Content-Type", "application/json",
        "Authorization", basic("nope"))), 401, "Invalid write key");
    String withBodyKey = new JsonObject(track(newId())).put("writeKey", "nope").encode();
    assertRefused(router.post("/v1/track", withBodyKey, Map.of("Content-Type", "application/json")), 401,
        "Invalid write key");
    assertRefused(router.post("/beacon/v1/batch?writeKey=nope", "{\"batch\":[" + track(newId()) + "]}",
        Map.of("Content-Type", "text/plain")), 401, "Invalid write key");
    assertRefused(router.post("/v1/track", track(newId()), Map.of("Content-Type", "application/json",
        "Authorization", "Basic !!!")), 401, "Basic base64");
  }

  @Test
  @DisplayName("an event over 32 KB, a body over 500 KB (also once gunzipped) and 2,501 events are each 413")
  void sizeLimits() {
    String big = "x".repeat(33_000);
    assertRefused(router.post("/v1/track", "{\"event\":\"E\",\"userId\":\"u\",\"messageId\":\"" + newId()
        + "\",\"properties\":{\"blob\":\"" + big + "\"}}", JSON), 413, "more than the limit of 32768 bytes per event");
    String stored = UUID.randomUUID().toString();
    String large = newId();
    assertOneRejected(router.post("/v1/batch", "{\"batch\":[" + track(stored) + ",{\"type\":\"track\",\"event\":\"E\","
        + "\"userId\":\"u\",\"messageId\":\"" + large + "\",\"properties\":{\"blob\":\"" + big + "\"}}]}", JSON), stored,
        large, 1, "event_too_large", "32768 bytes per event");

    StringBuilder manySmall = new StringBuilder("{\"batch\":[");
    for (int i = 0; i < 20; i++) {
      manySmall.append(i == 0 ? "" : ",").append("{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\","
          + "\"properties\":{\"blob\":\"").append("y".repeat(30_000)).append("\"}}");
    }
    String overRequestLimit = manySmall.append("]}").toString();
    assertRefused(router.post("/v1/batch", overRequestLimit, JSON), 413, "request body exceeds 512000 bytes");
    assertRefused(router.postGzip("/v1/batch", overRequestLimit, JSON), 413, "request body exceeds 512000 bytes");
    // Chunked, with no Content-Length to refuse it by up front: refused as the bytes pass the limit.
    HttpResponse<String> chunked = postChunked(overRequestLimit);
    assertRefused(chunked, 413, "request body exceeds 512000 bytes");
    assertEquals(200, router.post("/v1/track", track(UUID.randomUUID().toString()), JSON).statusCode(),
        "the router goes on serving");

    StringBuilder tooMany = new StringBuilder("{\"batch\":[");
    for (int i = 0; i < 2_501; i++) {
      tooMany.append(i == 0 ? "" : ",").append(track(i == 0 ? newId() : UUID.randomUUID().toString()));
    }
    assertRefused(router.post("/v1/batch", tooMany.append("]}").toString(), JSON), 413,
        "more than 2500 events");
  }

  private HttpResponse<String> postChunked(String body) {
    HttpRequest request = HttpRequest.newBuilder(URI.create(router.baseUrl() + "/v1/batch"))
        .header("Authorization", basic(WRITE_KEY)).timeout(Duration.ofSeconds(30))
        .POST(HttpRequest.BodyPublishers.ofInputStream(
            () -> new ByteArrayInputStream(body.getBytes(StandardCharsets.UTF_8)))).build();
    try {
      return HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Test
  @DisplayName("the body is JSON whatever Content-Type says; only an encoding other than gzip is 415")
  void contentType() {
    for (Map<String, String> headers : List.of(
        Map.of("Content-Type", "application/x-www-form-urlencoded", "Authorization", basic(WRITE_KEY)),
        Map.of("Authorization", basic(WRITE_KEY)),
        Map.of("Content-Type", "text/xml", "Authorization", basic(WRITE_KEY)))) {
      String id = UUID.randomUUID().toString();
      assertEquals(200, router.post("/v1/track", track(id), headers).statusCode(), headers.toString());
      router.awaitCount(1, "SELECT count(*) FROM events WHERE message_id = $1", id);
    }
    assertRefused(router.post("/v1/track", track(newId()), Map.of("Content-Encoding", "br",
        "Authorization", basic(WRITE_KEY))), 415, "Content-Encoding \"br\" is not supported");
    assertRefused(router.post("/v1/track", track(newId()), Map.of("Content-Encoding", "gzip",
        "Authorization", basic(WRITE_KEY))), 400, "declared Content-Encoding: gzip but is not gzip");
    assertRefused(router.post("/v1/track", "", Map.of("Authorization", basic(WRITE_KEY))), 400, "body is empty");
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
