"""The mutations of activities: start one (with its `Idempotency-Key`), record a state, cancel.

`start(pool, principal, decide, ...)` runs `decide` in the write transaction like any other
command (lock, read, decide). It returns either a `Spec` (start this activity: it is created in
that same transaction, so it exists exactly when the decision commits) or a plain answer
(nothing long to do, e.g. a first DELETE that only trashes), given back as it is.

`Idempotency-Key`: the same key in the same key space within 24 hours gives back the activity
the first request started instead of starting another. The key spaces follow who sees which
activities (`visibility.key_space`): one per user for the user's sessions and personal tokens,
one per shared token; a replay never gives back an activity the caller may not see.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from app.domain import activities as activity
from app.domain.activities import Spec, unknown_activity
from app.domain.errors import ApiError, forbidden
from app.identity import activity_visibility as visibility
from app.identity.permissions import READ
from app.identity.principal import Principal, meta
from app.logging_setup import request_id
from app.read.activities import find_visible, load_activity
from app.store import transaction
from app.store.transaction import Tx

IDEMPOTENCY_SECONDS = 24 * 3600
PURGE_BATCH = 1000

Decide = Callable[[Tx], Awaitable[Any]]


@dataclass(frozen=True)
class Started:
    """The activity a start created (`new`) or, by its key, found."""

    activity_id: UUID
    new: bool


def runner_info(principal: Principal | None, pause: float = 0.0) -> dict[str, Any]:
    """Who the work acts for (kept with the work's input, never shown), and the drill's pause
    at each safe point (`activity_step_pause` of the process that started it, so that whichever
    process runs the work pauses alike)."""
    extra = {"pause": pause} if pause > 0 else {}
    if principal is None:
        return {"actor": {"kind": "operator"}, "requestId": request_id.get(), **extra}
    return {
        **extra,
        "userId": str(principal.user_id),
        "userName": principal.user_name,
        "admin": principal.admin,
        "kind": principal.kind,
        "tokenId": principal.token_id,
        "actor": principal.actor(),
        "requestId": request_id.get(),
    }


def started_by(principal: Principal | None) -> dict[str, Any]:
    if principal is None:
        return {"userName": None, "tokenId": None, "operator": True}
    return {"userName": principal.user_name, "tokenId": principal.token_id}


def check_export_access(principal: Principal, channel_id: str) -> None:
    """An export holds the whole channel: it needs read access to the whole channel."""
    if principal.access.channel_level(channel_id) < READ:
        raise forbidden("Exporting a channel needs read access to the whole channel")


async def create(
    tx: Tx,
    spec: Spec,
    *,
    user_id: UUID | None,
    started_by: dict[str, Any],
    runner: dict[str, Any],
) -> UUID:
    """Appends `activity.created` and puts the work on the runner's list, in the caller's
    transaction: the activity exists exactly when what decided to start it commits.

    `runner` is what the work needs besides `params` and is not shown (who to act as)."""
    activity_id = uuid4()
    now = time.time()
    state = activity.new_activity(activity_id, spec, started_by, now)
    params = {**spec.params, "_runner": runner}
    await tx.append(
        activity.stream(activity_id), activity.CREATED, {"activity": state, "params": params},
        user_id=user_id,
    )
    await tx.conn.execute(
        """INSERT INTO activity_runs (activity_id, user_id, type, cancellable, params, created)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        activity_id,
        user_id,
        spec.type,
        spec.cancellable,
        params,
        now,
    )
    return activity_id


async def append_state(
    tx: Tx,
    record_type: str,
    state: dict[str, Any],
    *,
    user_id: UUID | None,
    **extra: Any,
) -> None:
    """Appends a record carrying the activity's new state (the stream must be locked)."""
    state["updatedAt"] = time.time()
    await tx.append(
        activity.stream(state["id"]), record_type, {"activity": state, **extra}, user_id=user_id
    )


async def cancel(pool: asyncpg.Pool, principal: Principal, raw_id: str) -> dict[str, Any]:
    """Records the cancel request, then gives back the activity: `cancelling` while the work
    runs (it stops at its next safe point), `cancelled` for one that had not started. Asking
    again gives back the current state; 409 once it completed or failed, or if not
    cancellable. 404 `UNKNOWN_ACTIVITY` for one the caller may not see."""
    async with pool.acquire() as conn:
        found, owner = await find_visible(conn, principal, raw_id)
    activity_id = UUID(found["id"])

    async def command(tx: Tx) -> dict[str, Any]:
        await tx.lock(activity.stream(activity_id))
        current = await load_activity(tx.conn, activity_id)
        if current is None:
            raise unknown_activity(str(activity_id))
        if not activity.check_cancel(current):
            return current
        now = time.time()
        current["cancelRequested"] = True
        unclaimed = await tx.conn.fetchval(
            "DELETE FROM activity_runs WHERE activity_id = $1 AND lease_owner IS NULL "
            "RETURNING true",
            activity_id,
        )
        current["state"] = activity.CANCELLING
        await append_state(tx, activity.CANCEL_REQUESTED, current, user_id=owner)
        if unclaimed:  # no worker has it: it ends here
            current["state"] = activity.CANCELLED
            current["completedAt"] = now
            await append_state(tx, activity.FINAL_RECORDS[activity.CANCELLED], current,
                               user_id=owner)
        return current

    return await transaction.run(pool, command, meta=meta(principal))


