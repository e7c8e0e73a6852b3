package eventrouter.admin;

import eventrouter.config.RouterConfig.SourceConfig;
import eventrouter.delivery.DeadLetterApi;
import eventrouter.ingest.StreamStats;
import eventrouter.realtime.UserLookup;
import eventrouter.rules.RuleBook;
import eventrouter.rules.RuleEngine;
import eventrouter.warehouse.typed.TypedRebuild;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.healthchecks.HealthChecks;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/** Mounts {@code GET /health} (public) and the {@code /admin} API (bearer token) on an HTTP router. */
public final class AdminApi {
  /** Without these the router cannot take traffic; the others (Postgres, Redis, real-time) only degrade it. */
  private static final Set<String> CRITICAL_CHECKS = Set.of("kafka", "verticles");

  private final byte[] adminToken;
  private final HealthChecks healthChecks;
  private final List<SourceConfig> sources;
  private final UserLookup users;
  private final RuleBook rules;
  private final StreamStats streams;
  private final DeadLetterApi deadLetters;
  private final TypedRebuild typedRebuild;
  private final VerticlesApi verticles;
  private final Supplier<String> metrics;

  /** @param metrics the meters in Prometheus's text format */
  public AdminApi(String adminToken, HealthChecks healthChecks, List<SourceConfig> sources, UserLookup users,
      RuleBook rules, StreamStats streams, DeadLetterApi deadLetters, VerticlesApi verticles,
      TypedRebuild typedRebuild, Supplier<String> metrics) {
    this.adminToken = adminToken.getBytes(StandardCharsets.UTF_8);
    this.healthChecks = healthChecks;
    this.sources = sources;
    this.users = users;
    this.rules = rules;
    this.streams = streams;
    this.deadLetters = deadLetters;
    this.verticles = verticles;
    this.typedRebuild = typedRebuild;
    this.metrics = metrics;
  }

  public void mount(Router router) {
    router.get("/health").handler(this::health);
    router.route("/admin/*").handler(this::requireToken);
    router.get("/admin/sources").handler(this::listSources);
    router.get("/admin/users/:id").handler(this::describeUser);
    router.get("/admin/rules").handler(this::listRules);
    router.post("/admin/rules/reload").handler(this::reloadRules);
    router.get("/admin/streams").handler(ctx -> respond(ctx, 200, streams.toJson()));
    router.get("/admin/metrics").handler(ctx -> ctx.response()
        .putHeader(HttpHeaders.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8").end(metrics.get()));
    deadLetters.mount(router);
    verticles.mount(router);
    typedRebuild.mount(router);
  }

  /**
   * 200 {@code UP} when every check passes; 200 {@code DEGRADED} when only Postgres, Redis or the real-time path is
   * down (ingest still makes events durable, and they wait in Kafka); 503 {@code DOWN} when Kafka or a verticle is
   * down, since then nothing can be acknowledged.
   */
  private void health(RoutingContext ctx) {
    healthChecks.checkStatus().onComplete(ar -> {
      JsonObject body = ar.succeeded() ? ar.result().toJson() : new JsonObject().put("checks", new JsonArray());
      List<String> down = new ArrayList<>();
      boolean critical = ar.failed();
      for (Object check : body.getJsonArray("checks", new JsonArray())) {
        JsonObject json = (JsonObject) check;
        if (!"UP".equals(json.getString("status"))) {
          down.add(json.getString("id"));
          critical |= CRITICAL_CHECKS.contains(json.getString("id"));
        }
      }
      body.remove("outcome");
      body.put("status", critical ? "DOWN" : down.isEmpty() ? "UP" : "DEGRADED");
      if (!down.isEmpty()) {
        body.put("down", new JsonArray(down));
      }
      ctx.response().setStatusCode(critical ? 503 : 200).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
          .end(body.toBuffer());
    });
  }

  private void describeUser(RoutingContext ctx) {
    users.describe(ctx.pathParam("id"))
        .onSuccess(user -> ctx.response().putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(user.toBuffer()))
        .onFailure(error -> respond(ctx, 503, new JsonObject().put("success", false)
            .put("error", "cannot read the user from Redis: " + error.getMessage())));
  }

  private void listRules(RoutingContext ctx) {
    respond(ctx, 200, rulesJson(rules.current()));
  }

  /** Reads the rules file again; a broken file is refused with its error and the rules in force stay. */
  private void reloadRules(RoutingContext ctx) {
    ctx.vertx().executeBlocking(rules::reload).onComplete(ar -> {
      if (ar.succeeded()) {
        respond(ctx, 200, rulesJson(ar.result()).put("success", true));
      } else {
        respond(ctx, 400, new JsonObject().put("success", false).put("error", ar.cause().getMessage()));
      }
    });
  }

  private JsonObject rulesJson(RuleEngine engine) {
    JsonArray list = new JsonArray();
    engine.rules().forEach(rule -> list.add(new JsonObject().put("id", rule.id()).put("kind", rule.kind().wireName())
        .put("signal", rule.signal())));
    return new JsonObject().put("file", rules.file().toString()).put("rules", list);
  }

  static void respond(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(body.toBuffer());
  }

  private void requireToken(RoutingContext ctx) {
    String header = ctx.request().getHeader(HttpHeaders.AUTHORIZATION);
    String prefix = "Bearer ";
    boolean valid = header != null && header.regionMatches(true, 0, prefix, 0, prefix.length())
        // constant-time, so the token cannot be guessed byte by byte from response times
        && MessageDigest.isEqual(adminToken, header.substring(prefix.length()).trim().getBytes(StandardCharsets.UTF_8));
    if (!valid) {
      ctx.response().setStatusCode(401)
          .putHeader("WWW-Authenticate", "Bearer")
          .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
          .end(new JsonObject().put("success", false)
              .put("error", "admin endpoints need the header Authorization: Bearer <ROUTER_ADMIN_TOKEN>").toBuffer());
      return;
    }
    ctx.next();
  }

  /** The configured sources, without their write keys. */
  private void listSources(RoutingContext ctx) {
    JsonArray list = new JsonArray();
    for (SourceConfig source : sources) {
      list.add(new JsonObject()
          .put("id", source.id())
          .put("rateLimit", source.rateLimit().enabled()
              ? new JsonObject().put("eventsPerSecond", source.rateLimit().eventsPerSecond())
                  .put("burst", source.rateLimit().capacity())
              : null));
    }
    ctx.response().putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .end(new JsonObject().put("sources", list).toBuffer());
  }
}
