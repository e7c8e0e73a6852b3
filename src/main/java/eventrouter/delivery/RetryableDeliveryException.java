package eventrouter.delivery;

/**
 * A delivery failed in a way worth trying again: a connection error, a timeout, 408, 429 or 5xx.
 *
 * @see PermanentDeliveryException
 */
public final class RetryableDeliveryException extends RuntimeException {
  private final int status;
  private final long retryAfterMs;

  /**
   * @param status the HTTP status, or 0 when there was no response
   * @param retryAfterMs the destination's own {@code Retry-After}, or -1 when it gave none
   */
  public RetryableDeliveryException(String message, int status, long retryAfterMs) {
    super(message);
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }

  public int status() {
    return status;
  }

  public long retryAfterMs() {
    return retryAfterMs;
  }
}