async def purge_finished(pool: asyncpg.Pool, before: float) -> list[str]:
    """Removes (one `activities.purged` record) up to `PURGE_BATCH` activities that finished
    before `before`; gives back their ids. Takes the retention stream's lock, so two sweeps do
    not purge twice."""

    async def command(tx: Tx) -> list[str]:
        await tx.lock(activity.RETENTION_STREAM)
        rows = await tx.conn.fetch(
            "SELECT activity_id FROM activities WHERE completed_at < $1 "
            "ORDER BY completed_at LIMIT $2",
            before,
            PURGE_BATCH,
        )
        ids = [str(r["activity_id"]) for r in rows]
        if ids:
            await tx.append(activity.RETENTION_STREAM, activity.PURGED,
                            {"activityIds": ids, "before": before, "time": time.time()},
                            user_id=None)
        return ids

    return await transaction.run(pool, command, meta={"actor": {"kind": "server"}})


async def forget_idempotency_keys(pool: asyncpg.Pool) -> None:
    """Idempotency keys are kept 24 hours."""
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM idempotency_keys WHERE created < $1",
                           time.time() - IDEMPOTENCY_SECONDS)


# --- starting, with an Idempotency-Key ----------------------------------------------------------


class _AlreadyStarted(Exception):
    def __init__(self, activity_id: UUID) -> None:
        self.activity_id = activity_id


def _key_conflict() -> ApiError:
    return ApiError(409, "INVALID_OPERATION", "This Idempotency-Key was used for another request",
                    data={"param": "Idempotency-Key"})


async def _find_key(
    conn: asyncpg.Connection, principal: Principal | None, key: str, fingerprint: str
) -> UUID | None:
    """The activity the key started in the caller's key space, if any. One the caller may not
    see is a conflict, never an answer: the key spaces already keep them apart, and this keeps
    the rule exact whatever a row says."""
    row = await conn.fetchrow(
        "SELECT k.fingerprint, k.activity_id, a.activity_id IS NOT NULL AS kept, a.user_id, "
        "a.started_by "
        "FROM idempotency_keys k LEFT JOIN activities a ON a.activity_id = k.activity_id "
        "WHERE k.owner = $1 AND k.key = $2 AND k.created > $3",
        visibility.key_space(principal),
        key,
        time.time() - IDEMPOTENCY_SECONDS,
    )
    if row is None:
        return None
    if row["fingerprint"] != fingerprint:
        raise _key_conflict()
    if principal is not None and row["kept"] and not visibility.may_see_row(principal, row):
        raise _key_conflict()
    return row["activity_id"]


async def start(
    pool: asyncpg.Pool,
    principal: Principal | None,
    decide: Decide,
    *,
    key: str | None,
    fingerprint: str,
    pause: float = 0.0,
) -> Any:
    """Runs `decide` as a write; if it returns a Spec, creates that activity (and records
    `key` for it) and gives back `Started`; else gives back what `decide` returned. A key
    already used in the caller's key space for `fingerprint` gives back its activity
    (`Started(new=False)`); used for another fingerprint, 409."""
    owner = visibility.key_space(principal)
    if key is not None:
        async with pool.acquire() as conn:
            existing = await _find_key(conn, principal, key, fingerprint)
        if existing is not None:
            return Started(existing, new=False)

    async def command(tx: Tx) -> Any:
        outcome = await decide(tx)
        if not isinstance(outcome, Spec):
            return outcome
        if key is not None:
            await tx.lock(f"idempotency-{owner}-{key}")
            found = await _find_key(tx.conn, principal, key, fingerprint)
            if found is not None:
                raise _AlreadyStarted(found)
        activity_id = await create(
            tx,
            outcome,
            user_id=principal.user_id if principal is not None else None,
            started_by=started_by(principal),
            runner=runner_info(principal, pause),
        )
        if key is not None:
            # An expired row of the same key is replaced: the key is free again after 24 h.
            await tx.conn.execute(
                """INSERT INTO idempotency_keys (owner, key, fingerprint, activity_id, created)
                   VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (owner, key) DO UPDATE
                   SET fingerprint = EXCLUDED.fingerprint, activity_id = EXCLUDED.activity_id,
                       created = EXCLUDED.created""",
                owner, key, fingerprint, activity_id, time.time(),
            )
        return Started(activity_id, new=True)

    try:
        return await transaction.run(pool, command, meta=meta(principal) if principal
                                     else meta(None, actor={"kind": "operator"}))
    except _AlreadyStarted as exc:
        return Started(exc.activity_id, new=False)
