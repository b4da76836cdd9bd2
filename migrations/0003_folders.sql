-- Read model of the folder tree of each channel (projections/folders.py).
CREATE TABLE folders (
    user_id     uuid NOT NULL,
    channel_id  text NOT NULL,
    folder_id   text NOT NULL,
    parent_id   text,                -- NULL at the channel's root
    name        text NOT NULL,
    hidden      boolean NOT NULL DEFAULT false,
    client_data jsonb NOT NULL DEFAULT '{}'::jsonb,
    trashed     boolean NOT NULL DEFAULT false,
    created     double precision NOT NULL,
    modified    double precision NOT NULL,
    PRIMARY KEY (user_id, channel_id, folder_id)
);
-- A name is unique among siblings (trashed ones included): checked by the command, backed here.
CREATE UNIQUE INDEX folders_sibling_name ON folders (user_id, channel_id, coalesce(parent_id, ''), name);
-- Serves the walk down the tree (children of a folder) and the walk up (ancestors).
CREATE INDEX folders_parent ON folders (user_id, channel_id, parent_id);
