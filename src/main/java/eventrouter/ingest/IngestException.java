package eventrouter.ingest;

/**
 * A request the router refuses, with the HTTP status and a message that names the field and the limit. These are
 * permanent for the request as sent: the client must change it, or (429) wait {@code retryAfterSeconds}.
 */
public final class IngestException extends RuntimeException {
  private final int status;
  private final long retryAfterSeconds;

  private IngestException(int status, String message, long retryAfterSeconds) {
    super(message, null, false, false); // a client error needs no stack trace
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  public static IngestException badRequest(String message) {
    return new IngestException(400, message, 0);
  }

  public static IngestException unauthorized(String message) {
    return new IngestException(401, message, 0);
  }

  public static IngestException tooLarge(String message) {
    return new IngestException(413, message, 0);
  }

  public static IngestException unsupportedMediaType(String message) {
    return new IngestException(415, message, 0);
  }

  public static IngestException rateLimited(String message, long retryAfterSeconds) {
    return new IngestException(429, message, retryAfterSeconds);
  }

  public int status() {
    return status;
  }

  public long retryAfterSeconds() {
    return retryAfterSeconds;
  }
}
