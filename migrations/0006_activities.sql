-- Activities (docs/api.md §5): long-running operations. Two tables with two different natures.

-- Read model of activities (projections/activities.py): every column comes from the records of
-- the stream `activity-<uuid>`, each of which carries the activity's whole new state, so a
-- rebuild gives back exactly these rows.
CREATE TABLE activities (
    activity_id      uuid PRIMARY KEY,
    user_id          uuid,               -- the owner; NULL for an operator's activity
    type             text NOT NULL,
    state            text NOT NULL CHECK (state IN ('pending', 'running', 'cancelling',
                                                    'completed', 'failed', 'cancelled')),
    cancellable      boolean NOT NULL,
    cancel_requested boolean NOT NULL DEFAULT false,
    title            text NOT NULL,
    subtitle         text,
    progress         jsonb,
    context          jsonb,
    result           jsonb,
    error            jsonb,
    started_by       jsonb,
    created_at       double precision NOT NULL,
    started_at       double precision,
    updated_at       double precision NOT NULL,
    completed_at     double precision
);
-- Serves GET /activities for one user: newest first, `type`/`state` filtered on the way, and
-- the `before` cursor (created_at, activity_id).
CREATE INDEX activities_user_newest ON activities (user_id, created_at DESC, activity_id DESC);
-- Serves GET /activities for an admin user (everyone's, newest first).
CREATE INDEX activities_newest ON activities (created_at DESC, activity_id DESC);
-- Serves the retention sweep: finished activities older than the retention period.
CREATE INDEX activities_finished ON activities (completed_at) WHERE completed_at IS NOT NULL;

-- The runner's work list: operational state, NOT a read model (rebuild leaves it alone, like
-- file_gc_queue). It holds what only the runner needs: the work's input, the attempt number and
-- the lease. A row exists from the activity's creation (same transaction as its
-- `activity.created` record) until its final record (same transaction as that record).
-- Kept apart from `activities` because a lease changes every few seconds without a log record
-- (a rebuild could not give it back), and because a rebuild truncates every read model, the
-- running rebuild's own lease included.
CREATE TABLE activity_runs (
    activity_id  uuid PRIMARY KEY,
    user_id      uuid,
    type         text NOT NULL,
    cancellable  boolean NOT NULL,
    params       jsonb NOT NULL,
    attempt      integer NOT NULL DEFAULT 0,   -- claims so far; a completion names its attempt
    lease_owner  text,                         -- NULL: never claimed (pending)
    lease_until  double precision,             -- seconds since the epoch, database clock
    created      double precision NOT NULL
);
-- Serves the claim and the reaper (one query): the oldest row whose lease is absent or past,
-- taken FOR UPDATE SKIP LOCKED.
CREATE INDEX activity_runs_claimable ON activity_runs (coalesce(lease_until, 0), created);
