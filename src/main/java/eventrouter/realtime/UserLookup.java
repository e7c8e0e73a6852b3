package eventrouter.realtime;

import eventrouter.config.RouterConfig.RealtimeConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.RedisOptions;

/** Reads what the real-time path holds about one user, for {@code GET /admin/users/{id}}. */
public final class UserLookup {
  private final RedisLink redis;
  private final SessionStore store;

  public UserLookup(Vertx vertx, RedisOptions options, RealtimeConfig config) {
    this.redis = new RedisLink(vertx, options);
    this.store = new SessionStore(redis, config);
  }

  public Future<Void> connect() {
    return redis.connect();
  }

  /** The resolved identity (linked ids), session with cart, traits and armed timers, by userId or anonymousId. */
  public Future<JsonObject> describe(String id) {
    return redis.whenUp().compose(v -> store.describe(id));
  }

  public Future<Void> close() {
    return redis.close();
  }
}
