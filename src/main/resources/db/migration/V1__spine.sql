-- Every event, as received and normalised. message_id is the primary key, so a redelivered event is a no-op.
CREATE TABLE events (
  message_id         text PRIMARY KEY,
  type               text NOT NULL,
  event              text,
  user_id            text,
  anonymous_id       text,
  source_id          text NOT NULL,
  "timestamp"        timestamptz NOT NULL,
  original_timestamp timestamptz,
  sent_at            timestamptz,
  received_at        timestamptz NOT NULL,
  context            jsonb,
  properties         jsonb,
  traits             jsonb,
  raw                jsonb NOT NULL,
  loaded_at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX events_user_id_timestamp ON events (user_id, "timestamp");
CREATE INDEX events_anonymous_id_timestamp ON events (anonymous_id, "timestamp");
CREATE INDEX events_received_at ON events (received_at);

-- Segment-style tables, one per call type.
CREATE TABLE tracks (
  message_id   text PRIMARY KEY,
  user_id      text,
  anonymous_id text,
  event        text NOT NULL,
  "timestamp"  timestamptz NOT NULL,
  received_at  timestamptz NOT NULL,
  properties   jsonb,
  context      jsonb
);
CREATE INDEX tracks_event_timestamp ON tracks (event, "timestamp");

CREATE TABLE identifies (
  message_id   text PRIMARY KEY,
  user_id      text,
  anonymous_id text,
  "timestamp"  timestamptz NOT NULL,
  received_at  timestamptz NOT NULL,
  traits       jsonb,
  context      jsonb
);

CREATE TABLE pages (
  message_id   text PRIMARY KEY,
  user_id      text,
  anonymous_id text,
  name         text,
  category     text,
  "timestamp"  timestamptz NOT NULL,
  received_at  timestamptz NOT NULL,
  properties   jsonb,
  context      jsonb
);

CREATE TABLE screens (LIKE pages INCLUDING ALL);

CREATE TABLE "groups" (
  message_id   text PRIMARY KEY,
  user_id      text,
  anonymous_id text,
  group_id     text NOT NULL,
  "timestamp"  timestamptz NOT NULL,
  received_at  timestamptz NOT NULL,
  traits       jsonb,
  context      jsonb
);

CREATE TABLE aliases (
  message_id   text PRIMARY KEY,
  previous_id  text NOT NULL,
  user_id      text NOT NULL,
  "timestamp"  timestamptz NOT NULL,
  received_at  timestamptz NOT NULL,
  context      jsonb
);

-- One row per known user; each identify merges its traits over the stored ones.
CREATE TABLE users (
  id            text PRIMARY KEY,
  traits        jsonb NOT NULL DEFAULT '{}'::jsonb,
  first_seen_at timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL
);

-- Merges jsonb objects left to right, later keys winning: several identifies of one user in one batch.
CREATE AGGREGATE jsonb_merge_agg(jsonb) (SFUNC = jsonb_concat, STYPE = jsonb, INITCOND = '{}');

-- Log records Postgres refused for their content (e.g. a value out of range): kept, never silently dropped,
-- and never allowed to stop the writer.
CREATE TABLE warehouse_rejects (
  kafka_topic     text NOT NULL,
  kafka_partition int NOT NULL,
  kafka_offset    bigint NOT NULL,
  raw             text NOT NULL,
  error           text NOT NULL,
  rejected_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kafka_topic, kafka_partition, kafka_offset)
);
