"""Channels: listed by any credential, created, modified and deleted with a session only."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.commands import channels as channel_commands
from app.domain import body_types as declare
from app.domain import client_data
from app.domain.body_types import BodyType
from app.domain.ids import RESERVED_CHANNEL_IDS, new_id
from app.domain.validation import Query
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


def _reserved(channel_id: Any) -> str | None:
    if channel_id in RESERVED_CHANNEL_IDS:
        return f"{channel_id!r} is reserved by the API's routes"
    return None


ENFORCE_NO_OVERLAP = declare.boolean(
    description="periods of the channel may not overlap (true when created without it)")


class NewChannel(BodyType):
    """`POST /channels`."""

    id: str | None = declare.identity(
        check=_reserved, schema={"not": {"enum": sorted(RESERVED_CHANNEL_IDS)}},
        description="chosen by the client, or generated")
    name: str = declare.name(required=True)
    enforceNoEventsOverlap: bool | None = ENFORCE_NO_OVERLAP
    clientData: dict[str, Any] | None = client_data.FIELD


class ChannelChanges(BodyType):
    """`PUT /channels/{channel_id}`: what is absent stays."""

    name: str | None = declare.name()
    enforceNoEventsOverlap: bool | None = ENFORCE_NO_OVERLAP
    clientData: dict[str, Any] | None = client_data.FIELD
    trashed: bool | None = declare.boolean()


async def create_channel(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    new = NewChannel.read(await read_json(request))
    channel_id = new.id or new_id()
    name = new.name.strip()

    async def command(tx: Tx) -> None:
        await channel_commands.create_channel(tx, principal, channel_id, name,
                                              new.given_values())

    await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json({"id": channel_id}, status=201)


async def update_channel(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    channel_id = request.path_params["channel_id"]
    changes = ChannelChanges.read(await read_json(request)).given_values()

    async def command(tx: Tx) -> dict[str, Any]:
        return await channel_commands.update_channel(tx, principal, channel_id, changes)

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
