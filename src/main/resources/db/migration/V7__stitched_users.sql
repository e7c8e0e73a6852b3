-- Stitched users: every anonymous id and every previous user id resolved to the user it ends at, through chains of
-- identify and alias (an anonymous id -> u1, then alias u1 -> u2: both resolve to u2). Views, so they are never
-- stale and cost nothing on the ingest path; they are computed when queried.

-- Each id's canonical user. An id linked to several users (a shared device) follows its latest link
-- (identities.last_seen_at), as the real-time path does. Chains are followed up to 32 links; a cycle (u1 -> u2, then
-- u2 -> u1) stops before it repeats a user.
CREATE VIEW user_identities AS
WITH RECURSIVE direct AS (
  SELECT DISTINCT ON (anonymous_id) anonymous_id AS id, user_id, last_seen_at
  FROM identities
  WHERE anonymous_id <> user_id
  ORDER BY anonymous_id, last_seen_at DESC, user_id
), chain (id, user_id, links, path) AS (
  SELECT id, user_id, 1, ARRAY[id, user_id] FROM direct
  UNION ALL
  SELECT chain.id, direct.user_id, chain.links + 1, chain.path || direct.user_id
  FROM chain JOIN direct ON direct.id = chain.user_id
  WHERE direct.user_id <> ALL (chain.path) AND chain.links < 32
)
SELECT DISTINCT ON (id) id, user_id AS canonical_user_id, links
FROM chain
ORDER BY id, links DESC;

-- Every event with the user it belongs to: its userId's canonical user (itself unless aliased on), or, for an
-- anonymous event, its anonymousId's (null while that anonymous visitor is unknown).
CREATE VIEW events_stitched AS
SELECT coalesce(by_user.canonical_user_id, e.user_id, by_anonymous.canonical_user_id) AS canonical_user_id, e.*
FROM events e
LEFT JOIN user_identities by_user ON by_user.id = e.user_id
LEFT JOIN user_identities by_anonymous ON by_anonymous.id = e.anonymous_id;
