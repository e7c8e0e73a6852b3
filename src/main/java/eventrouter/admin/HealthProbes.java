package eventrouter.admin;

import eventrouter.realtime.RealtimeHealth;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.healthchecks.HealthChecks;
import io.vertx.ext.healthchecks.Status;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;

/**
 * What {@code GET /health} checks: each external system answers a cheap request in time, and every verticle the
 * router deployed is still deployed.
 */
public final class HealthProbes {
  /** How long a check may take before the library reports it as an error (500) rather than DOWN (503). */
  private static final long PROBE_TIMEOUT_MS = 2_500;
  /** Each probe gives up before that, so an unreachable system is reported as DOWN with the reason. */
  private static final int CALL_TIMEOUT_MS = 1_500;

  private HealthProbes() {
  }

  public static HealthChecks create(Vertx vertx, Admin kafka, Redis redis, Pool postgres,
      Supplier<Set<String>> expectedDeployments, RealtimeHealth realtime) {
    HealthChecks checks = HealthChecks.create(vertx);
    checks.register("kafka", PROBE_TIMEOUT_MS, promise -> complete(promise,
        Future.fromCompletionStage(kafka.describeCluster(new DescribeClusterOptions()
                .timeoutMs(CALL_TIMEOUT_MS)).nodes().toCompletionStage())
            .map(nodes -> new JsonObject().put("brokers", nodes.size()))));
    checks.register("redis", PROBE_TIMEOUT_MS, promise -> complete(promise,
        redis.send(Request.cmd(Command.PING)).timeout(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS)
            .map(reply -> new JsonObject())));
    checks.register("postgres", PROBE_TIMEOUT_MS, promise -> complete(promise,
        postgres.query("SELECT 1").execute().timeout(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS)
            .map(rows -> new JsonObject())));
    checks.register("verticles", PROBE_TIMEOUT_MS, promise -> {
      Set<String> missing = new TreeSet<>(expectedDeployments.get());
      missing.removeAll(vertx.deploymentIDs());
      promise.complete(missing.isEmpty() ? Status.OK()
          : Status.KO(new JsonObject().put("error", "undeployed: " + missing)));
    });
    checks.register("realtime", PROBE_TIMEOUT_MS, promise -> {
      RealtimeHealth.State state = realtime.state();
      promise.complete(state.problem() == null ? Status.OK() : Status.KO(new JsonObject()
          .put("error", "degraded since " + state.since() + ": " + state.problem())));
    });
    return checks;
  }

  private static void complete(Promise<Status> promise, Future<JsonObject> probe) {
    probe.onSuccess(data -> promise.tryComplete(Status.OK(data)))
        .onFailure(error -> promise.tryComplete(Status.KO(new JsonObject().put("error", String.valueOf(
            error.getMessage())))));
  }
}
