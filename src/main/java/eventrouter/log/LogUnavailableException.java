package eventrouter.log;

/** Kafka did not acknowledge every event in time: nothing may be acknowledged to the client. */
public final class LogUnavailableException extends RuntimeException {
  public LogUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
