package eventrouter.testing;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Function;

/**
 * A real HTTP server standing in for webhook receivers. Each path behaves as the test says: answer a status (with
 * headers), answer slowly, or hang; a script per messageId (the part of the Idempotency-Key before ':') overrides the
 * path's behaviour reply by reply. Every request is recorded with its headers, body, arrival time and the status it
 * was answered.
 */
public final class WebhookSink implements AutoCloseable {
  /** One request as it arrived. */
  public static final class Received {
    public final String path;
    public final String body;
    public final Map<String, String> headers;
    public final long atNanos;
    volatile int answered;

    Received(String path, String body, Map<String, String> headers, long atNanos) {
      this.path = path;
      this.body = body;
      this.headers = headers;
      this.atNanos = atNanos;
    }

    public String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }

    public JsonObject json() {
      return new JsonObject(body);
    }

    public String messageId() {
      String key = header("Idempotency-Key");
      return key == null ? null : key.substring(0, key.lastIndexOf(':'));
    }

    public int answered() {
      return answered;
    }

    public boolean delivered() {
      return answered >= 200 && answered < 300;
    }
  }

  /** How to answer: a status with headers after a delay, or never. */
  public record Reply(int status, Map<String, String> headers, long delayMs, boolean hangs) {
    public static Reply ok() {
      return new Reply(200, Map.of(), 0, false);
    }

    public static Reply status(int status) {
      return new Reply(status, Map.of(), 0, false);
    }

    public static Reply status(int status, String header, String value) {
      return new Reply(status, Map.of(header, value), 0, false);
    }

    public static Reply slow(long delayMs) {
      return new Reply(200, Map.of(), delayMs, false);
    }

    public static Reply hang() {
      return new Reply(0, Map.of(), 0, true);
    }
  }

  private final Vertx vertx;
  private final ConcurrentLinkedQueue<Received> received = new ConcurrentLinkedQueue<>();
  private final ConcurrentHashMap<String, Function<Received, Reply>> byPath = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Deque<Reply>> scripts = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<HttpServerRequest> hanging = new ConcurrentLinkedQueue<>();
  private HttpServer server;

  private WebhookSink(Vertx vertx) {
    this.vertx = vertx;
  }

  public static WebhookSink start(Vertx vertx) {
    WebhookSink sink = new WebhookSink(vertx);
    sink.server = Await.result(vertx.createHttpServer().requestHandler(sink::handle).listen(0, "127.0.0.1"));
    return sink;
  }

  public String url(String path) {
    return "http://127.0.0.1:" + server.actualPort() + path;
  }

  /** Every later request to {@code path} is answered by {@code behaviour} (unless a script says otherwise). */
  public void behave(String path, Function<Received, Reply> behaviour) {
    byPath.put(path, behaviour);
  }

  /** The next requests carrying this messageId get these replies, in order; then the path's behaviour applies. */
  public void script(String messageId, Reply... replies) {
    scripts.put(messageId, new ArrayDeque<>(List.of(replies)));
  }

  public List<Received> on(String path) {
    List<Received> list = new ArrayList<>();
    for (Received r : received) {
      if (r.path.equals(path)) {
        list.add(r);
      }
    }
    return list;
  }

  public List<Received> deliveredOn(String path) {
    return on(path).stream().filter(Received::delivered).toList();
  }

  private void handle(HttpServerRequest request) {
    request.body().onSuccess(body -> {
      Map<String, String> headers = new TreeMap<>();
      request.headers().forEach(e -> headers.put(e.getKey().toLowerCase(Locale.ROOT), e.getValue()));
      Received r = new Received(request.path(), body.toString(), headers, System.nanoTime());
      received.add(r);
      Reply reply = null;
      String messageId = r.messageId();
      Deque<Reply> script = messageId == null ? null : scripts.get(messageId);
      if (script != null) {
        synchronized (script) {
          reply = script.poll();
        }
      }
      if (reply == null) {
        reply = byPath.getOrDefault(request.path(), x -> Reply.ok()).apply(r);
      }
      if (reply.hangs()) {
        hanging.add(request);
        return;
      }
      Reply answer = reply;
      if (answer.delayMs() > 0) {
        vertx.setTimer(answer.delayMs(), t -> respond(request, r, answer));
      } else {
        respond(request, r, answer);
      }
    });
  }

  private static void respond(HttpServerRequest request, Received r, Reply reply) {
    r.answered = reply.status();
    reply.headers().forEach(request.response()::putHeader);
    request.response().setStatusCode(reply.status()).end("{\"sink\":" + reply.status() + "}");
  }

  /** Answers every hanging request, so that shutdown is quick. */
  public void releaseHanging() {
    HttpServerRequest request;
    while ((request = hanging.poll()) != null) {
      HttpServerRequest r = request;
      vertx.runOnContext(v -> {
        try {
          r.response().setStatusCode(503).end();
        } catch (IllegalStateException alreadyClosed) {
          // the router gave up on it first
        }
      });
    }
  }

  @Override
  public void close() {
    releaseHanging();
    Await.result(server.close().otherwise((Void) null));
  }

  public Future<Void> closeAsync() {
    return server.close();
  }
}
