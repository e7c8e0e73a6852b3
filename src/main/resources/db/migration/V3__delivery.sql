-- Deliveries parked for a later attempt: a retryable failure, an open circuit, or a full in-memory queue.
-- The delivery consumer commits a log offset only once each delivery of that record has succeeded or is a row here
-- (or in dead_letters), so this table is the durable pending work of delivery.
CREATE TABLE delivery_retries (
  id               bigserial PRIMARY KEY,
  destination      text NOT NULL,
  message_id       text NOT NULL,
  stream           text NOT NULL,               -- events | signals
  user_key         text,                        -- userId, else anonymousId: the unit of ordering
  user_id          text,
  anonymous_id     text,
  seq              bigint NOT NULL,             -- arrival order, for ordered destinations
  payload          jsonb NOT NULL,              -- the body to send, already shaped by the destination's payload
  received_at      timestamptz,                 -- the event's receivedAt, for the latency histogram
  created_at       timestamptz NOT NULL,        -- when the router took the delivery: the retry deadline counts from here
  attempts         int NOT NULL DEFAULT 0,
  first_attempt_at timestamptz,
  last_attempt_at  timestamptz,
  last_status      int,
  last_error       text,
  next_attempt_at  timestamptz NOT NULL,
  claimed_until    timestamptz,                 -- a router is attempting it; another may take it after this
  UNIQUE (destination, message_id)
);
CREATE INDEX delivery_retries_due ON delivery_retries (destination, next_attempt_at);
CREATE INDEX delivery_retries_user_order ON delivery_retries (destination, user_key, seq);

-- Deliveries that failed for good: a permanent failure, or retries exhausted by attempts or by the deadline.
CREATE TABLE dead_letters (
  id               bigserial PRIMARY KEY,
  destination      text NOT NULL,
  message_id       text NOT NULL,
  stream           text NOT NULL,
  user_key         text,
  user_id          text,
  anonymous_id     text,
  payload          jsonb NOT NULL,
  received_at      timestamptz,
  created_at       timestamptz NOT NULL,
  attempts         int NOT NULL,
  last_status      int,
  last_error       text NOT NULL,
  first_attempt_at timestamptz,
  last_attempt_at  timestamptz,
  dead_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (destination, message_id)
);
CREATE INDEX dead_letters_destination_dead_at ON dead_letters (destination, dead_at);
