package eventrouter.admin;

import eventrouter.config.RouterConfig.SourceConfig;
import eventrouter.delivery.DeadLetterApi;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.healthchecks.HealthChecks;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.healthchecks.HealthCheckHandler;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;

/** Mounts {@code GET /health} (public) and the {@code /admin} API (bearer token) on an HTTP router. */
public final class AdminApi {
  private final byte[] adminToken;
  private final HealthChecks healthChecks;
  private final List<SourceConfig> sources;
  private final DeadLetterApi deadLetters;

  public AdminApi(String adminToken, HealthChecks healthChecks, List<SourceConfig> sources, DeadLetterApi deadLetters) {
    this.adminToken = adminToken.getBytes(StandardCharsets.UTF_8);
    this.healthChecks = healthChecks;
    this.sources = sources;
    this.deadLetters = deadLetters;
  }

  public void mount(Router router) {
    router.get("/health").handler(HealthCheckHandler.createWithHealthChecks(healthChecks));
    router.route("/admin/*").handler(this::requireToken);
    router.get("/admin/sources").handler(this::listSources);
    deadLetters.mount(router);
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
