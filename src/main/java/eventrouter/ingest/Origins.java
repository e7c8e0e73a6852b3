package eventrouter.ingest;

import eventrouter.config.RouterConfig.SourceConfig;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.handler.CorsHandler;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Which browser origins may send with which source ({@code sources[].allowedOrigins}; none listed means any), and
 * the CORS that lets every vendor SDK through. A preflight carries no write key, so it is answered for the union of
 * every source's origins; the request that follows is then held to its own source's list.
 */
final class Origins {
  /** Browsers cache a preflight for at most this long (Chromium caps it at 2 h, Firefox at 24 h). */
  static final int PREFLIGHT_MAX_AGE_SECONDS = 86_400;

  private Origins() {
  }

  /** @param origin the request's Origin header, or null when it has none (every client but a browser) */
  static boolean allows(SourceConfig source, String origin) {
    if (origin == null || source.allowedOrigins().isEmpty()) {
      return true;
    }
    String candidate = origin.toLowerCase(Locale.ROOT);
    for (String allowed : source.allowedOrigins()) {
      if (allowed.equals(candidate) || wildcard(allowed).matcher(candidate).matches()) {
        return true;
      }
    }
    return false;
  }

  static IngestException refused(SourceConfig source, String origin) {
    return IngestException.forbidden("origin \"" + origin + "\" is not allowed to send with this write key (source "
        + source.id() + " allows " + String.join(", ", source.allowedOrigins()) + ")");
  }

  /**
   * Answers preflights for GET and POST with whatever headers the browser asks to send (RudderStack's
   * {@code AnonymousId} and {@code Rsa-*}, Segment's {@code X-Retry-Count}, and those of SDK versions to come), and
   * with credentials, since {@code navigator.sendBeacon} always sends them. With credentials the exact origin is
   * echoed, never {@code *}.
   */
  static CorsHandler corsHandler(Collection<SourceConfig> sources) {
    CorsHandler cors = CorsHandler.create()
        .allowedMethods(Set.of(HttpMethod.GET, HttpMethod.POST))
        .allowCredentials(true)
        .maxAgeSeconds(PREFLIGHT_MAX_AGE_SECONDS)
        .exposedHeader("Retry-After");
    if (sources.stream().noneMatch(source -> source.allowedOrigins().isEmpty())) {
      List<String> patterns = new ArrayList<>();
      for (SourceConfig source : sources) {
        for (String allowed : source.allowedOrigins()) {
          patterns.add(wildcard(allowed).pattern());
        }
      }
      cors.addOriginsWithRegex(patterns);
    }
    return cors;
  }

  /** {@code https://*.example.com} matches any subdomain of example.com; an exact origin matches itself. */
  private static Pattern wildcard(String allowed) {
    int star = allowed.indexOf("*.");
    if (star < 0) {
      return Pattern.compile(Pattern.quote(allowed), Pattern.CASE_INSENSITIVE);
    }
    return Pattern.compile(Pattern.quote(allowed.substring(0, star)) + "[a-z0-9-]+(\\.[a-z0-9-]+)*"
        + Pattern.quote(allowed.substring(star + 1)), Pattern.CASE_INSENSITIVE);
  }
}
