"""Reading the user activity feed (`user_feed`, written by projections/feed.py; docs/api.md §6): the
entry shape, one entry of the caller, the filtered list. The native routes (app/http/feed.py)
and the compat dialects (app/compat) read it through here alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from app.domain.feed import DEFAULT_LIMIT, entry_gone, unknown_entry

_COLUMNS = (
    "entry_id, type, code, text, resource_kind, resource_id, channel_id, activity_id, "
    "created_at, updated_at, deleted_at, created_by, updated_by, deleted_by"
)


def entry_json(row: asyncpg.Record) -> dict[str, Any]:
    resource = None
    if row["resource_kind"] is not None:
        resource = {"kind": row["resource_kind"], "id": row["resource_id"],
                    "channelId": row["channel_id"]}
    return {
        "id": str(row["entry_id"]),
        "type": row["type"],
        "code": row["code"],
        "text": row["text"],
        "resource": resource,
        "activityId": str(row["activity_id"]) if row["activity_id"] else None,
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "deletedAt": row["deleted_at"],
        "isActive": row["deleted_at"] is None,
        "createdBy": row["created_by"],
        "updatedBy": row["updated_by"],
        "deletedBy": row["deleted_by"],
    }


async def entry_row(conn: asyncpg.Connection, user_id: Any, entry_id: int
                    ) -> asyncpg.Record | None:
    """The user's entry as it is, deleted or not (None if it never was theirs)."""
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM user_feed WHERE user_id = $1 AND entry_id = $2",
        user_id,
        entry_id,
    )


async def load_entry(conn: asyncpg.Connection, user_id: Any, entry_id: int) -> asyncpg.Record:
    """The user's entry: 404 if it never was theirs, 410 once deleted."""
    row = await entry_row(conn, user_id, entry_id)
    if row is None:
        raise unknown_entry(str(entry_id))
    if row["deleted_at"] is not None:
        raise entry_gone(entry_id)
    return row


async def feed_entry(pool: asyncpg.Pool, user_id: Any, entry_id: int) -> dict[str, Any]:
    """One entry of the user's feed in the native shape (`load_entry`'s 404 and 410)."""
    async with pool.acquire() as conn:
        return entry_json(await load_entry(conn, user_id, entry_id))


@dataclass(frozen=True)
class FeedFilter:
    """What the list and the identifiers share: `type` (any of), `fromTime`, `toTime`,
    `limit`, `before` (an entry id), `includeDeleted`."""

    types: list[str]
    from_time: float | None = None
    to_time: float | None = None
    limit: int = DEFAULT_LIMIT
    before: int | None = None
    include_deleted: bool = False


async def _select(pool: asyncpg.Pool, user_id: Any, where: FeedFilter, columns: str
                  ) -> list[asyncpg.Record]:
    """The user's entries matching `where`, newest first."""
    conditions = ["user_id = $1"]
    args: list[Any] = [user_id]
    for value, condition in (
        (where.types or None, "type = ANY(${})"),
        (where.from_time, "created_at >= ${}"),
        (where.to_time, "created_at <= ${}"),
        (where.before, "entry_id < ${}"),
    ):
        if value is not None:
            args.append(value)
            conditions.append(condition.format(len(args)))
    if not where.include_deleted:
        conditions.append("deleted_at IS NULL")
    async with pool.acquire() as conn:
        return await conn.fetch(
            f"SELECT {columns} FROM user_feed WHERE {' AND '.join(conditions)} "
            f"ORDER BY entry_id DESC LIMIT {int(where.limit)}",
            *args,
        )


async def list_entries(pool: asyncpg.Pool, user_id: Any, where: FeedFilter
                       ) -> list[dict[str, Any]]:
    return [entry_json(r) for r in await _select(pool, user_id, where, _COLUMNS)]


async def entry_ids(pool: asyncpg.Pool, user_id: Any, where: FeedFilter) -> list[str]:
    return [str(r["entry_id"]) for r in await _select(pool, user_id, where, "entry_id")]


async def active_entry_ids(
    pool: asyncpg.Pool, user_id: Any, type_prefix: str | None, limit: int
) -> list[str]:
    """The ids of the user's entries not deleted, newest first, at most `limit`; only the types
    starting with `type_prefix` (`"folder."`) when it is given (Pieces' filter)."""
    args: list[Any] = [user_id]
    condition = ""
    if type_prefix is not None:
        args.append(type_prefix + "%")
        condition = "AND type LIKE $2"
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT entry_id FROM user_feed WHERE user_id = $1 AND deleted_at IS NULL "
            f"{condition} ORDER BY entry_id DESC LIMIT {int(limit)}",
            *args,
        )
    return [str(r["entry_id"]) for r in rows]
