package eventrouter.loadtest.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import java.io.IOException;

/**
 * The ceiling every router figure is compared with: a bare Vert.x HTTP server that reads each POST body, parses it
 * as JSON with Jackson (as the router does) and answers 200 {@code {"success":true}}. No auth, no validation, no
 * Kafka: what is left when everything the router adds is taken away. Two instances share the port, as the router's
 * ingest verticles do.
 *
 * <pre>java -cp ... eventrouter.loadtest.bench.BaselineServer --port 18081 [--instances 2]</pre>
 */
public final class BaselineServer extends VerticleBase {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final Buffer SUCCESS = Buffer.buffer("{\"success\":true}");
  private static final Buffer BAD = Buffer.buffer("{\"success\":false,\"error\":\"body is not valid JSON\"}");

  private final int port;

  BaselineServer(int port) {
    this.port = port;
  }

  public static void main(String[] argv) {
    Args args = new Args(argv, 0);
    int port = (int) args.getLong("port", 18081);
    int instances = (int) args.getLong("instances", 2);
    Vertx vertx = Vertx.vertx();
    vertx.deployVerticle(() -> new BaselineServer(port), new DeploymentOptions().setInstances(instances))
        .onSuccess(id -> System.out.println("baseline listening on 127.0.0.1:" + port + " (" + instances
            + " instances)"))
        .onFailure(error -> {
          System.err.println("baseline failed to start: " + error.getMessage());
          System.exit(1);
        });
  }

  @Override
  public Future<?> start() {
    return vertx.createHttpServer(new HttpServerOptions().setHost("127.0.0.1").setPort(port)
            .setDecompressionSupported(true).setTcpNoDelay(true))
        .requestHandler(this::handle)
        .listen();
  }

  private void handle(HttpServerRequest request) {
    request.body().onSuccess(body -> {
      Buffer reply;
      try {
        JsonNode parsed = MAPPER.readTree(body.getBytes());
        reply = parsed != null && parsed.isObject() ? SUCCESS : BAD;
      } catch (IOException e) {
        reply = BAD;
      }
      request.response().setStatusCode(reply == SUCCESS ? 200 : 400)
          .putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(reply);
    });
  }
}
