-- Every signal the rules raised, with its cause. message_id is derived from the cause, so a re-raised signal
-- (a replay after a crash) is stored once.
CREATE TABLE signals (
  message_id  text PRIMARY KEY,
  signal      text NOT NULL,
  rule_id     text NOT NULL,
  rule_kind   text NOT NULL,
  user_id     text,
  anonymous_id text,
  properties  jsonb,
  causes      jsonb NOT NULL,
  late        boolean NOT NULL DEFAULT false,
  late_by_ms  bigint NOT NULL DEFAULT 0,
  "timestamp" timestamptz NOT NULL,
  received_at timestamptz NOT NULL,
  raw         jsonb NOT NULL,
  loaded_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX signals_user_id_timestamp ON signals (user_id, "timestamp");
CREATE INDEX signals_rule_id_timestamp ON signals (rule_id, "timestamp");

-- Which anonymous ids (and, through alias, previous user ids) belong to which user.
CREATE TABLE identities (
  anonymous_id  text NOT NULL,
  user_id       text NOT NULL,
  first_seen_at timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL,
  PRIMARY KEY (anonymous_id, user_id)
);
CREATE INDEX identities_user_id ON identities (user_id);
