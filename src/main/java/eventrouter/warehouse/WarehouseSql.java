package eventrouter.warehouse;

/**
 * The warehouse's SQL, gathered in one place. Every statement takes parameters only; the batch insert takes one
 * text[] of normalised events and lets Postgres extract the columns, so Java never parses an event twice.
 */
final class WarehouseSql {
  private WarehouseSql() {
  }

  /**
   * Inserts a batch into {@code events}, {@code tracks}, {@code groups} and {@code aliases}, merges identify
   * traits into {@code users} and records identity links, all in one statement. Events already stored (a
   * redelivery, or a duplicate messageId) are skipped everywhere, because the other tables read only what this
   * statement inserted. Returns the distinct user ids of the new events (for the computed traits) and the new
   * events' message ids: {@code identifies}, {@code pages}, {@code screens} and the tables per event are written
   * for those by {@code typed.TypedTables}, with their typed columns. {@code incoming} is MATERIALIZED so
   * that each event's text is parsed into jsonb once: inlined (Postgres' default for a CTE read once), the cast ran
   * again for every {@code r->>...}, about 14 times per event, which made this statement 7x slower
   * (loadtest/bench.sh, BENCHMARKS.md).
   */
  static final String INSERT_BATCH = """
      WITH incoming AS MATERIALIZED (
        SELECT r::jsonb AS r FROM unnest($1::text[]) AS u(r)
      ), ins AS (
        INSERT INTO events (message_id, type, event, user_id, anonymous_id, source_id, "timestamp",
                            original_timestamp, sent_at, received_at, context, properties, traits, raw)
        SELECT r->>'messageId', r->>'type', r->>'event', r->>'userId', r->>'anonymousId', r->>'sourceId',
               (r->>'timestamp')::timestamptz, (r->>'originalTimestamp')::timestamptz,
               (r->>'sentAt')::timestamptz, (r->>'receivedAt')::timestamptz,
               nullif(r->'context', 'null'), nullif(r->'properties', 'null'),
               coalesce(nullif(r->'traits', 'null'), nullif(r->'context'->'traits', 'null')), r
        FROM incoming
        ON CONFLICT (message_id) DO NOTHING
        RETURNING *
      ), tracks_ins AS (
        INSERT INTO tracks (message_id, user_id, anonymous_id, event, "timestamp", received_at, properties, context)
        SELECT message_id, user_id, anonymous_id, event, "timestamp", received_at, properties, context
        FROM ins WHERE type = 'track'
        ON CONFLICT (message_id) DO NOTHING
      ), groups_ins AS (
        INSERT INTO "groups" (message_id, user_id, anonymous_id, group_id, "timestamp", received_at, traits, context)
        SELECT message_id, user_id, anonymous_id, raw->>'groupId', "timestamp", received_at, traits, context
        FROM ins WHERE type = 'group'
        ON CONFLICT (message_id) DO NOTHING
      ), aliases_ins AS (
        INSERT INTO aliases (message_id, previous_id, user_id, "timestamp", received_at, context)
        SELECT message_id, raw->>'previousId', user_id, "timestamp", received_at, context
        FROM ins WHERE type = 'alias'
        ON CONFLICT (message_id) DO NOTHING
      ), users_up AS (
        INSERT INTO users (id, traits, first_seen_at, last_seen_at)
        SELECT user_id,
               jsonb_merge_agg(CASE WHEN jsonb_typeof(traits) = 'object' THEN traits ELSE '{}' END
                               ORDER BY "timestamp", received_at),
               min("timestamp"), max("timestamp")
        FROM ins WHERE type = 'identify' AND user_id IS NOT NULL
        GROUP BY user_id
        ON CONFLICT (id) DO UPDATE SET
          traits = users.traits || EXCLUDED.traits,
          first_seen_at = least(users.first_seen_at, EXCLUDED.first_seen_at),
          last_seen_at = greatest(users.last_seen_at, EXCLUDED.last_seen_at)
      ), identities_up AS (
        INSERT INTO identities (anonymous_id, user_id, first_seen_at, last_seen_at)
        SELECT anonymous_id, user_id, min("timestamp"), max("timestamp")
        FROM (
          SELECT anonymous_id, user_id, "timestamp" FROM ins WHERE anonymous_id IS NOT NULL AND user_id IS NOT NULL
          UNION ALL
          SELECT raw->>'previousId', user_id, "timestamp" FROM ins WHERE type = 'alias'
        ) AS links
        GROUP BY anonymous_id, user_id
        ON CONFLICT (anonymous_id, user_id) DO UPDATE SET
          first_seen_at = least(identities.first_seen_at, EXCLUDED.first_seen_at),
          last_seen_at = greatest(identities.last_seen_at, EXCLUDED.last_seen_at)
      )
      SELECT coalesce(array_agg(DISTINCT user_id) FILTER (WHERE user_id IS NOT NULL), '{}'),
             coalesce(array_agg(message_id), '{}')
      FROM ins
      """;

  /** Inserts a batch of signals from the signals topic; a re-raised signal (same id) is skipped. */
  static final String INSERT_SIGNALS = """
      INSERT INTO signals (message_id, signal, rule_id, rule_kind, user_id, anonymous_id, properties, causes, late,
                           late_by_ms, "timestamp", received_at, raw)
      SELECT r->>'messageId', r->>'event', r->'rule'->>'id', r->'rule'->>'kind', r->>'userId', r->>'anonymousId',
             nullif(r->'properties', 'null'), coalesce(r->'causes', '[]'), coalesce((r->'rule'->>'late')::boolean, false),
             coalesce((r->'rule'->>'lateByMs')::bigint, 0), (r->>'timestamp')::timestamptz,
             (r->>'receivedAt')::timestamptz, r
      FROM (SELECT r::jsonb AS r FROM unnest($1::text[]) AS u(r)) AS incoming
      ON CONFLICT (message_id) DO NOTHING
      """;

  /** Inserts a batch of ingest's rejects (the rejects topic); {@code raw} stays text, as it may not be JSON. */
  static final String INSERT_INGEST_REJECTS = """
      INSERT INTO ingest_rejects (reject_id, source_id, received_at, endpoint, event_index, message_id, status, reason,
                                  error, raw)
      SELECT r->>'rejectId', r->>'sourceId', (r->>'receivedAt')::timestamptz, r->>'endpoint',
             (r->>'index')::int, r->>'messageId', (r->>'status')::int, r->>'reason', r->>'error', r->>'raw'
      FROM (SELECT r::jsonb AS r FROM unnest($1::text[]) AS u(r)) AS incoming
      ON CONFLICT (reject_id) DO NOTHING
      """;

  static final String INSERT_REJECT = """
      INSERT INTO warehouse_rejects (kafka_topic, kafka_partition, kafka_offset, raw, error)
      VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT DO NOTHING
      """;
}
