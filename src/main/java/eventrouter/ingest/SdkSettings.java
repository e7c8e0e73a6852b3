package eventrouter.ingest;

import eventrouter.config.RouterConfig.SourceConfig;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.function.Function;

/**
 * The settings the browser SDKs load before they send anything, served by the router so that a page needs nothing
 * from a vendor's CDN: Segment analytics-next's {@code cdnURL} ({@code GET /v1/projects/<writeKey>/settings}) and
 * RudderStack's {@code configUrl} ({@code GET /sourceConfig/?writeKey=}). Both send every call to this router, and
 * turn off what would call a vendor's servers: Segment's telemetry ({@code metrics.sampleRate} 0) and RudderStack's
 * error reports and metrics.
 */
final class SdkSettings {
  private final Function<String, SourceConfig> sourceByKey;
  private final Instant loadedAt = Instant.now();

  /** @param sourceByKey the source of a write key, or null when none has it */
  SdkSettings(Function<String, SourceConfig> sourceByKey) {
    this.sourceByKey = sourceByKey;
  }

  /**
   * analytics-next's settings. Its {@code Segment.io} integration carries where events go: {@code apiHost} is this
   * router's host with {@code /v1}, to which the SDK appends {@code /t}, {@code /p}, ... or {@code /b}.
   *
   * @throws IngestException 404 for an unknown key: analytics-next then fails to load rather than sending to a void
   */
  JsonObject segment(HttpServerRequest request, String writeKey) {
    SourceConfig source = sourceByKey.apply(writeKey);
    if (source == null) {
      throw IngestException.notFound("Invalid write key: no source has it, so there are no settings for it");
    }
    JsonObject segmentIo = new JsonObject()
        .put("apiKey", writeKey)
        .put("apiHost", authority(request) + "/v1")
        .put("protocol", scheme(request))
        .put("unbundledIntegrations", new JsonArray())
        .put("addBundledMetadata", true)
        .put("maybeBundledConfigIds", new JsonObject());
    return new JsonObject()
        .put("integrations", new JsonObject().put("Segment.io", segmentIo))
        .put("plan", new JsonObject()
            .put("track", new JsonObject().put("__default", new JsonObject().put("enabled", true)
                .put("integrations", new JsonObject())))
            .put("identify", new JsonObject().put("__default", new JsonObject().put("enabled", true)))
            .put("group", new JsonObject().put("__default", new JsonObject().put("enabled", true))))
        .put("edgeFunction", new JsonObject())
        .put("analyticsNextEnabled", true)
        .put("middlewareSettings", new JsonObject())
        .put("enabledMiddleware", new JsonObject())
        .put("metrics", new JsonObject().put("sampleRate", 0))
        .put("legacyVideoPluginsEnabled", false)
        .put("remotePlugins", new JsonArray());
  }

  /**
   * RudderStack's source config: an enabled source without device-mode destinations, so the SDK loads no
   * integration from a CDN and sends every call to its {@code dataPlaneUrl}.
   *
   * @throws IngestException 401 "Invalid write key" for an unknown key, as RudderStack's control plane answers
   */
  JsonObject rudderStack(String writeKey) {
    SourceConfig source = writeKey == null ? null : sourceByKey.apply(writeKey);
    if (source == null) {
      throw IngestException.unauthorized("Invalid write key");
    }
    JsonObject off = new JsonObject().put("enabled", false);
    JsonObject sourceJson = new JsonObject()
        .put("id", source.id())
        .put("name", source.id())
        .put("writeKey", writeKey)
        .put("enabled", true)
        .put("workspaceId", "event-router")
        .put("updatedAt", loadedAt.toString())
        .put("config", new JsonObject().put("statsCollection", new JsonObject()
            .put("errors", off.copy()).put("metrics", off.copy())))
        .put("destinations", new JsonArray());
    return new JsonObject().put("isHosted", false).put("source", sourceJson).put("updatedAt", loadedAt.toString());
  }

  /** The host and port the browser reached this router at, as a proxy in front of it forwarded them. */
  private static String authority(HttpServerRequest request) {
    String forwarded = request.getHeader("X-Forwarded-Host");
    if (forwarded != null && !forwarded.isBlank()) {
      return forwarded.split(",", 2)[0].trim();
    }
    String host = request.getHeader(HttpHeaders.HOST);
    return host != null ? host : request.authority().toString();
  }

  private static String scheme(HttpServerRequest request) {
    String forwarded = request.getHeader("X-Forwarded-Proto");
    if (forwarded != null && !forwarded.isBlank()) {
      return forwarded.split(",", 2)[0].trim();
    }
    return request.scheme() == null ? "http" : request.scheme();
  }
}
