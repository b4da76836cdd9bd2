-- Read model of the user activity feed (docs/api.md §6, projections/feed.py): one entry per action
-- of a user, derived from one log record and its meta. The entry's id is that record's position
-- in the log, so a rebuild gives back the same ids; soft deletion and text edits are records too
-- (`feed.entry_deleted`, `feed.entry_updated` in the user's stream).
CREATE TABLE user_feed (
    user_id        uuid NOT NULL,
    entry_id       bigint NOT NULL,     -- the position of the record the entry comes from
    type           text NOT NULL,
    code           integer NOT NULL,
    text           text NOT NULL,
    resource_kind  text,
    resource_id    text,
    channel_id     text,
    resource_name  text,                -- the name the resource had then (for later texts)
    activity_id    uuid,
    created_at     double precision NOT NULL,
    updated_at     double precision,
    deleted_at     double precision,
    created_by     jsonb,
    updated_by     jsonb,
    deleted_by     jsonb,
    PRIMARY KEY (user_id, entry_id)     -- also serves the feed newest first and `before`
);
-- Serves GET /user-activity?type=...: one type, newest first.
CREATE INDEX user_feed_type ON user_feed (user_id, type, entry_id DESC);
-- Serves the projection's name lookup ("deleted folder Work": the name a deletion record does
-- not carry, from the newest entry about the same resource).
CREATE INDEX user_feed_resource ON user_feed (user_id, resource_kind, channel_id, resource_id,
                                              entry_id DESC)
    WHERE resource_name IS NOT NULL;
