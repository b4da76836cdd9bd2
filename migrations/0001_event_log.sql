-- The event log: the source of truth. Every read model is a projection of these rows.
CREATE TABLE event_log (
    position    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction; readers follow (tx_id, position) below the snapshot's xmin so a
    -- row that commits late is never skipped (a plain position cursor would skip it).
    tx_id       xid8 NOT NULL DEFAULT pg_current_xact_id(),
    stream_id   text NOT NULL,
    version     integer NOT NULL,
    type        text NOT NULL,
    -- The owning user (null for system records): the distribution key if we ever shard by user.
    user_id     uuid,
    data        jsonb NOT NULL,
    meta        jsonb NOT NULL DEFAULT '{}'::jsonb,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The expected-version check of an append: two writers of one version clash here.
    CONSTRAINT event_log_stream_version UNIQUE (stream_id, version)
);

-- Serves the followers' cursor: WHERE (tx_id, position) > cursor ORDER BY tx_id, position.
CREATE INDEX event_log_cursor ON event_log (tx_id, position);
