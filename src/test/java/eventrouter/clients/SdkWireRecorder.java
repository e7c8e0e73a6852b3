package eventrouter.clients;

import eventrouter.testing.Await;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.zip.GZIPInputStream;

/**
 * A real HTTP proxy between an SDK and the router that records each request as the SDK sent it (method, path,
 * headers, body bytes) and the router's answer, so that a test can assert the client's wire form as well as the rows.
 * A body the SDK streamed (chunked) is forwarded chunked, so the router sees the framing the SDK sent.
 */
final class SdkWireRecorder implements AutoCloseable {
  /** Hop-by-hop headers, which the proxy sets itself on the forwarded request. */
  private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "transfer-encoding", "te",
      "upgrade", "proxy-connection", "content-length");

  /** One request as the SDK sent it, with the router's answer. Header names are lower case. */
  record Exchange(String method, String path, String query, Map<String, String> headers, boolean chunked,
      byte[] body, int status, String responseBody) {

    String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }

    /** The body as JSON, gunzipped when the SDK said {@code Content-Encoding: gzip}. */
    JsonObject json() {
      byte[] bytes = body;
      if ("gzip".equalsIgnoreCase(header("content-encoding"))) {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(body))) {
          bytes = in.readAllBytes();
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
      return new JsonObject(new String(bytes, StandardCharsets.UTF_8));
    }

    @Override
    public String toString() {
      return method + " " + path + (query == null ? "" : "?" + query) + " " + headers + (chunked ? " chunked" : "")
          + " -> " + status + " " + responseBody;
    }
  }

  private final int targetPort;
  private final HttpClient client;
  private final HttpServer server;
  private final List<Exchange> exchanges = new CopyOnWriteArrayList<>();

  private SdkWireRecorder(Vertx vertx, int targetPort) {
    this.targetPort = targetPort;
    this.client = vertx.createHttpClient(new HttpClientOptions().setDecompressionSupported(false));
    this.server = Await.result(vertx.createHttpServer().requestHandler(this::forward).listen(0, "127.0.0.1"));
  }

  /** Starts a recorder on a free port of 127.0.0.1 that forwards to {@code 127.0.0.1:targetPort}. */
  static SdkWireRecorder start(Vertx vertx, int targetPort) {
    return new SdkWireRecorder(vertx, targetPort);
  }

  /** {@code 127.0.0.1:<port>}, what SDKs that take a host without a scheme want. */
  String hostAndPort() {
    return "127.0.0.1:" + server.actualPort();
  }

  String baseUrl() {
    return "http://" + hostAndPort();
  }

  List<Exchange> exchanges() {
    return List.copyOf(exchanges);
  }

  /** The recorded requests to {@code path}. */
  List<Exchange> to(String path) {
    return exchanges.stream().filter(e -> e.path().equals(path)).toList();
  }

  /** Waits until a request to {@code path} that {@code matches} has been answered, and returns it. */
  Exchange await(Vertx vertx, String path, java.util.function.Predicate<Exchange> matches) {
    Await.until(vertx, java.time.Duration.ofSeconds(30), "a request to " + path + "; so far: " + exchanges,
        () -> io.vertx.core.Future.succeededFuture(to(path).stream().anyMatch(matches)));
    return to(path).stream().filter(matches).findFirst().orElseThrow();
  }

  private void forward(HttpServerRequest in) {
    Map<String, String> headers = new TreeMap<>();
    in.headers().forEach(h -> headers.merge(h.getKey().toLowerCase(Locale.ROOT), h.getValue(), (a, b) -> a + ", " + b));
    boolean chunked = in.headers().contains("Transfer-Encoding", "chunked", true);
    RequestOptions options = new RequestOptions().setMethod(in.method()).setHost("127.0.0.1").setPort(targetPort)
        .setURI(in.uri());
    // The whole body first (Vert.x keeps a request's end for a handler set late), then forwarded with the same
    // framing: chunked when the SDK streamed it, with its length otherwise.
    in.body().compose(body -> client.request(options).compose(out -> {
      in.headers().forEach(h -> {
        if (!HOP_BY_HOP.contains(h.getKey().toLowerCase(Locale.ROOT))) {
          out.headers().add(h.getKey(), h.getValue());
        }
      });
      out.setChunked(chunked);
      return out.send(body);
    }).compose(response -> response.body().map(answer -> {
      exchanges.add(new Exchange(in.method().name(), in.path(), in.query(), headers, chunked, body.getBytes(),
          response.statusCode(), answer.toString(StandardCharsets.UTF_8)));
      in.response().setStatusCode(response.statusCode());
      response.headers().forEach(h -> {
        if (!HOP_BY_HOP.contains(h.getKey().toLowerCase(Locale.ROOT))) {
          in.response().headers().add(h.getKey(), h.getValue());
        }
      });
      return answer;
    }))).onSuccess(answer -> in.response().end(answer))
        .onFailure(error -> in.response().setStatusCode(502).end("recorder could not forward: " + error));
  }

  @Override
  public void close() {
    Await.result(server.close());
    Await.result(client.close());
  }
}
