"""Channels: listed by any credential, created, modified and deleted with a session only."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.activities.respond import start_and_answer
from app.activities.state import Spec
from app.domain import client_data
from app.domain.errors import ApiError, id_exists, invalid_operation, name_exists, unknown
from app.domain.ids import RESERVED_CHANNEL_IDS, new_id, user_stream
from app.domain.validation import Body, Query
from app.edge.auth import authenticate
from app.edge.body import read_json
from app.edge.responses import JSONResponse, json
from app.identity.principal import Principal, meta
from app.store import transaction

CHANNEL_COLUMNS = (
    "channel_id, name, enforce_no_events_overlap, client_data, trashed, created, modified"
)


def channel_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["channel_id"],
        "name": row["name"],
        "enforceNoEventsOverlap": row["enforce_no_events_overlap"],
        "clientData": row["client_data"],
        "trashed": row["trashed"],
        "created": row["created"],
        "modified": row["modified"],
    }


async def load_channel(
    conn: asyncpg.Connection, user_id: Any, channel_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {CHANNEL_COLUMNS} FROM channels WHERE user_id = $1 AND channel_id = $2",
        user_id,
        channel_id,
    )


def unknown_channel(channel_id: str) -> ApiError:
    return unknown("UNKNOWN_CHANNEL", "channel", channel_id)


async def list_channels(request: Request) -> JSONResponse:
    principal = await authenticate(request)
    query = Query(request.query_params)
    # A token sees the channels it is granted, never trashed ones; a session chooses.
    state = query.text("state", choices=("default", "trashed", "all"), default="default")
    time_count_base = query.number("timeCountBase")
    query.done()
    if not principal.is_session:
        state = "default"
    where = {"default": "AND NOT trashed", "trashed": "AND trashed", "all": ""}[state]
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {CHANNEL_COLUMNS} FROM channels WHERE user_id = $1 {where} ORDER BY name",
            principal.user_id,
        )
        channels = [
            channel_json(r) for r in rows if principal.access.can_see_channel(r["channel_id"])
        ]
        if time_count_base is not None:
            from app.read.time_counts import channel_time_counts

            counts = await channel_time_counts(
                conn, principal, [c["id"] for c in channels], time_count_base
            )
            for channel in channels:
                channel["timeCount"] = counts.get(channel["id"], 0.0)
    return json(channels)


def _read_channel_body(body: Body, *, creating: bool) -> None:
    if creating:
        channel_id = body.identity("id")
        if channel_id in RESERVED_CHANNEL_IDS:
            body.fail("id", f"{channel_id!r} is reserved by the API's routes")
    body.name("name", required=creating)
    body.boolean("enforceNoEventsOverlap")
    data = body.obj("clientData")
    if isinstance(data, dict) and (problem := client_data.check(data)):
        body.fail("clientData", problem)
    if not creating:
        body.boolean("trashed")
    body.done()


async def create_channel(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    body = Body(
        await read_json(request),
        allowed={"id", "name", "enforceNoEventsOverlap", "clientData"},
    )
    _read_channel_body(body, creating=True)
    channel_id = body.data.get("id") or new_id()
    name = body.data["name"].strip()

    async def command(tx: transaction.Tx) -> None:
        stream = user_stream(principal.user_id)
        await tx.lock(stream)
        if await load_channel(tx.conn, principal.user_id, channel_id):
            raise id_exists(f"A channel with id {channel_id!r} exists")
        if await tx.conn.fetchval(
            "SELECT 1 FROM channels WHERE user_id = $1 AND name = $2", principal.user_id, name
        ):
            raise name_exists(f"A channel named {name!r} exists")
        await tx.append(
            stream,
            "channel.created",
            {
                "channelId": channel_id,
                "name": name,
                "enforceNoEventsOverlap": body.data.get("enforceNoEventsOverlap", True),
                "clientData": client_data.merge({}, body.data.get("clientData") or {}),
                "time": time.time(),
            },
            user_id=principal.user_id,
        )

    await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json({"id": channel_id}, status=201)


async def update_channel(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    channel_id = request.path_params["channel_id"]
    body = Body(
        await read_json(request),
        allowed={"name", "enforceNoEventsOverlap", "clientData", "trashed"},
    )
    _read_channel_body(body, creating=False)

    async def command(tx: transaction.Tx) -> dict[str, Any]:
        stream = user_stream(principal.user_id)
        await tx.lock(stream)
        row = await load_channel(tx.conn, principal.user_id, channel_id)
        if row is None:
            raise unknown_channel(channel_id)
        name = body.data["name"].strip() if body.has("name") else row["name"]
        if name != row["name"] and await tx.conn.fetchval(
            "SELECT 1 FROM channels WHERE user_id = $1 AND name = $2", principal.user_id, name
        ):
            raise name_exists(f"A channel named {name!r} exists")
        await tx.append(
            stream,
            "channel.updated",
            {
                "channelId": channel_id,
                "name": name,
                "enforceNoEventsOverlap": body.data.get(
                    "enforceNoEventsOverlap", row["enforce_no_events_overlap"]
                ),
                "clientData": client_data.merge(
                    row["client_data"], body.data.get("clientData") or {}
                ),
                "trashed": body.data.get("trashed", row["trashed"]),
                "time": time.time(),
            },
            user_id=principal.user_id,
        )
        return channel_json(await load_channel(tx.conn, principal.user_id, channel_id))

    channel = await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json(channel)


async def delete_channel(request: Request) -> Response:
    """Trashes the channel; a trashed one is deleted for good with all its folders and events:
    an activity (`channel.delete`) whose answer, once done, is 200 `{"channelDeletion": {"id"}}`
    (see app/activities/respond.py)."""
    principal = await authenticate(request, session_only=True)
    channel_id = request.path_params["channel_id"]

    async def command(tx: transaction.Tx) -> Spec | Response:
        stream = user_stream(principal.user_id)
        await tx.lock(stream)
        row = await load_channel(tx.conn, principal.user_id, channel_id)
        if row is None:
            raise unknown_channel(channel_id)
        if row["trashed"]:
            return Spec(
                type="channel.delete",
                title=f"Delete channel {row['name']!r} for good",
                params={"channelId": channel_id},
                context={"channelId": channel_id},
            )
        await tx.append(
            stream,
            "channel.trashed",
            {"channelId": channel_id, "time": time.time()},
            user_id=principal.user_id,
        )
        return json(channel_json(await load_channel(tx.conn, principal.user_id, channel_id)))

    return await start_and_answer(request, principal, command)


async def delete_for_good(
    tx: transaction.Tx, principal: Principal, channel_id: str
) -> dict[str, Any]:
    """Deletes a trashed channel with everything in it: one record, all or nothing (each read
    model drops the channel's rows in its `channel.deleted` handler). Called by the activities
    runner in the transaction that ends the `channel.delete` activity."""
    stream = user_stream(principal.user_id)
    await tx.lock(stream)
    row = await load_channel(tx.conn, principal.user_id, channel_id)
    if row is None:
        raise unknown_channel(channel_id)
    if not row["trashed"]:
        raise invalid_operation("Only a trashed channel can be deleted for good")
    await tx.append(
        stream,
        "channel.deleted",
        {"channelId": channel_id, "time": time.time()},
        user_id=principal.user_id,
    )
    return {"channelDeletion": {"id": channel_id}}


routes = [
    Route("/channels", list_channels, methods=["GET"]),
    Route("/channels", create_channel, methods=["POST"]),
    Route("/channels/{channel_id}", update_channel, methods=["PUT"]),
    Route("/channels/{channel_id}", delete_channel, methods=["DELETE"]),
]
