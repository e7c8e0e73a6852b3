package eventrouter.ingest;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;

/**
 * Reads an ingest request's body as collectors in this field do: whatever its {@code Content-Type} says (SDKs send
 * {@code application/json}, {@code text/plain}, and RudderStack's Node SDK {@code application/x-www-form-urlencoded}
 * with gzipped JSON), gunzipped when {@code Content-Encoding} says gzip or the bytes start with gzip's magic number.
 * Both the bytes on the wire and the bytes after gunzip are held to the request limit. Vert.x Web's BodyHandler is not
 * used because it decodes a form-urlencoded body as a form, and Netty's decompressor because it drops the connection
 * on a body that is not the gzip it claims to be; here that is a 400 naming the problem.
 */
final class RequestBodies {
  private static final int GZIP_MAGIC_1 = 0x1f;
  private static final int GZIP_MAGIC_2 = 0x8b;

  private RequestBodies() {
  }

  /**
   * @param timeoutMs how long the whole body may take: a sender slower than that (a stalled or a deliberately slow
   *     one, which would otherwise hold its connection for good) gets a 408
   * @return the body's bytes; fails with an {@link IngestException} naming the problem and the limit
   */
  static Future<byte[]> read(Vertx vertx, HttpServerRequest request, int maxBytes, int timeoutMs) {
    String encoding = request.getHeader(HttpHeaders.CONTENT_ENCODING);
    boolean declaredGzip = encoding != null && isGzip(encoding);
    if (encoding != null && !declaredGzip && !encoding.trim().equalsIgnoreCase("identity")) {
      // No SDK sends another encoding; this is the one 415 ingest answers.
      return Future.failedFuture(IngestException.unsupportedMediaType("Content-Encoding \"" + encoding
          + "\" is not supported: send gzip or no encoding"));
    }
    String length = request.getHeader(HttpHeaders.CONTENT_LENGTH);
    if (length != null && parseLength(length) > maxBytes) {
      return Future.failedFuture(tooLarge(maxBytes));
    }
    Promise<byte[]> body = Promise.promise();
    Buffer received = Buffer.buffer();
    boolean[] overLimit = {false};
    request.handler(chunk -> {
      if (overLimit[0]) {
        return;
      }
      if (received.length() + chunk.length() > maxBytes) {
        overLimit[0] = true;
        body.tryFail(tooLarge(maxBytes)); // answered now; the rest of the upload is read and discarded
      } else {
        received.appendBuffer(chunk);
      }
    });
    long timer = vertx.setTimer(timeoutMs, t -> body.tryFail(IngestException.requestTimeout("the request body did not"
        + " arrive within " + timeoutMs + " ms (" + received.length() + " bytes came)")));
    body.future().onComplete(ar -> vertx.cancelTimer(timer));
    request.exceptionHandler(body::tryFail);
    request.endHandler(v -> {
      if (!overLimit[0]) {
        try {
          body.tryComplete(decode(received.getBytes(), declaredGzip, maxBytes));
        } catch (IngestException refused) {
          body.tryFail(refused);
        }
      }
    });
    request.resume();
    return body.future();
  }

  /** Gunzips when declared or recognised, then refuses an empty body. */
  static byte[] decode(byte[] bytes, boolean declaredGzip, int maxBytes) {
    boolean gzip = bytes.length >= 2 && (bytes[0] & 0xff) == GZIP_MAGIC_1 && (bytes[1] & 0xff) == GZIP_MAGIC_2;
    if (declaredGzip && !gzip && bytes.length > 0) {
      throw IngestException.badRequest("body is declared Content-Encoding: gzip but is not gzip data (it does not"
          + " start with gzip's magic bytes 1f 8b)");
    }
    byte[] decoded = gzip ? gunzip(bytes, maxBytes) : bytes;
    if (decoded.length == 0) {
      throw IngestException.badRequest("body is empty: send a JSON object (one event, or {\"batch\": [...]})");
    }
    return decoded;
  }

  private static byte[] gunzip(byte[] compressed, int maxBytes) {
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(compressed))) {
      ByteArrayOutputStream out = new ByteArrayOutputStream(Math.min(maxBytes, compressed.length * 8));
      byte[] chunk = new byte[16 * 1024];
      for (int read; (read = in.read(chunk)) != -1; ) {
        if (out.size() + read > maxBytes) {
          throw tooLarge(maxBytes);
        }
        out.write(chunk, 0, read);
      }
      return out.toByteArray();
    } catch (IOException e) {
      throw IngestException.badRequest("body is not valid gzip data: " + e.getMessage());
    }
  }

  private static boolean isGzip(String encoding) {
    String trimmed = encoding.trim();
    return trimmed.equalsIgnoreCase("gzip") || trimmed.equalsIgnoreCase("x-gzip");
  }

  private static long parseLength(String header) {
    try {
      return Long.parseLong(header.trim());
    } catch (NumberFormatException e) {
      return -1; // Netty has already refused a malformed length; nothing to judge by here
    }
  }

  private static IngestException tooLarge(int maxBytes) {
    return IngestException.tooLarge("request body exceeds " + maxBytes + " bytes (measured after gzip decompression),"
        + " the limit per request");
  }
}
