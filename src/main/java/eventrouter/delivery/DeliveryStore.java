package eventrouter.delivery;

import eventrouter.config.DestinationConfig.Stream;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The durable side of delivery in Postgres: the retry store ({@code delivery_retries}) and {@code dead_letters}. */
final class DeliveryStore {
  private final Pool pool;

  DeliveryStore(Pool pool) {
    this.pool = pool;
  }

  /**
   * Parks a delivery, due in {@code delayMs}. A delivery from the log is inserted (a duplicate is already parked); a
   * claimed row is updated and released.
   *
   * @return whether a new row was inserted
   */
  Future<Boolean> park(Delivery d, long delayMs) {
    if (d.retryId != null) {
      return pool.preparedQuery(DeliverySql.PARK_AGAIN)
          .execute(Tuple.of(d.retryId, d.attempts, time(d.firstAttemptAt), time(d.lastAttemptAt), status(d),
              d.lastError, delayMs))
          .map(false);
    }
    return pool.preparedQuery(DeliverySql.PARK_NEW)
        .execute(Tuple.from(new Object[] {d.destination, d.messageId, d.stream.wireName(), d.userKey, d.userId,
            d.anonymousId, d.seq, d.payload, time(d.receivedAt), time(d.createdAt), d.attempts,
            time(d.firstAttemptAt), time(d.lastAttemptAt), status(d), d.lastError, delayMs}))
        .map(rows -> rows.rowCount() > 0);
  }

  Future<Void> deadLetter(Delivery d) {
    return pool.preparedQuery(DeliverySql.DEAD_LETTER)
        .execute(Tuple.from(new Object[] {d.destination, d.messageId, d.stream.wireName(), d.userKey, d.userId,
            d.anonymousId, d.payload, time(d.receivedAt), time(d.createdAt), d.attempts, status(d),
            d.lastError == null ? "unknown" : d.lastError, time(d.firstAttemptAt), time(d.lastAttemptAt),
            d.retryId}))
        .mapEmpty();
  }

  Future<Void> delete(long retryId) {
    return pool.preparedQuery(DeliverySql.DELETE_RETRY).execute(Tuple.of(retryId)).mapEmpty();
  }

  Future<Void> release(List<Long> retryIds) {
    return pool.preparedQuery(DeliverySql.RELEASE).execute(Tuple.of(retryIds.toArray(Long[]::new))).mapEmpty();
  }

  /**
   * Claims up to {@code limit} due rows, returned oldest arrival first.
   *
   * @param trial for a half-open circuit's trials: the rows with the most attempts behind them are taken first
   */
  Future<List<Delivery>> claimDue(String destination, boolean ordered, int limit, long leaseMs,
      Collection<String> excludedUsers, boolean trial) {
    Future<RowSet<Row>> claim = ordered
        ? pool.preparedQuery(DeliverySql.CLAIM_DUE_ORDERED)
            .execute(Tuple.of(destination, limit, leaseMs, excludedUsers.toArray(String[]::new), trial))
        : pool.preparedQuery(DeliverySql.CLAIM_DUE).execute(Tuple.of(destination, limit, leaseMs, trial));
    return claim
        .map(rows -> {
          List<Delivery> claimed = new ArrayList<>();
          for (Row row : rows) {
            claimed.add(fromRow(row));
          }
          claimed.sort(Comparator.comparingLong(d -> d.seq));
          return claimed;
        });
  }

  /** Moves the destination's rows past the deadline to dead letters; returns their users (null for none). */
  Future<List<String>> expire(String destination, long deadlineMs) {
    return pool.preparedQuery(DeliverySql.EXPIRE).execute(Tuple.of(destination, deadlineMs)).map(rows -> {
      List<String> users = new ArrayList<>();
      for (Row row : rows) {
        users.add(row.getString(0));
      }
      return users;
    });
  }

  /** For an ordered destination: the rows parked per user, loaded at start-up. */
  Future<Map<String, Integer>> parkedUsers(String destination) {
    return pool.preparedQuery(DeliverySql.PARKED_USERS).execute(Tuple.of(destination)).map(rows -> {
      Map<String, Integer> counts = new HashMap<>();
      for (Row row : rows) {
        counts.put(row.getString(0), row.getLong(1).intValue());
      }
      return counts;
    });
  }

  private static Delivery fromRow(Row row) {
    Delivery d = new Delivery(row.getString("destination"), row.getString("message_id"),
        Stream.valueOf(row.getString("stream").toUpperCase()), row.getString("user_id"), row.getString("anonymous_id"),
        row.getString("payload"), instant(row.getOffsetDateTime("received_at")),
        instant(row.getOffsetDateTime("created_at")), row.getLong("seq"));
    d.retryId = row.getLong("id");
    d.attempts = row.getInteger("attempts");
    d.firstAttemptAt = instant(row.getOffsetDateTime("first_attempt_at"));
    d.lastAttemptAt = instant(row.getOffsetDateTime("last_attempt_at"));
    Integer status = row.getInteger("last_status");
    d.lastStatus = status == null ? 0 : status;
    d.lastError = row.getString("last_error");
    return d;
  }

  private static Integer status(Delivery d) {
    return d.lastStatus == 0 ? null : d.lastStatus;
  }

  static OffsetDateTime time(Instant instant) {
    return instant == null ? null : OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
  }

  static Instant instant(OffsetDateTime time) {
    return time == null ? null : time.toInstant();
  }
}
