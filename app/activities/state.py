"""An activity's state (the API shape of API.md §2) and the records that change it.

Every record of the stream `activity-<uuid>` carries the activity's whole new state under
`activity`: the projection is then one upsert, and the realtime message of any `activity.*`
record is that state (app/realtime/messages.py reads `data.activity`). The work's input travels
only in `activity.created` (under `params`, never sent to subscribers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from app.store.transaction import Tx

PENDING, RUNNING, CANCELLING = "pending", "running", "cancelling"
COMPLETED, FAILED, CANCELLED = "completed", "failed", "cancelled"
FINAL = frozenset({COMPLETED, FAILED, CANCELLED})
STATES = (PENDING, RUNNING, CANCELLING, COMPLETED, FAILED, CANCELLED)

# Record types of an activity's stream.
CREATED = "activity.created"
STARTED = "activity.started"
PROGRESS = "activity.progress"
CANCEL_REQUESTED = "activity.cancel_requested"
FINAL_RECORDS = {
    COMPLETED: "activity.completed",
    FAILED: "activity.failed",
    CANCELLED: "activity.cancelled",
}


def stream(activity_id: UUID | str) -> str:
    return f"activity-{activity_id}"


@dataclass
class Spec:
    """What a route asks the runner to do: the work's type and input, and how it is shown."""

    type: str
    title: str
    params: dict[str, Any]
    context: dict[str, Any] = field(default_factory=dict)
    subtitle: str | None = None
    cancellable: bool = True


COLUMNS = (
    "activity_id, user_id, type, state, cancellable, cancel_requested, title, subtitle, progress, "
    "context, result, error, started_by, created_at, started_at, updated_at, completed_at"
)


def from_row(row: asyncpg.Record) -> dict[str, Any]:
    """The read model's row in the API shape."""
    return {
        "id": str(row["activity_id"]),
        "type": row["type"],
        "state": row["state"],
        "cancellable": row["cancellable"],
        "cancelRequested": row["cancel_requested"],
        "title": row["title"],
        "subtitle": row["subtitle"],
        "progress": row["progress"],
        "context": row["context"],
        "result": row["result"],
        "error": row["error"],
        "startedBy": row["started_by"],
        "createdAt": row["created_at"],
        "startedAt": row["started_at"],
        "updatedAt": row["updated_at"],
        "completedAt": row["completed_at"],
    }


async def load(conn: asyncpg.Connection, activity_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM activities WHERE activity_id = $1", activity_id
    )
    return None if row is None else from_row(row)


def progress(done: int, total: int | None) -> dict[str, Any]:
    percent = None
    if total:
        percent = round(min(100.0, 100.0 * done / total), 1)
    elif total == 0:
        percent = 100.0
    return {"done": done, "total": total, "percent": percent}


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
    activity = {
        "id": str(activity_id),
        "type": spec.type,
        "state": PENDING,
        "cancellable": spec.cancellable,
        "cancelRequested": False,
        "title": spec.title,
        "subtitle": spec.subtitle,
        "progress": progress(0, None),
        "context": spec.context,
        "result": None,
        "error": None,
        "startedBy": started_by,
        "createdAt": now,
        "startedAt": None,
        "updatedAt": now,
        "completedAt": None,
    }
    params = {**spec.params, "_runner": runner}
    await tx.append(
        stream(activity_id), CREATED, {"activity": activity, "params": params}, user_id=user_id
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
    activity: dict[str, Any],
    *,
    user_id: UUID | None,
    **extra: Any,
) -> None:
    """Appends a record carrying the activity's new state (the stream must be locked)."""
    activity["updatedAt"] = time.time()
    await tx.append(
        stream(activity["id"]), record_type, {"activity": activity, **extra}, user_id=user_id
    )
