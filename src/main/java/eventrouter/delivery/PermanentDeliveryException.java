package eventrouter.delivery;

/**
 * A delivery failed in a way that trying again cannot fix (a 4xx other than 408 and 429, a record the destination
 * refuses, a payload expression that fails): it becomes a dead letter at once.
 *
 * @see RetryableDeliveryException
 */
public final class PermanentDeliveryException extends RuntimeException {
  private final int status;

  /** @param status the HTTP status, or 0 when there was no response */
  public PermanentDeliveryException(String message, int status) {
    super(message);
    this.status = status;
  }

  public int status() {
    return status;
  }
}
