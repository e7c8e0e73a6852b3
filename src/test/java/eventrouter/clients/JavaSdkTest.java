package eventrouter.clients;

import static eventrouter.testing.TestRouter.WRITE_KEY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.rudderstack.sdk.java.analytics.RudderAnalytics;
import com.segment.analytics.Analytics;
import com.segment.analytics.messages.AliasMessage;
import com.segment.analytics.messages.GroupMessage;
import com.segment.analytics.messages.IdentifyMessage;
import com.segment.analytics.messages.PageMessage;
import com.segment.analytics.messages.ScreenMessage;
import com.segment.analytics.messages.TrackMessage;
import eventrouter.config.RouterConfig;
import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server-side Java SDKs of Segment and RudderStack from Maven Central, each sending every call type through a
 * recording proxy to a real router: their wire form, then the warehouse rows.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JavaSdkTest {
  private static final String SOURCE_ID = RouterConfig.sourceForKey(WRITE_KEY, RouterConfig.RateLimit.OFF).id();
  private static final List<String> ALL_TYPES = List.of("identify", "page", "screen", "track", "group", "alias");

  private final Vertx vertx = Vertx.vertx();
  @TempDir
  static Path dataDir;
  private TestRouter router;
  private SdkWireRecorder recorder;

  @BeforeAll
  void start() {
    router = TestRouter.start(vertx, dataDir);
    recorder = SdkWireRecorder.start(vertx, router.router().httpPort());
  }

  @AfterAll
  void stop() {
    recorder.close();
    router.close();
    vertx.close();
  }

  private static String id() {
    return UUID.randomUUID().toString();
  }

  private Row one(String sql, Object... params) {
    List<Row> rows = router.query(sql, params);
    assertEquals(1, rows.size(), "rows for " + sql);
    return rows.get(0);
  }

  /** The typed tables of every call type, with the ids sent in {@code ids} (in ALL_TYPES order). */
  private void assertTypedRows(Map<String, Row> rows, String[] ids, String user, String anonymous, String group) {
    assertEquals(ALL_TYPES, ALL_TYPES.stream().filter(rows::containsKey).toList(), "types: " + rows.keySet());
    Row identify = one("SELECT user_id, anonymous_id, traits FROM identifies WHERE message_id = $1", ids[0]);
    assertEquals(user, identify.getString("user_id"));
    assertEquals(anonymous, identify.getString("anonymous_id"));
    assertEquals("pro", ((JsonObject) identify.getValue("traits")).getString("plan"));
    assertEquals("shopper@example.com", ((JsonObject) one("SELECT traits FROM users WHERE id = $1", user)
        .getValue("traits")).getString("email"));
    assertEquals("Home", one("SELECT name FROM pages WHERE message_id = $1", ids[1]).getString("name"));
    assertEquals("Checkout", one("SELECT name FROM screens WHERE message_id = $1", ids[2]).getString("name"));
    Row track = one("SELECT event, user_id, properties FROM tracks WHERE message_id = $1", ids[3]);
    assertEquals("Order Completed", track.getString("event"));
    assertEquals(user, track.getString("user_id"));
    assertEquals(42.5, ((JsonObject) track.getValue("properties")).getDouble("revenue"));
    assertEquals(group, one("SELECT group_id FROM \"groups\" WHERE message_id = $1", ids[4]).getString("group_id"));
    Row alias = one("SELECT previous_id, user_id FROM aliases WHERE message_id = $1", ids[5]);
    assertEquals(anonymous, alias.getString("previous_id"));
    assertEquals(user, alias.getString("user_id"));
    for (Row row : rows.values()) {
      assertEquals(SOURCE_ID, router.query("SELECT source_id FROM events WHERE message_id = $1",
          row.getString("message_id")).get(0).getString(0));
      assertNotNull(((JsonObject) row.getValue("context")).getString("ip"), "context.ip is filled from the connection");
      ClientRows.assertSkewCorrected(row);
    }
  }

  @Test
  @DisplayName("Segment's Java SDK (POST /v1/import/, key in the body) lands every call type with its ids,"
      + " context.library and skew-corrected timestamps")
  void segmentSdk() {
    String user = "seg-user-" + id();
    String anonymous = "seg-anon-" + id();
    String group = "seg-group-" + id();
    String[] ids = {id(), id(), id(), id(), id(), id()};
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    Analytics analytics = Analytics.builder(WRITE_KEY).endpoint(recorder.baseUrl()).flushQueueSize(100)
        .callback(new com.segment.analytics.Callback() {
          @Override
          public void success(com.segment.analytics.messages.Message message) {
          }

          @Override
          public void failure(com.segment.analytics.messages.Message message, Throwable error) {
            failures.add(error);
          }
        }).build();
    analytics.enqueue(IdentifyMessage.builder().userId(user).anonymousId(anonymous).messageId(ids[0])
        .traits(Map.of("email", "shopper@example.com", "plan", "pro")));
    analytics.enqueue(PageMessage.builder("Home").userId(user).anonymousId(anonymous).messageId(ids[1])
        .properties(Map.of("path", "/")));
    analytics.enqueue(ScreenMessage.builder("Checkout").userId(user).anonymousId(anonymous).messageId(ids[2]));
    analytics.enqueue(TrackMessage.builder("Order Completed").userId(user).anonymousId(anonymous).messageId(ids[3])
        .properties(Map.of("revenue", 42.5, "currency", "EUR")));
    analytics.enqueue(GroupMessage.builder(group).userId(user).anonymousId(anonymous).messageId(ids[4])
        .traits(Map.of("name", "Acme")));
    analytics.enqueue(AliasMessage.builder(anonymous).userId(user).anonymousId(anonymous).messageId(ids[5]));
    analytics.flush();
    analytics.shutdown();

    SdkWireRecorder.Exchange upload = recorder.await(vertx, "/v1/import/",
        e -> e.json().getJsonArray("batch").getJsonObject(0).getString("anonymousId").equals(anonymous));
    assertEquals(200, upload.status(), upload.toString());
    assertTrue(upload.header("Content-Type").startsWith("application/json"), upload.toString());
    assertEquals(WRITE_KEY, upload.json().getString("writeKey"), "the key in the body");
    assertNotNull(upload.json().getString("sentAt"));

    Map<String, Row> rows = ClientRows.byMessageIds(router, ids);
    assertTrue(failures.isEmpty(), "SDK reported failures: " + failures);
    assertTypedRows(rows, ids, user, anonymous, group);
    for (Row row : rows.values()) {
      ClientRows.assertLibrary(row, "analytics-java", null);
    }
  }

  @Test
  @DisplayName("RudderStack's Java SDK (POST /v1/batch, Basic auth, gzip) lands every call type with its ids,"
      + " context.library and skew-corrected timestamps")
  void rudderSdk() {
    String user = "rudder-user-" + id();
    String anonymous = "rudder-anon-" + id();
    String group = "rudder-group-" + id();
    String[] ids = {id(), id(), id(), id(), id(), id()};
    RudderAnalytics analytics = RudderAnalytics.builder(WRITE_KEY).setDataPlaneUrl(recorder.baseUrl()).setGZIP(true)
        .flushQueueSize(100).build();
    analytics.enqueue(com.rudderstack.sdk.java.analytics.messages.IdentifyMessage.builder()
        .userId(user).anonymousId(anonymous).messageId(ids[0])
        .traits(Map.of("email", "shopper@example.com", "plan", "pro")));
    analytics.enqueue(com.rudderstack.sdk.java.analytics.messages.PageMessage.builder("Home")
        .userId(user).anonymousId(anonymous).messageId(ids[1]).properties(Map.of("path", "/")));
    analytics.enqueue(com.rudderstack.sdk.java.analytics.messages.ScreenMessage.builder("Checkout")
        .userId(user).anonymousId(anonymous).messageId(ids[2]));
    analytics.enqueue(com.rudderstack.sdk.java.analytics.messages.TrackMessage.builder("Order Completed")
        .userId(user).anonymousId(anonymous).messageId(ids[3]).properties(Map.of("revenue", 42.5, "currency", "EUR")));
    analytics.enqueue(com.rudderstack.sdk.java.analytics.messages.GroupMessage.builder(group)
        .userId(user).anonymousId(anonymous).messageId(ids[4]).traits(Map.of("name", "Acme")));
    analytics.enqueue(com.rudderstack.sdk.java.analytics.messages.AliasMessage.builder(anonymous)
        .userId(user).anonymousId(anonymous).messageId(ids[5]));
    analytics.flush();
    analytics.shutdown();

    SdkWireRecorder.Exchange upload = recorder.await(vertx, "/v1/batch",
        e -> e.json().getJsonArray("batch").getJsonObject(0).getString("anonymousId").equals(anonymous));
    assertEquals(200, upload.status(), upload.toString());
    assertEquals("gzip", upload.header("Content-Encoding"), upload.toString());
    assertEquals(TestRouter.basic(WRITE_KEY), upload.header("Authorization"));

    Map<String, Row> rows = ClientRows.byMessageIds(router, ids);
    assertTypedRows(rows, ids, user, anonymous, group);
    String library = ((JsonObject) rows.get("track").getValue("context")).getJsonObject("library").getString("name");
    for (Row row : rows.values()) {
      ClientRows.assertLibrary(row, library, null);
    }
    assertTrue(library.contains("java"), "RudderStack's Java SDK names itself: " + library);
  }
}
