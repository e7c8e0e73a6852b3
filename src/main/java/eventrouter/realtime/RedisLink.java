package eventrouter.realtime;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.impl.types.ErrorType;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One long-lived, pipelining Redis connection for a verticle's hot path (a pooled client ran the same work several
 * times slower here), reconnected when it breaks. While Redis is unreachable, callers wait on {@link #whenUp()}: one
 * probe loop reconnects, rather than every waiting event retrying on its own.
 */
final class RedisLink {
  private static final Logger LOG = LoggerFactory.getLogger(RedisLink.class);
  private static final long CALL_TIMEOUT_MS = 5_000;
  private static final long MAX_PROBE_DELAY_MS = 2_000;

  private final Vertx vertx;
  private final Redis client;
  private RedisConnection connection;
  private Promise<Void> reconnected;

  RedisLink(Vertx vertx, RedisOptions options) {
    this.vertx = vertx;
    this.client = Redis.createClient(vertx, new RedisOptions(options).setMaxWaitingHandlers(100_000)
        .setMaxPoolWaiting(-1));
  }

  /** Connects once; start-up fails if Redis is unreachable. */
  Future<Void> connect() {
    return client.connect().map(this::adopt);
  }

  /** Whether a failure means Redis could not be reached (wait and retry) rather than a reply Redis refused. */
  static boolean isUnreachable(Throwable error) {
    return !(error instanceof ErrorType reply) || reply.is("LOADING") || reply.is("BUSY") || reply.is("TRYAGAIN");
  }

  Future<Response> send(Request request) {
    if (connection == null) {
      return Future.failedFuture(new IllegalStateException("Redis is not connected"));
    }
    return connection.send(request).timeout(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS).onFailure(error -> {
      if (isUnreachable(error)) {
        drop(connection);
      }
    });
  }

  /** Runs a script by its SHA, loading it first when Redis does not know it (a restarted Redis forgets scripts). */
  Future<Response> eval(LuaScript script, List<String> args) {
    return send(evalsha(script, args)).recover(error -> {
      if (error instanceof ErrorType reply && reply.is("NOSCRIPT")) {
        return send(Request.cmd(Command.SCRIPT).arg("LOAD").arg(script.source()))
            .compose(loaded -> send(evalsha(script, args)));
      }
      return Future.failedFuture(error);
    });
  }

  private static Request evalsha(LuaScript script, List<String> args) {
    Request request = Request.cmd(Command.EVALSHA).arg(script.sha()).arg(0);
    args.forEach(request::arg);
    return request;
  }

  /** Completes once a connection is up, probing with backoff while Redis is down. */
  Future<Void> whenUp() {
    if (connection != null) {
      return Future.succeededFuture();
    }
    if (reconnected == null) {
      reconnected = Promise.promise();
      probe(50);
    }
    return reconnected.future();
  }

  private void probe(long delayMs) {
    client.connect().onComplete(ar -> {
      if (ar.succeeded()) {
        adopt(ar.result());
        LOG.info("Redis is reachable again");
        Promise<Void> waiting = reconnected;
        reconnected = null;
        waiting.complete();
      } else {
        vertx.setTimer(delayMs, id -> probe(Math.min(MAX_PROBE_DELAY_MS, delayMs * 2)));
      }
    });
  }

  private Void adopt(RedisConnection fresh) {
    connection = fresh;
    fresh.exceptionHandler(error -> drop(fresh));
    fresh.endHandler(v -> drop(fresh));
    return null;
  }

  private void drop(RedisConnection broken) {
    if (connection == broken) {
      connection = null;
      broken.close();
    }
  }

  Future<Void> close() {
    RedisConnection open = connection;
    connection = null;
    return (open == null ? Future.<Void>succeededFuture() : open.close()).eventually(client::close);
  }
}
