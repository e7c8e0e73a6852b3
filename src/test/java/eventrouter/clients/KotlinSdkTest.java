package eventrouter.clients;

import static eventrouter.testing.TestRouter.WRITE_KEY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.segment.analytics.kotlin.core.Configuration;
import com.segment.analytics.kotlin.core.RequestFactory;
import com.segment.analytics.kotlin.core.Telemetry;
import com.segment.analytics.kotlin.core.compat.ConfigurationBuilder;
import com.segment.analytics.kotlin.core.compat.JavaAnalytics;
import com.segment.analytics.kotlin.core.utilities.InMemoryStorageProvider;
import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.net.HttpURLConnection;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import kotlin.Unit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Segment's mobile SDK core, analytics-kotlin (the library inside analytics-android), from Maven Central, running on
 * this JVM against a real router: it sends its own wire form ({@code POST <apiHost>/b}, gzip, key in the body only).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KotlinSdkTest {
  /** The version of the dependency in pom.xml, which the SDK writes into context.library. */
  private static final String SDK_VERSION = "1.19.2";

  private final Vertx vertx = Vertx.vertx();
  @TempDir
  static Path dataDir;
  private TestRouter router;
  private SdkWireRecorder recorder;
  private final List<JavaAnalytics> instances = new java.util.ArrayList<>();
  private final ConcurrentLinkedQueue<Throwable> sdkErrors = new ConcurrentLinkedQueue<>();

  /**
   * The SDK builds {@code https://<apiHost>/b} and {@code https://<cdnHost>/projects/<key>/settings}; the test router
   * speaks plain HTTP. Only the scheme changes: the SDK's own code still sets every header and writes the body.
   */
  static final class PlainHttpRequests extends RequestFactory {
    @Override
    public HttpURLConnection openConnection(String url) {
      return super.openConnection(url.replaceFirst("^https://", "http://"));
    }
  }

  @BeforeAll
  void start() {
    // The SDK's own error metrics would go to Segment; nothing may leave this machine.
    Telemetry.INSTANCE.setEnable(false);
    router = TestRouter.start(vertx, dataDir);
    recorder = SdkWireRecorder.start(vertx, router.router().httpPort());
  }

  @AfterAll
  void stop() {
    instances.forEach(instance -> instance.getAnalytics().shutdown());
    recorder.close();
    router.close();
    vertx.close();
  }

  private JavaAnalytics analytics(String writeKey, int flushAt) {
    Configuration configuration = new ConfigurationBuilder(writeKey)
        .setApplication(new Object()) // Android's Context on a phone; any object on a plain JVM
        .setApiHost(recorder.hostAndPort() + "/v1")
        .setCdnHost(recorder.hostAndPort() + "/v1")
        // The count decides when it uploads, so that one request carries every call. (An explicit flush() right
        // after the calls would overtake them: they wait in the SDK's startup queue until its settings are fetched.)
        .setFlushAt(flushAt)
        .setFlushInterval(3600)
        .setRequestFactory(new PlainHttpRequests())
        .build();
    configuration.setStorageProvider(new InMemoryStorageProvider());
    configuration.setErrorHandler(error -> {
      sdkErrors.add(error);
      return Unit.INSTANCE;
    });
    JavaAnalytics analytics = new JavaAnalytics(configuration);
    instances.add(analytics);
    return analytics;
  }

  @Test
  @Order(1)
  @DisplayName("analytics-kotlin's identify, screen, track, group and alias reach the warehouse with their ids,"
      + " context.library and skew-corrected timestamps")
  void everyCallType() {
    JavaAnalytics sdk = analytics(WRITE_KEY, 5);
    String user = "kotlin-user-" + UUID.randomUUID();
    String aliasedUser = "kotlin-aliased-" + UUID.randomUUID();
    String group = "kotlin-group-" + UUID.randomUUID();
    String anonymousId = sdk.anonymousId();

    sdk.identify(user, Map.of("email", "kotlin@example.com", "plan", "pro"));
    sdk.screen("Checkout", Map.of("step", 2), "Shop");
    sdk.track("Order Completed", Map.of("revenue", 42.5, "currency", "EUR"));
    sdk.group(group, Map.of("name", "Acme"));
    sdk.alias(aliasedUser);

    // What the SDK sent: one gzipped batch to <apiHost>/b, the key in the body only.
    SdkWireRecorder.Exchange upload = recorder.await(vertx, "/v1/b", e -> sentBy(e, anonymousId));
    assertEquals(200, upload.status(), upload.toString());
    assertEquals(1, recorder.to("/v1/b").stream().filter(e -> sentBy(e, anonymousId)).count(),
        "one upload: " + recorder.exchanges());
    assertEquals("POST", upload.method());
    assertEquals("text/plain", upload.header("Content-Type"));
    assertEquals("gzip", upload.header("Content-Encoding"));
    assertTrue(upload.chunked(), "streamed with chunked transfer encoding: " + upload);
    assertNull(upload.header("Authorization"), "no Basic auth: " + upload);
    assertEquals("analytics-kotlin/" + SDK_VERSION, upload.header("User-Agent"));
    JsonObject body = upload.json();
    assertEquals(WRITE_KEY, body.getString("writeKey"));
    JsonArray batch = body.getJsonArray("batch");
    assertEquals(5, batch.size());

    Map<String, Row> rows = ClientRows.byAnonymousId(router, anonymousId, 5);
    // The SDK processes calls on a thread pool, so they may reach the batch in any order.
    assertEquals(Set.of("identify", "screen", "track", "group", "alias"), rows.keySet(), "SDK errors: " + sdkErrors);
    for (Row row : rows.values()) {
      ClientRows.assertLibrary(row, "analytics-kotlin", SDK_VERSION);
      ClientRows.assertSkewCorrected(row);
      assertEquals(anonymousId, row.getString("anonymous_id"));
    }
    assertEquals(user, rows.get("identify").getString("user_id"));
    assertEquals("pro", ((JsonObject) router.query("SELECT traits FROM identifies WHERE message_id = $1",
        rows.get("identify").getString("message_id")).get(0).getValue("traits")).getString("plan"));

    Row screen = router.query("SELECT name, category, properties FROM screens WHERE message_id = $1",
        rows.get("screen").getString("message_id")).get(0);
    assertEquals("Checkout", screen.getString("name"));
    assertEquals(2, ((JsonObject) screen.getValue("properties")).getInteger("step"));

    assertEquals("Order Completed", rows.get("track").getString("event"));
    assertEquals(user, rows.get("track").getString("user_id"));
    assertEquals(42.5, ((JsonObject) router.query("SELECT properties FROM tracks WHERE message_id = $1",
        rows.get("track").getString("message_id")).get(0).getValue("properties")).getDouble("revenue"));

    assertEquals(group, router.query("SELECT group_id FROM \"groups\" WHERE message_id = $1",
        rows.get("group").getString("message_id")).get(0).getString("group_id"));

    Row alias = router.query("SELECT previous_id, user_id FROM aliases WHERE message_id = $1",
        rows.get("alias").getString("message_id")).get(0);
    assertEquals(user, alias.getString("previous_id"));
    assertEquals(aliasedUser, alias.getString("user_id"));

    for (Row row : rows.values()) {
      JsonObject sent = batch.stream().map(JsonObject.class::cast)
          .filter(e -> e.getString("messageId").equals(row.getString("message_id"))).findFirst().orElseThrow();
      // The SDK's event time is its "timestamp"; the batch's "sentAt" is when it uploaded.
      ClientRows.assertSkewCorrected(row, ClientRows.instant(sent.getString("timestamp")),
          ClientRows.instant(body.getString("sentAt")));
    }
  }

  private static boolean sentBy(SdkWireRecorder.Exchange exchange, String anonymousId) {
    return exchange.json().getJsonArray("batch").stream()
        .anyMatch(e -> anonymousId.equals(((JsonObject) e).getString("anonymousId")));
  }

  @Test
  @Order(2)
  @DisplayName("a wrong write key: its settings request is answered 404 \"Invalid write key\", so analytics-kotlin"
      + " never starts uploading what the router would refuse")
  void wrongWriteKey() {
    String wrongKey = "not-a-key-" + UUID.randomUUID();
    JavaAnalytics sdk = analytics(wrongKey, 1);
    sdk.track("Refused", Map.of("n", 1));

    String settingsPath = "/v1/projects/" + wrongKey + "/settings";
    SdkWireRecorder.Exchange settings = recorder.await(vertx, settingsPath, e -> true);
    assertEquals("GET", settings.method());
    assertEquals(404, settings.status());
    assertTrue(settings.responseBody().contains("Invalid write key"), settings.responseBody());
  }
}
