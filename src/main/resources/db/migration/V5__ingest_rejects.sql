-- Events ingest refused on their own (a batch's other events were stored): kept with the reason and the bytes as
-- sent, so that nothing a client sent is dropped without a trace. Written by the warehouse from the rejects topic;
-- reject_id makes a redelivered record a no-op.
CREATE TABLE ingest_rejects (
  reject_id    text PRIMARY KEY,
  source_id    text NOT NULL,
  received_at  timestamptz NOT NULL,
  endpoint     text NOT NULL,
  event_index  int,
  message_id   text,
  status       int NOT NULL,
  reason       text NOT NULL,
  error        text NOT NULL,
  raw          text NOT NULL,
  loaded_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ingest_rejects_source_received_at ON ingest_rejects (source_id, received_at);
