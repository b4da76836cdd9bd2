"""Reading the `activities` read model: one activity, and the lists under the rule of
`GET /activities` (app/identity/activity_visibility.py), for the native routes and the dialects.

A list never shows what a read of it would refuse: the SQL conditions narrow the rows, and the
rule checks each row as well.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from app.domain.activities import unknown_activity
from app.domain.ids import uuid_id
from app.identity.activity_visibility import may_see_row, sql_conditions
from app.identity.principal import Principal

COLUMNS = (
    "activity_id, user_id, type, state, cancellable, cancel_requested, title, subtitle, progress, "
    "context, result, error, started_by, created_at, started_at, updated_at, completed_at"
)


def activity_from_row(row: asyncpg.Record) -> dict[str, Any]:
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


async def activity_row(conn: asyncpg.Connection, activity_id: UUID) -> asyncpg.Record | None:
    """The activity's row (with its owner, `user_id`, and `started_by` for the visibility rule)."""
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM activities WHERE activity_id = $1", activity_id
    )


async def load_activity(conn: asyncpg.Connection, activity_id: UUID) -> dict[str, Any] | None:
    row = await activity_row(conn, activity_id)
    return None if row is None else activity_from_row(row)


async def find_visible(
    conn: asyncpg.Connection, principal: Principal, raw_id: str
) -> tuple[dict[str, Any], UUID | None]:
    """The activity `raw_id` names, and its owner; 404 `UNKNOWN_ACTIVITY` if it does not exist
    or the caller may not see it (the same answer: a caller learns nothing of others')."""
    activity_id = uuid_id(raw_id)
    if activity_id is None:
        raise unknown_activity(raw_id)
    row = await activity_row(conn, activity_id)
    if row is None or not may_see_row(principal, row):
        raise unknown_activity(raw_id)
    return activity_from_row(row), row["user_id"]


async def cancel_requested(conn: asyncpg.Connection, activity_id: UUID) -> bool:
    return bool(await conn.fetchval(
        "SELECT cancel_requested FROM activities WHERE activity_id = $1", activity_id
    ))


async def visible_activities(
    conn: asyncpg.Connection,
    principal: Principal,
    *,
    since: float,
    conditions: list[str],
    args: list[Any],
    order: str,
    limit: int,
) -> list[asyncpg.Record]:
    """Rows of `activities` (as `a`) matching `conditions` (their arguments from `$2`: `$1` is
    `since`), in `order`, that the caller may see: at most `limit`. Finished activities that
    completed before `since` are past their retention and no longer listed."""
    conditions = ["(a.completed_at IS NULL OR a.completed_at > $1)", *conditions]
    args = [since, *args]
    conditions += sql_conditions(principal, args, "a.")
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM activities a WHERE {' AND '.join(conditions)} "
        f"ORDER BY {order} LIMIT {limit}",
        *args,
    )
    return [r for r in rows if may_see_row(principal, r)]


async def list_activities(
    conn: asyncpg.Connection,
    principal: Principal,
    *,
    since: float,
    states: list[str],
    activity_type: str | None,
    before: UUID | None,
    limit: int,
) -> list[dict[str, Any]]:
    """`GET /activities`: newest first, filtered by states, type, and `before` (those created
    before that activity)."""
    conditions: list[str] = []
    args: list[Any] = []
    if states:
        args.append(states)
        conditions.append(f"a.state = ANY(${len(args) + 1})")
    if activity_type:
        args.append(activity_type)
        conditions.append(f"a.type = ${len(args) + 1}")
    if before is not None:
        args.append(before)
        conditions.append(
            f"(a.created_at, a.activity_id) < (SELECT created_at, activity_id FROM activities "
            f"WHERE activity_id = ${len(args) + 1})"
        )
    rows = await visible_activities(
        conn, principal, since=since, conditions=conditions, args=args,
        order="a.created_at DESC, a.activity_id DESC", limit=limit,
    )
    return [activity_from_row(r) for r in rows]
