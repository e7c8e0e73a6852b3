package eventrouter.clients;

import static eventrouter.testing.TestRouter.WRITE_KEY;
import static eventrouter.testing.TestRouter.basic;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Raw requests in the wire forms of the mobile SDKs that do not run on a JVM, as their sources build them: the path,
 * headers, encoding, where the write key goes, and the payload's shape (context.library, app, device, os, ...).
 * Sources read: segmentio/analytics-swift (HTTPClient.swift, Context.swift, MemoryStore.swift),
 * segmentio/analytics-react-native (api.ts), rudderlabs/rudder-sdk-android (RudderNetworkManager.java,
 * FlushUtils.java, RudderLibraryInfo.java), rudderlabs/rudder-sdk-kotlin (HttpClientImpl.kt,
 * RetryHeadersProviderImpl.kt, processed_batch_with_two_events.json), rudderlabs/rudder-sdk-swift
 * (LibraryInfoPlugin.swift; the iOS v1 SDK names its library the same).
 *
 * <p>Every device clock here runs an hour and a bit ahead of the router's, so each row's timestamp shows the skew
 * correction.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MobileWireFormsTest {
  private static final List<String> MOBILE_TYPES = List.of("identify", "screen", "track", "group", "alias");

  private final Vertx vertx = Vertx.vertx();
  @TempDir
  static Path dataDir;
  private TestRouter router;

  @BeforeAll
  void start() {
    router = TestRouter.start(vertx, dataDir);
  }

  @AfterAll
  void stop() {
    router.close();
    vertx.close();
  }

  /** One device's session: its ids, its clock (ahead of ours) and its context. */
  private record Device(String anonymousId, String userId, String aliasedId, String groupId, Instant clock,
      JsonObject context, String timeField, boolean rudder) {

    static Device create(String prefix, JsonObject context, String timeField, boolean rudder) {
      Instant skewed = Instant.now().plus(1, ChronoUnit.HOURS).plusMillis(1234).truncatedTo(ChronoUnit.MILLIS);
      return new Device(prefix + "-anon-" + UUID.randomUUID(), prefix + "-user-" + UUID.randomUUID(),
          prefix + "-aliased-" + UUID.randomUUID(), prefix + "-group-" + UUID.randomUUID(), skewed, context,
          timeField, rudder);
    }

    /** The event time of the n-th call: n seconds after the device's clock started. */
    Instant eventTime(int n) {
      return clock.plusSeconds(n);
    }

    /** The device's clock when it uploads: 10 s after it started. */
    Instant sentAt() {
      return clock.plusSeconds(10);
    }

    JsonObject event(String type, int n) {
      JsonObject event = new JsonObject().put("type", type).put("messageId", UUID.randomUUID().toString())
          .put("anonymousId", anonymousId).put(timeField, eventTime(n).toString()).put("context", context.copy());
      if (rudder) {
        event.put("channel", "mobile").put("integrations", new JsonObject().put("All", true));
      } else {
        event.put("integrations", new JsonObject());
      }
      switch (type) {
        case "identify" -> event.put("userId", userId)
            .put("traits", new JsonObject().put("email", "mobile@example.com").put("plan", "pro"));
        case "screen" -> event.put("userId", userId).put("name", "Checkout")
            .put("properties", new JsonObject().put("step", 2));
        case "track" -> event.put("userId", userId).put("event", "Order Completed")
            .put("properties", new JsonObject().put("revenue", 42.5).put("currency", "EUR"));
        case "group" -> event.put("userId", userId).put("groupId", groupId)
            .put("traits", new JsonObject().put("name", "Acme"));
        case "alias" -> event.put("userId", aliasedId).put("previousId", userId);
        default -> throw new IllegalArgumentException(type);
      }
      return event;
    }

    JsonArray batch() {
      JsonArray batch = new JsonArray();
      for (int i = 0; i < MOBILE_TYPES.size(); i++) {
        batch.add(event(MOBILE_TYPES.get(i), i + 1));
      }
      return batch;
    }
  }

  private static JsonObject appleContext(String libraryName, String libraryVersion) {
    return new JsonObject()
        .put("library", new JsonObject().put("name", libraryName).put("version", libraryVersion))
        .put("app", new JsonObject().put("name", "Shop").put("version", "3.2.1").put("build", "321")
            .put("namespace", "com.example.shop"))
        .put("device", new JsonObject().put("manufacturer", "Apple").put("type", "ios").put("model", "iPhone15,2")
            .put("name", "iPhone").put("id", UUID.randomUUID().toString()))
        .put("os", new JsonObject().put("name", "iOS").put("version", "17.4"))
        .put("screen", new JsonObject().put("width", 393).put("height", 852))
        .put("network", new JsonObject().put("wifi", true).put("cellular", false))
        .put("locale", "en-US").put("timezone", "Europe/Berlin")
        .put("instanceId", UUID.randomUUID().toString());
  }

  private static JsonObject androidContext(String libraryName, String libraryVersion, String anonymousId) {
    return new JsonObject()
        .put("library", new JsonObject().put("name", libraryName).put("version", libraryVersion))
        .put("app", new JsonObject().put("name", "Shop").put("namespace", "com.example.shop").put("version", "3.2.1")
            .put("build", "321"))
        .put("device", new JsonObject().put("id", "4721280db9b0ad1d").put("manufacturer", "Google")
            .put("model", "sdk_gphone64_arm64").put("name", "emu64a").put("type", "Android"))
        .put("network", new JsonObject().put("carrier", "T-Mobile").put("cellular", true).put("wifi", true)
            .put("bluetooth", false))
        .put("os", new JsonObject().put("name", "Android").put("version", "14"))
        .put("screen", new JsonObject().put("density", 480).put("height", 2992).put("width", 1344))
        .put("locale", "en-US").put("timezone", "Asia/Kolkata")
        .put("traits", new JsonObject().put("anonymousId", anonymousId))
        .put("userAgent", "Dalvik/2.1.0 (Linux; U; Android 14; sdk_gphone64_arm64 Build/UE1A.230829.036)")
        .put("sessionId", 1744195662L).put("sessionStart", true);
  }

  private static String base64(String value) {
    return Base64.getEncoder().encodeToString(value.getBytes(StandardCharsets.UTF_8));
  }

  /** The request must be taken whole, and every call must land with its ids, library and corrected time. */
  private void assertLanded(HttpResponse<String> response, Device device, JsonArray batch, String libraryName,
      String libraryVersion) {
    assertEquals(200, response.statusCode(), "answer: " + response.body());
    String[] ids = batch.stream().map(e -> ((JsonObject) e).getString("messageId")).toArray(String[]::new);
    Map<String, Row> rows = ClientRows.byMessageIds(router, ids);
    assertEquals(MOBILE_TYPES.size(), rows.size(), "rows: " + rows.keySet());
    for (int i = 0; i < MOBILE_TYPES.size(); i++) {
      String type = MOBILE_TYPES.get(i);
      Row row = rows.get(type);
      assertTrue(row != null, "a " + type + " row");
      assertEquals(batch.getJsonObject(i).getString("messageId"), row.getString("message_id"));
      assertEquals(device.anonymousId(), row.getString("anonymous_id"), type);
      assertEquals(type.equals("alias") ? device.aliasedId() : device.userId(), row.getString("user_id"), type);
      ClientRows.assertLibrary(row, libraryName, libraryVersion);
      ClientRows.assertSkewCorrected(row, device.eventTime(i + 1), device.sentAt());
      Instant received = row.getOffsetDateTime("received_at").toInstant();
      // The device stamped the call (10 - n) s before it uploaded: the corrected time is that long before receipt.
      assertEquals(received.minusSeconds(10 - (i + 1)), row.getOffsetDateTime("timestamp").toInstant(), type);
    }
    Row alias = router.query("SELECT previous_id, user_id FROM aliases WHERE message_id = $1",
        rows.get("alias").getString("message_id")).get(0);
    assertEquals(device.userId(), alias.getString("previous_id"));
    assertEquals(device.groupId(), router.query("SELECT group_id FROM \"groups\" WHERE message_id = $1",
        rows.get("group").getString("message_id")).get(0).getString("group_id"));
    assertEquals("Checkout", router.query("SELECT name FROM screens WHERE message_id = $1",
        rows.get("screen").getString("message_id")).get(0).getString("name"));
    if (device.rudder()) {
      assertEquals("mobile", ((JsonObject) rows.get("track").getValue("raw")).getString("channel"),
          "unknown fields such as channel are kept");
    }
  }

  @Test
  @DisplayName("analytics-swift (iOS): POST /v1/b, application/json; charset=utf-8, key in the body only")
  void segmentSwift() {
    Device device = Device.create("swift", appleContext("analytics-swift", "1.9.4"), "timestamp", false);
    JsonArray batch = device.batch();
    // MemoryStore/DirectoryStore close the batch file with sentAt and writeKey.
    String body = new JsonObject().put("batch", batch).put("sentAt", device.sentAt().toString())
        .put("writeKey", WRITE_KEY).encode();
    HttpResponse<String> response = router.post("/v1/b", body, Map.of(
        "Content-Type", "application/json; charset=utf-8",
        "User-Agent", "analytics-ios/1.9.4",
        "Accept-Encoding", "gzip",
        "X-Retry-Count", "0"));
    assertLanded(response, device, batch, "analytics-swift", "1.9.4");
  }

  @Test
  @DisplayName("analytics-react-native: POST /v1/b, application/json; charset=utf-8, key in the body only")
  void segmentReactNative() {
    Device device = Device.create("rn", appleContext("analytics-react-native", "2.20.3"), "timestamp", false);
    JsonArray batch = device.batch();
    String body = new JsonObject().put("batch", batch).put("sentAt", device.sentAt().toString())
        .put("writeKey", WRITE_KEY).encode();
    HttpResponse<String> response = router.post("/v1/b", body, Map.of(
        "Content-Type", "application/json; charset=utf-8",
        "X-Retry-Count", "1"));
    assertLanded(response, device, batch, "analytics-react-native", "2.20.3");
  }

  /**
   * A RudderStack mobile SDK's upload: POST /v1/batch with Basic auth and the base64 AnonymousId header, sentAt at the
   * top and on every event (FlushUtils.getPayloadFromMessages; the new SDKs do the same), gzipped or not, with the
   * retry headers of a retried upload if any.
   */
  private void assertRudderBatchLands(String prefix, Function<String, JsonObject> context, String library,
      String version, boolean gzip, Map<String, String> retryHeaders) {
    String anonymousId = prefix + "-anon-" + UUID.randomUUID();
    Device template = Device.create(prefix, new JsonObject(), "originalTimestamp", true);
    Device device = new Device(anonymousId, template.userId(), template.aliasedId(), template.groupId(),
        template.clock(), context.apply(anonymousId), "originalTimestamp", true);
    JsonArray batch = device.batch();
    batch.forEach(e -> ((JsonObject) e).put("sentAt", device.sentAt().toString()));
    String body = new JsonObject().put("sentAt", device.sentAt().toString()).put("batch", batch).encode();
    Map<String, String> headers = new HashMap<>(retryHeaders);
    headers.put("Authorization", basic(WRITE_KEY));
    headers.put("Content-Type", "application/json");
    headers.put("AnonymousId", base64(anonymousId));
    HttpResponse<String> response = gzip ? router.postGzip("/v1/batch", body, headers)
        : router.post("/v1/batch", body, headers);
    assertLanded(response, device, batch, library, version);
  }

  @Test
  @DisplayName("RudderStack Android v1: POST /v1/batch, Basic auth, gzip, AnonymousId header, sentAt on each event")
  void rudderAndroidV1() {
    assertRudderBatchLands("android", id -> androidContext("com.rudderstack.android.sdk.core", "1.28.0", id),
        "com.rudderstack.android.sdk.core", "1.28.0", true, Map.of());
  }

  @Test
  @DisplayName("RudderStack Kotlin (new Android SDK): POST /v1/batch, Basic auth, no gzip, AnonymousId and Rsa-* retry"
      + " headers")
  void rudderKotlin() {
    // A retry after a 503 (RetryHeadersProviderImpl).
    assertRudderBatchLands("rskotlin", id -> androidContext("com.rudderstack.sdk.kotlin.android", "1.6.0", id),
        "com.rudderstack.sdk.kotlin.android", "1.6.0", false, Map.of("Rsa-Retry-Attempt", "1",
            "Rsa-Since-Last-Attempt", "3120", "Rsa-Retry-Reason", "server-503"));
  }

  @Test
  @DisplayName("RudderStack iOS v1: POST /v1/batch, Basic auth, gzip, AnonymousId header, library rudder-ios-library")
  void rudderIosV1() {
    assertRudderBatchLands("ios", id -> appleContext("rudder-ios-library", "1.31.1"), "rudder-ios-library",
        "1.31.1", true, Map.of());
  }

  @Test
  @DisplayName("RudderStack Swift (new iOS SDK): POST /v1/batch, Basic auth, no gzip, AnonymousId and Rsa-* retry"
      + " headers, library rudder-ios-library (LibraryInfoPlugin.swift)")
  void rudderSwift() {
    assertRudderBatchLands("rsswift", id -> appleContext("rudder-ios-library", "1.2.0"), "rudder-ios-library",
        "1.2.0", false, Map.of("Rsa-Retry-Attempt", "2", "Rsa-Since-Last-Attempt", "8000",
            "Rsa-Retry-Reason", "client-timeout"));
  }

  // ---- how clients react to our answers ----

  @Test
  @DisplayName("a wrong key in Basic auth gets 401 with \"Invalid write key\" in the body, which stops RudderStack's"
      + " mobile uploaders instead of retrying forever")
  void rudderWrongKey() {
    Device device = Device.create("wrongkey", androidContext("com.rudderstack.android.sdk.core", "1.28.0", "x"),
        "originalTimestamp", true);
    String body = new JsonObject().put("sentAt", device.sentAt().toString()).put("batch", device.batch()).encode();
    HttpResponse<String> response = router.postGzip("/v1/batch", body, Map.of(
        "Authorization", basic("not-a-key-" + UUID.randomUUID()),
        "Content-Type", "application/json",
        "AnonymousId", base64(device.anonymousId())));
    assertEquals(401, response.statusCode(), response.body());
    // RudderNetworkManager.getResult: errorPayload.toLowerCase().contains("invalid write key")
    assertTrue(response.body().contains("Invalid write key"), response.body());
  }

  @Test
  @DisplayName("a wrong key in a Segment mobile body gets 401 with \"Invalid write key\"")
  void segmentWrongKey() {
    Device device = Device.create("wrongkey-seg", appleContext("analytics-swift", "1.9.4"), "timestamp", false);
    String body = new JsonObject().put("batch", device.batch()).put("sentAt", device.sentAt().toString())
        .put("writeKey", "not-a-key-" + UUID.randomUUID()).encode();
    HttpResponse<String> response = router.post("/v1/b", body,
        Map.of("Content-Type", "application/json; charset=utf-8"));
    assertEquals(401, response.statusCode(), response.body());
    assertTrue(response.body().contains("Invalid write key"), response.body());
  }

  @Test
  @DisplayName("one invalid event does not fail a RudderStack Android batch (it would be retried every second):"
      + " the valid ones land and the answer is 200")
  void oneBadEventInABatch() {
    String anonymousId = "partial-anon-" + UUID.randomUUID();
    Device template = Device.create("partial", new JsonObject(), "originalTimestamp", true);
    Device device = new Device(anonymousId, template.userId(), template.aliasedId(), template.groupId(),
        template.clock(), androidContext("com.rudderstack.android.sdk.core", "1.28.0", anonymousId),
        "originalTimestamp", true);
    JsonArray batch = device.batch();
    JsonObject bad = device.event("track", 6);
    bad.remove("event"); // a track without its event name
    JsonArray withBad = batch.copy().add(bad);
    String body = new JsonObject().put("sentAt", device.sentAt().toString()).put("batch", withBad).encode();
    HttpResponse<String> response = router.postGzip("/v1/batch", body, Map.of(
        "Authorization", basic(WRITE_KEY),
        "Content-Type", "application/json",
        "AnonymousId", base64(anonymousId)));
    assertLanded(response, device, batch, "com.rudderstack.android.sdk.core", "1.28.0");
    assertEquals(0, router.query("SELECT count(*) FROM events WHERE message_id = $1", bad.getString("messageId"))
        .get(0).getLong(0));
  }
}
