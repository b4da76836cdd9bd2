"""Channels: listed by any credential, created, modified and deleted with a session only."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.commands import channels as channel_commands
from app.domain import client_data
from app.domain.ids import RESERVED_CHANNEL_IDS, new_id
from app.domain.validation import Body, Query
from app.edge.auth import authenticate
from app.edge.body import read_json
from app.edge.responses import JSONResponse, json
from app.http.activity_answers import start_and_answer
from app.identity.principal import meta
from app.read import channels as channels_read
from app.read.time_counts import channel_time_counts
from app.store import transaction
from app.store.transaction import Tx


async def list_channels(request: Request) -> JSONResponse:
    principal = await authenticate(request)
    query = Query(request.query_params)
    # A token sees the channels it is granted, never trashed ones; a session chooses.
    state = query.text("state", choices=("default", "trashed", "all"), default="default")
    time_count_base = query.number("timeCountBase")
    query.done()
    if not principal.is_session:
        state = "default"
    async with request.app.state.pool.acquire() as conn:
        rows = await channels_read.list_channels(conn, principal.user_id, state)
        channels = [
            channels_read.channel_json(r)
            for r in rows
            if principal.access.can_see_channel(r["channel_id"])
        ]
        if time_count_base is not None:
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

    async def command(tx: Tx) -> None:
        await channel_commands.create_channel(tx, principal, channel_id, name, body.data)

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

    async def command(tx: Tx) -> dict[str, Any]:
        return await channel_commands.update_channel(tx, principal, channel_id, body.data)

    channel = await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json(channel)


async def delete_channel(request: Request) -> Response:
    """Trashes the channel; a trashed one is deleted for good with all its folders and events:
    an activity (`channel.delete`) whose answer, once done, is 200 `{"channelDeletion": {"id"}}`
    (see app/http/activity_answers.py)."""
    principal = await authenticate(request, session_only=True)
    channel_id = request.path_params["channel_id"]

    async def decide(tx: Tx) -> Any:
        return await channel_commands.delete_channel(tx, principal, channel_id)

    return await start_and_answer(request, principal, decide)


routes = [
    Route("/channels", list_channels, methods=["GET"]),
    Route("/channels", create_channel, methods=["POST"]),
    Route("/channels/{channel_id}", update_channel, methods=["PUT"]),
    Route("/channels/{channel_id}", delete_channel, methods=["DELETE"]),
]
