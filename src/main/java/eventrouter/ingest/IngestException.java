package eventrouter.ingest;

/**
 * A request the router refuses, with the HTTP status and a message that names the field and the limit. These are
 * permanent for the request as sent: the client must change it, or (429) wait {@code retryAfterSeconds}, or (503)
 * retry.
 */
public final class IngestException extends RuntimeException {
  private final int status;
  private final String reason;
  private final long retryAfterSeconds;

  private IngestException(int status, String reason, String message, long retryAfterSeconds) {
    super(message, null, false, false); // a client error needs no stack trace
    this.status = status;
    this.reason = reason;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  public static IngestException badRequest(String message) {
    return new IngestException(400, "bad_request", message, 0);
  }

  /**
   * An event the contract refuses; in a batch it is rejected alone, and kept in {@code ingest_rejects}.
   *
   * @param reason a short snake_case code, the {@code reason} tag of the rejects meter and column
   */
  public static IngestException invalidEvent(String reason, String message) {
    return new IngestException(400, reason, message, 0);
  }

  /** An event, or one of its fields, over a size limit; {@link #invalidEvent} otherwise. */
  public static IngestException eventTooLarge(String reason, String message) {
    return new IngestException(413, reason, message, 0);
  }

  public static IngestException unauthorized(String message) {
    return new IngestException(401, "unauthorized", message, 0);
  }

  public static IngestException forbidden(String message) {
    return new IngestException(403, "forbidden", message, 0);
  }

  public static IngestException notFound(String message) {
    return new IngestException(404, "not_found", message, 0);
  }

  public static IngestException requestTimeout(String message) {
    return new IngestException(408, "request_timeout", message, 0);
  }

  public static IngestException tooLarge(String message) {
    return new IngestException(413, "too_large", message, 0);
  }

  public static IngestException unsupportedMediaType(String message) {
    return new IngestException(415, "unsupported_media_type", message, 0);
  }

  public static IngestException rateLimited(String message, long retryAfterSeconds) {
    return new IngestException(429, "rate_limited", message, retryAfterSeconds);
  }

  /** The events could not be made durable; nothing was acknowledged, and the client should retry. */
  public static IngestException unavailable(String message) {
    return new IngestException(503, "unavailable", message, 0);
  }

  public int status() {
    return status;
  }

  /** A short code for what was refused: the {@code reason} of a reject. */
  public String reason() {
    return reason;
  }

  public long retryAfterSeconds() {
    return retryAfterSeconds;
  }
}
