package eventrouter.clients;

import eventrouter.testing.Await;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.FileSystemAccess;
import io.vertx.ext.web.handler.StaticHandler;

/**
 * Serves {@code clients/} (the SDK pages and node_modules) over HTTP on a free port of its own, so that the pages run
 * on another origin than the router's, as a customer's site does.
 */
final class ClientPages implements AutoCloseable {
  /** The pages' host: another origin than the router's 127.0.0.1, and another site too. */
  static final String HOST = "localhost";
  private final HttpServer server;

  private ClientPages(HttpServer server) {
    this.server = server;
  }

  static ClientPages start(Vertx vertx) {
    Router router = Router.router(vertx);
    router.route("/*").handler(StaticHandler.create(FileSystemAccess.ROOT, Clients.DIR.toString())
        .setCachingEnabled(false).setDirectoryListing(false).setIncludeHidden(false));
    HttpServer server = Await.result(vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1"));
    return new ClientPages(server);
  }

  String baseUrl() {
    return "http://" + HOST + ":" + server.actualPort();
  }

  @Override
  public void close() {
    Await.result(server.close());
  }
}
