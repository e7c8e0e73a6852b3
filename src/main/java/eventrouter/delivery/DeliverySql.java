package eventrouter.delivery;

/** Delivery's SQL, gathered in one place: the retry store and the dead letters. Parameters only. */
final class DeliverySql {
  private DeliverySql() {
  }

  private static final String COLUMNS = "id, destination, message_id, stream, user_id, anonymous_id, seq, "
      + "payload::text AS payload, received_at, created_at, attempts, first_attempt_at, last_attempt_at, last_status, "
      + "last_error";

  /** Parks a delivery seen for the first time; a duplicate (a log record read again) is already parked: no-op. */
  static final String PARK_NEW = """
      INSERT INTO delivery_retries (destination, message_id, stream, user_key, user_id, anonymous_id, seq, payload,
                                    received_at, created_at, attempts, first_attempt_at, last_attempt_at, last_status,
                                    last_error, next_attempt_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, ($8::text)::jsonb, $9, $10, $11, $12, $13, $14, $15,
              now() + $16 * interval '1 millisecond')
      ON CONFLICT (destination, message_id) DO NOTHING
      """;

  /** Parks a claimed row again after another failed attempt, and releases the claim. */
  static final String PARK_AGAIN = """
      UPDATE delivery_retries SET attempts = $2, first_attempt_at = $3, last_attempt_at = $4, last_status = $5,
             last_error = $6, next_attempt_at = now() + $7 * interval '1 millisecond', claimed_until = NULL
      WHERE id = $1
      """;

  static final String DELETE_RETRY = "DELETE FROM delivery_retries WHERE id = $1";

  /** Gives up claims before their lease runs out: the rows are due again at once. */
  static final String RELEASE = "UPDATE delivery_retries SET claimed_until = NULL WHERE id = ANY($1::bigint[])";

  /**
   * Claims due rows of one unordered destination ({@code $1}) for {@code $3} ms, at most {@code $2}: the longest due
   * first, or, for the trials of a half-open circuit ({@code $4}), those with the most attempts behind them first.
   */
  static final String CLAIM_DUE = """
      UPDATE delivery_retries SET claimed_until = now() + $3 * interval '1 millisecond'
      WHERE id IN (
        SELECT r.id FROM delivery_retries r
        WHERE r.destination = $1 AND r.next_attempt_at <= now()
          AND (r.claimed_until IS NULL OR r.claimed_until < now())
        ORDER BY CASE WHEN $4 THEN r.attempts ELSE 0 END DESC, r.next_attempt_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED)
      RETURNING\s""" + COLUMNS;

  /**
   * Claims due rows of one ordered destination ({@code $1}) for {@code $3} ms, at most {@code $2}, leaving alone the
   * users this router still holds in memory ({@code $4}); heads with the most attempts first for trials ({@code $5}).
   * A user's rows are claimed oldest first (by {@code seq}): the head (the user's oldest row, locked, so that only
   * one claimer takes a user), then the rows behind it that are due too, up to the first that is not. Rows behind the
   * heads are cut oldest first, which keeps each user's a prefix, so a user whose events queued behind one failure
   * drains a run at a time rather than a row a claim.
   */
  static final String CLAIM_DUE_ORDERED = """
      WITH heads AS (
        SELECT r.id, r.user_key, r.seq FROM delivery_retries r
        WHERE r.destination = $1 AND r.next_attempt_at <= now()
          AND (r.claimed_until IS NULL OR r.claimed_until < now())
          AND NOT (coalesce(r.user_key, '') = ANY($4::text[]))
          AND NOT EXISTS (SELECT 1 FROM delivery_retries e
                          WHERE e.destination = r.destination AND e.user_key = r.user_key AND e.seq < r.seq)
        ORDER BY CASE WHEN $5 THEN r.attempts ELSE 0 END DESC, r.next_attempt_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED
      ), runs AS (
        SELECT f.id, f.seq FROM heads h
        CROSS JOIN LATERAL (
          SELECT f.id, f.seq FROM delivery_retries f
          WHERE f.destination = $1 AND f.user_key = h.user_key AND f.seq > h.seq
            AND f.seq < coalesce((SELECT min(g.seq) FROM delivery_retries g
                                  WHERE g.destination = $1 AND g.user_key = h.user_key AND g.seq > h.seq
                                    AND (g.next_attempt_at > now() OR g.claimed_until >= now())),
                                 9223372036854775807)
          ORDER BY f.seq
          LIMIT $2) f
      ), chosen AS (
        SELECT id FROM heads
        UNION ALL
        (SELECT id FROM runs ORDER BY seq LIMIT greatest(0, $2 - (SELECT count(*) FROM heads)))
      )
      UPDATE delivery_retries SET claimed_until = now() + $3 * interval '1 millisecond'
      WHERE id IN (SELECT id FROM chosen)
      RETURNING\s""" + COLUMNS;

