-- Typed tables (eventrouter.warehouse.typed): a table per track event, typed columns on identifies, pages, screens
-- and users, and the catalog of what appeared and when.

-- The tables made for track events: one row each, with the event name that first made it.
CREATE TABLE schema_tables (
  table_name  text PRIMARY KEY,
  event_name  text NOT NULL,
  message_id  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Every typed column the router added: its type now, the path it comes from, the event that first carried it, and
-- its one widening if it had one (bigint -> numeric, timestamptz -> text).
CREATE TABLE schema_columns (
  table_name    text NOT NULL,
  column_name   text NOT NULL,
  type          text NOT NULL,
  source_path   text,
  event_name    text,
  message_id    text NOT NULL,
  first_seen_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  widened_from  text,
  widened_at    timestamptz,
  PRIMARY KEY (table_name, column_name)
);

-- Values that fit no column: a type conflict (text in a numeric column) or two paths of one event that name the
-- same column. The row is stored with the column null; the value is here, as sent.
CREATE TABLE schema_discards (
  message_id   text NOT NULL,
  table_name   text NOT NULL,
  column_name  text NOT NULL,
  source_path  text NOT NULL,
  value        jsonb,
  value_type   text NOT NULL,
  column_type  text,
  reason       text NOT NULL,
  loaded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (message_id, table_name, source_path)
);
CREATE INDEX schema_discards_table_column ON schema_discards (table_name, column_name, loaded_at);

-- Past the limits (warehouse.typedMaxColumns per table, warehouse.typedMaxTables): the column (or, with column_name
-- '', the table) was not made; the events are still in tracks (and their other columns in their table).
CREATE TABLE schema_overflow (
  table_name    text NOT NULL,
  column_name   text NOT NULL,
  events        bigint NOT NULL,
  first_seen_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  last_seen_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (table_name, column_name)
);

-- When each row was written, as the per-event tables have it. Nullable and without a default at first, so that
-- adding it does not rewrite a large table: rows from before this version have none.
ALTER TABLE identifies ADD COLUMN loaded_at timestamptz;
ALTER TABLE identifies ALTER COLUMN loaded_at SET DEFAULT clock_timestamp();
ALTER TABLE pages ADD COLUMN loaded_at timestamptz;
ALTER TABLE pages ALTER COLUMN loaded_at SET DEFAULT clock_timestamp();
ALTER TABLE screens ADD COLUMN loaded_at timestamptz;
ALTER TABLE screens ALTER COLUMN loaded_at SET DEFAULT clock_timestamp();
