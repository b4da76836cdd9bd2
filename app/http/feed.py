"""The user activity feed over HTTP (API.md §6): list, identifiers, one entry, edit its text,
soft delete. The entries themselves are written by projections/feed.py; an edit or a deletion
is a record of the user's stream (`feed.entry_updated`, `feed.entry_deleted`), so a rebuild
gives them back.

The feed tells everything the user did (logins, tokens, every channel): only a credential with
full access (a session or a personal token) may read or change it; a shared token gets 403.
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.routing import Route

from app.domain.errors import ApiError, forbidden
from app.domain.ids import number_id, user_stream
from app.domain.validation import Body, Query
from app.edge.auth import authenticate
from app.edge.body import read_json
from app.edge.responses import JSONResponse, json
from app.identity.principal import Principal, meta
from app.store import transaction
from app.store.transaction import Tx

MAX_LIMIT = 1000
MAX_TEXT = 1000
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


async def feed_caller(request: Request) -> Principal:
    """The caller, if the feed is theirs to read: a session or a personal token (the compat
    dialects of app/compat apply the same rule through it)."""
    principal = await authenticate(request)
    if not principal.access.full:
        raise forbidden("The activity feed needs a session or a personal token")
    return principal


def _entry_id(request: Request) -> int:
    raw = request.path_params["entry"]
    entry_id = number_id(raw)
    if entry_id is None:
        raise _unknown(raw)
    return entry_id


def _unknown(raw: str) -> ApiError:
    return ApiError(404, "UNKNOWN_RESOURCE", f"Unknown feed entry {raw!r}")


def _gone(entry_id: int) -> ApiError:
    return ApiError(410, "GONE", f"The feed entry {entry_id} was deleted")


async def _query(request: Request, principal: Principal, columns: str) -> list[asyncpg.Record]:
    """The filters shared by the list and the identifiers: `type` (comma list or repeated),
    `fromTime`, `toTime`, `limit` (default 100), `before` (an entry id), `includeDeleted`."""
    query = Query(request.query_params)
    types = query.many("type")
    from_time = query.number("fromTime")
    to_time = query.number("toTime")
    limit = query.integer("limit", default=100, minimum=1, maximum=MAX_LIMIT)
    before = query.integer("before", minimum=0, maximum=10**18)
    include_deleted = query.boolean("includeDeleted")
    query.done()
    conditions = ["user_id = $1"]
    args: list[Any] = [principal.user_id]
    for value, condition in (
        (types or None, "type = ANY(${})"),
        (from_time, "created_at >= ${}"),
        (to_time, "created_at <= ${}"),
        (before, "entry_id < ${}"),
    ):
        if value is not None:
            args.append(value)
            conditions.append(condition.format(len(args)))
    if not include_deleted:
        conditions.append("deleted_at IS NULL")
    async with request.app.state.pool.acquire() as conn:
        return await conn.fetch(
            f"SELECT {columns} FROM user_feed WHERE {' AND '.join(conditions)} "
            f"ORDER BY entry_id DESC LIMIT {limit}",
            *args,
        )


async def list_feed(request: Request) -> JSONResponse:
    principal = await feed_caller(request)
    return json([entry_json(r) for r in await _query(request, principal, _COLUMNS)])


async def identifiers(request: Request) -> JSONResponse:
    principal = await feed_caller(request)
    return json([str(r["entry_id"]) for r in await _query(request, principal, "entry_id")])


async def load_entry(
    conn: asyncpg.Connection, principal: Principal, entry_id: int
) -> asyncpg.Record:
    """The caller's entry: 404 if it never was theirs, 410 once deleted."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM user_feed WHERE user_id = $1 AND entry_id = $2",
        principal.user_id,
        entry_id,
    )
    if row is None:
        raise _unknown(str(entry_id))
    if row["deleted_at"] is not None:
        raise _gone(entry_id)
    return row


async def get_entry(request: Request) -> JSONResponse:
    principal = await feed_caller(request)
    entry_id = _entry_id(request)
    async with request.app.state.pool.acquire() as conn:
        return json(entry_json(await load_entry(conn, principal, entry_id)))


async def apply_entry_change(
    request: Request, principal: Principal, entry_id: int, record_type: str,
    data: dict[str, Any],
) -> JSONResponse:
    """Appends an edit or a soft deletion of the entry to the user's stream; the answer is the
    entry as it now is (shared with the compat dialects, which reshape it)."""

    async def command(tx: Tx) -> dict[str, Any]:
        stream = user_stream(principal.user_id)
        await tx.lock(stream)
        await load_entry(tx.conn, principal, entry_id)
        await tx.append(stream, record_type,
                        {"entryId": str(entry_id), **data, "time": time.time()},
                        user_id=principal.user_id)
        row = await tx.conn.fetchrow(
            f"SELECT {_COLUMNS} FROM user_feed WHERE user_id = $1 AND entry_id = $2",
            principal.user_id,
            entry_id,
        )
        return entry_json(row)

    return json(await transaction.run(request.app.state.pool, command, meta=meta(principal)))


async def update_entry(request: Request) -> JSONResponse:
    """Changes the entry's `text` (1 to 1,000 characters)."""
    principal = await feed_caller(request)
    entry_id = _entry_id(request)
    body = Body(await read_json(request), allowed={"text"})
    text = body.text("text", required=True, min_len=1, max_len=MAX_TEXT)
    body.done()
    return await apply_entry_change(
        request, principal, entry_id, "feed.entry_updated", {"text": text}
    )


async def delete_entry(request: Request) -> JSONResponse:
    """Soft delete: the entry stays, with `deletedAt`, `deletedBy`, `isActive: false`; reading,
    editing or deleting it again answers 410 `GONE`; `includeDeleted` lists it."""
    principal = await feed_caller(request)
    entry_id = _entry_id(request)
    return await apply_entry_change(request, principal, entry_id, "feed.entry_deleted", {})


routes = [
    Route("/user-activity", list_feed, methods=["GET"]),
    Route("/user-activity/identifiers", identifiers, methods=["GET"]),
    Route("/user-activity/{entry}", get_entry, methods=["GET"]),
    Route("/user-activity/{entry}", update_entry, methods=["PUT"]),
    Route("/user-activity/{entry}", delete_entry, methods=["DELETE"]),
]
