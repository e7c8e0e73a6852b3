package eventrouter.warehouse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code user_identities} and {@code events_stitched}: a user's whole history, anonymous events before login included. */
class StitchedUsersTest {
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  Path dir;
  private TestRouter router;

  @AfterEach
  void stop() {
    router.close();
    vertx.close();
  }

  private String send(JsonObject event) {
    String id = UUID.randomUUID().toString();
    router.postBatch(event.put("messageId", id));
    router.awaitCount(1, "SELECT count(*) FROM events WHERE message_id = $1", id);
    return id;
  }

  private static JsonObject track(String event) {
    return new JsonObject().put("type", "track").put("event", event);
  }

  @Test
  @DisplayName("anonymous id, then identify, then alias to a new id, then another device: every event resolves to"
      + " the last user")
  void aChainResolvesToOneUser() {
    router = TestRouter.start(vertx, dir);
    String suffix = UUID.randomUUID().toString().substring(0, 8);
    String anon = "anon-" + suffix;
    String firstUser = "first-" + suffix;
    String lastUser = "last-" + suffix;
    String otherDevice = "device2-" + suffix;
    Map<String, String> expected = new HashMap<>();
    expected.put(send(track("Browsed").put("anonymousId", anon)), lastUser);
    expected.put(send(new JsonObject().put("type", "identify").put("userId", firstUser).put("anonymousId", anon)),
        lastUser);
    expected.put(send(track("Bought").put("userId", firstUser)), lastUser);
    expected.put(send(new JsonObject().put("type", "alias").put("previousId", firstUser).put("userId", lastUser)),
        lastUser);
    expected.put(send(track("Upgraded").put("userId", lastUser)), lastUser);
    expected.put(send(track("Late anonymous event").put("anonymousId", anon)), lastUser);
    expected.put(send(track("Second device").put("anonymousId", otherDevice)), lastUser);
    expected.put(send(new JsonObject().put("type", "identify").put("userId", lastUser).put("anonymousId",
        otherDevice)), lastUser);
    String stranger = send(track("Never identified").put("anonymousId", "stranger-" + suffix));

    List<Row> rows = router.query("SELECT message_id, canonical_user_id FROM events_stitched WHERE message_id ="
        + " ANY($1)", (Object) expected.keySet().toArray(String[]::new));
    assertEquals(expected.size(), rows.size());
    for (Row row : rows) {
      assertEquals(expected.get(row.getString(0)), row.getString(1), "event " + row.getString(0));
    }
    assertEquals(expected.size(), router.query("SELECT count(*) FROM events_stitched WHERE canonical_user_id = $1",
        lastUser).get(0).getLong(0), "the user's whole history, by one query");
    assertNull(router.query("SELECT canonical_user_id FROM events_stitched WHERE message_id = $1", stranger).get(0)
        .getString(0));

    Map<String, String> identities = new HashMap<>();
    for (Row row : router.query("SELECT id, canonical_user_id FROM user_identities WHERE id = ANY($1)",
        (Object) new String[] {anon, firstUser, otherDevice, lastUser})) {
      identities.put(row.getString(0), row.getString(1));
    }
    assertEquals(Map.of(anon, lastUser, firstUser, lastUser, otherDevice, lastUser), identities,
        "each linked id resolves to the end of its chain; the canonical user itself is not listed");
  }

  @Test
  @DisplayName("a cycle of aliases (a -> b, then b -> a) ends without repeating a user")
  void aliasCycle() {
    router = TestRouter.start(vertx, dir);
    String a = "cycle-a-" + UUID.randomUUID();
    String b = "cycle-b-" + UUID.randomUUID();
    send(new JsonObject().put("type", "alias").put("previousId", a).put("userId", b));
    send(new JsonObject().put("type", "alias").put("previousId", b).put("userId", a));
    Map<String, String> identities = new HashMap<>();
    for (Row row : router.query("SELECT id, canonical_user_id FROM user_identities WHERE id = ANY($1)",
        (Object) new String[] {a, b})) {
      identities.put(row.getString(0), row.getString(1));
    }
    assertEquals(Map.of(a, b, b, a), identities, "each follows its one link and stops before coming back");
  }
}
