-- Idempotency-Key (docs/api.md §5): the same key from the same user within 24 hours answers with the
-- activity the first request started. Operational state, not a read model: written in the
-- transaction that creates the activity, swept after 24 hours by the activities runner.
CREATE TABLE idempotency_keys (
    owner        text NOT NULL,          -- the user id, or 'operator'
    key          text NOT NULL,
    fingerprint  text NOT NULL,          -- method and path of the first request
    activity_id  uuid NOT NULL,
    created      double precision NOT NULL,
    PRIMARY KEY (owner, key)             -- serves the lookup of a key
);
-- Serves the sweep of keys older than 24 hours.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created);
