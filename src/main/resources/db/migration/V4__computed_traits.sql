-- Traits computed in the warehouse (conf/traits.json): each user's latest value of each trait. The traits verticle
-- writes a row here and the same value into the user's real-time traits in Redis.
CREATE TABLE computed_traits (
  user_id     text NOT NULL,
  name        text NOT NULL,
  value       jsonb NOT NULL,
  computed_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, name)
);

-- Trait queries read one user's tracks at a time.
CREATE INDEX tracks_user_id_event ON tracks (user_id, event);
