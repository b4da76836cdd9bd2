-- Read model of the events users record (projections/events.py).
CREATE TABLE events (
    user_id     uuid NOT NULL,
    channel_id  text NOT NULL,
    event_id    text NOT NULL,
    folder_id   text,                -- NULL: a mark event off any folder
    kind        text NOT NULL CHECK (kind IN ('mark', 'period')),
    time        double precision NOT NULL,
    duration    double precision,    -- NULL for a mark and for a running period
    -- time + duration for a finished period, time for a mark, NULL while a period runs:
    -- the span [time, end_time] that the time-range query and the overlap rule test.
    end_time    double precision,
    value       jsonb,               -- {type, value} as the client sent it
    value_type  text,                -- value.type, for the `types` filter
    comment     text,
    tags        text[] NOT NULL DEFAULT '{}',
    client_id   text,
    client_data jsonb NOT NULL DEFAULT '{}'::jsonb,
    attachments jsonb NOT NULL DEFAULT '{}'::jsonb,
    trashed     boolean NOT NULL DEFAULT false,
    created     double precision NOT NULL,
    modified    double precision NOT NULL,
    PRIMARY KEY (user_id, channel_id, event_id)
);
-- clientId is unique per channel (batch uploads of offline records rely on it).
CREATE UNIQUE INDEX events_client_id ON events (user_id, channel_id, client_id)
    WHERE client_id IS NOT NULL;
-- Serves the default query: the latest N events of a channel, newest first.
CREATE INDEX events_time ON events (user_id, channel_id, time DESC);
-- Serves onlyFolders queries, the folder deletion check and the time counts of a folder.
CREATE INDEX events_folder_time ON events (user_id, channel_id, folder_id, time DESC);
-- Serves `running`, `stop` and the one-running-period rule.
CREATE INDEX events_running ON events (user_id, channel_id)
    WHERE kind = 'period' AND end_time IS NULL;
-- Serves modifiedSince (sync clients).
CREATE INDEX events_modified ON events (user_id, channel_id, modified);