  /** Rows parked per user of one destination: an ordered destination holds back these users' newer events. */
  static final String PARKED_USERS = """
      SELECT user_key, count(*) FROM delivery_retries WHERE destination = $1 AND user_key IS NOT NULL GROUP BY user_key
      """;

  /** Moves a delivery into dead letters, and out of the retry store when it was parked, in one statement. */
  static final String DEAD_LETTER = """
      WITH gone AS (DELETE FROM delivery_retries WHERE id = $15)
      INSERT INTO dead_letters (destination, message_id, stream, user_key, user_id, anonymous_id, payload, received_at,
                                created_at, attempts, last_status, last_error, first_attempt_at, last_attempt_at)
      VALUES ($1, $2, $3, $4, $5, $6, ($7::text)::jsonb, $8, $9, $10, $11, $12, $13, $14)
      ON CONFLICT (destination, message_id) DO UPDATE SET
        attempts = EXCLUDED.attempts, last_status = EXCLUDED.last_status, last_error = EXCLUDED.last_error,
        first_attempt_at = coalesce(dead_letters.first_attempt_at, EXCLUDED.first_attempt_at),
        last_attempt_at = EXCLUDED.last_attempt_at, payload = EXCLUDED.payload, dead_at = now()
      """;

  /**
   * While a destination's circuit is open nothing of it is attempted, so its rows past the retry deadline
   * ({@code $2} ms after the router took them) are moved to dead letters here. Returns their users.
   */
  static final String EXPIRE = """
      WITH expired AS (
        DELETE FROM delivery_retries
        WHERE destination = $1 AND created_at < now() - $2::bigint * interval '1 millisecond'
          AND (claimed_until IS NULL OR claimed_until < now())
        RETURNING *
      )
      INSERT INTO dead_letters (destination, message_id, stream, user_key, user_id, anonymous_id, payload, received_at,
                                created_at, attempts, last_status, last_error, first_attempt_at, last_attempt_at)
      SELECT destination, message_id, stream, user_key, user_id, anonymous_id, payload, received_at, created_at,
             attempts, last_status,
             coalesce(last_error || '; ', '') || 'the retry deadline of ' || $2::bigint || ' ms passed while the'
               || ' circuit was open',
             first_attempt_at, last_attempt_at
      FROM expired
      ON CONFLICT (destination, message_id) DO UPDATE SET
        attempts = EXCLUDED.attempts, last_status = EXCLUDED.last_status, last_error = EXCLUDED.last_error,
        last_attempt_at = EXCLUDED.last_attempt_at, payload = EXCLUDED.payload, dead_at = now()
      RETURNING user_key
      """;

  /** Dead letters, optionally of one destination ({@code $1}), after id {@code $2}, oldest first. */
  static final String LIST_DEAD_LETTERS = """
      SELECT id, destination, message_id, stream, user_id, anonymous_id, payload::text AS payload, received_at,
             created_at, attempts, last_status, last_error, first_attempt_at, last_attempt_at, dead_at
      FROM dead_letters
      WHERE ($1::text IS NULL OR destination = $1) AND id > $2
      ORDER BY id
      LIMIT $3
      """;

  /**
   * Moves the chosen dead letters of destination {@code $1} back into the retry store, due now, with a fresh count of
   * attempts and a fresh deadline: all of them ({@code $2}), or those with the given ids ({@code $3}), messageIds
   * ({@code $4}), or dead between {@code $5} and {@code $6}. A message already pending again is not doubled.
   */
  static final String REPLAY = """
      WITH chosen AS (
        DELETE FROM dead_letters
        WHERE destination = $1
          AND ($2 OR id = ANY($3::bigint[]) OR message_id = ANY($4::text[])
               OR (($5::timestamptz IS NOT NULL OR $6::timestamptz IS NOT NULL)
                   AND dead_at >= coalesce($5::timestamptz, '-infinity')
                   AND dead_at < coalesce($6::timestamptz, 'infinity')))
        RETURNING *
      )
      INSERT INTO delivery_retries (destination, message_id, stream, user_key, user_id, anonymous_id, seq, payload,
                                    received_at, created_at, next_attempt_at)
      SELECT destination, message_id, stream, user_key, user_id, anonymous_id,
             (extract(epoch FROM clock_timestamp()) * 1000000)::bigint + row_number() OVER (ORDER BY id),
             payload, received_at, now(), now()
      FROM chosen
      ON CONFLICT (destination, message_id) DO NOTHING
      RETURNING message_id
      """;

  static final String DISCARD_DEAD_LETTER = "DELETE FROM dead_letters WHERE id = $1 RETURNING destination";
}
