-- Read models of the admin API: users, sessions, tokens, channels (projections of the log).
CREATE TABLE users (
    user_id       uuid PRIMARY KEY,
    user_name     text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    email         text,
    display_name  text,
    language      text,
    admin         boolean NOT NULL DEFAULT false,
    created       double precision NOT NULL,
    modified      double precision NOT NULL
);

-- Only the SHA-256 of a session id is kept: the secret itself lives with the client.
CREATE TABLE sessions (
    session_hash text PRIMARY KEY,
    user_id      uuid NOT NULL,
    created      double precision NOT NULL
);
-- Serves logout-everywhere and password change (end the user's sessions).
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE tokens (
    user_id     uuid NOT NULL,
    token_id    text NOT NULL,
    token       text NOT NULL,
    -- Lookup key of an incoming credential; the secret is then compared in constant time.
    token_hash  text NOT NULL UNIQUE,
    name        text NOT NULL,
    type        text NOT NULL,
    permissions jsonb NOT NULL,
    created     double precision NOT NULL,
    modified    double precision NOT NULL,
    PRIMARY KEY (user_id, token_id),
    CONSTRAINT tokens_name UNIQUE (user_id, name)
);

CREATE TABLE channels (
    user_id                    uuid NOT NULL,
    channel_id                 text NOT NULL,
    name                       text NOT NULL,
    enforce_no_events_overlap  boolean NOT NULL,
    client_data                jsonb NOT NULL DEFAULT '{}'::jsonb,
    trashed                    boolean NOT NULL DEFAULT false,
    created                    double precision NOT NULL,
    modified                   double precision NOT NULL,
    PRIMARY KEY (user_id, channel_id),
    CONSTRAINT channels_name UNIQUE (user_id, name)
);

-- Operational state, not read models: written directly, never rebuilt from the log, because
-- recording every request's use of a credential as a log record would make reads into writes.
CREATE TABLE credential_usage (
    credential_hash text PRIMARY KEY,
    last_used       double precision NOT NULL
);

CREATE TABLE login_failures (
    user_name    text PRIMARY KEY,
    failures     integer NOT NULL,
    window_start double precision NOT NULL
);
