package eventrouter.log;

/**
 * One event ready for the log.
 *
 * @param key the partitioning key: {@code userId}, else {@code anonymousId}, so one user's events stay in order
 * @param messageId the event's id, for error reports
 * @param value the normalised event as UTF-8 JSON
 * @param head written into the record's headers, for the stages that only route; null for none
 */
public record LogRecord(String key, String messageId, byte[] value, RecordHead head) {

  /** An event whose head goes into its headers. */
  public LogRecord(byte[] value, RecordHead head) {
    this(head.userId() != null ? head.userId() : head.anonymousId(), head.messageId(), value, head);
  }

  /** A record without headers (rejects: no stage routes them). */
  public LogRecord(String key, String messageId, byte[] value) {
    this(key, messageId, value, null);
  }
}
