package eventrouter.log;

/**
 * One event ready for the log.
 *
 * @param key the partitioning key: {@code userId}, else {@code anonymousId}, so one user's events stay in order
 * @param messageId the event's id, for error reports
 * @param value the normalised event as UTF-8 JSON
 */
public record LogRecord(String key, String messageId, byte[] value) {
}
