"""Attachments of events over HTTP (docs/api.md §3): add files to an event, read one back, delete
one. The records are app/commands/attachments.py's; the upload's streaming, app/http/uploads.py's.

Adding needs `events-write` over the event's folder, reading needs `read-only`. An event the
credential cannot read answers 404 `UNKNOWN_EVENT`, like one that does not exist. Permissions
are checked before the body is read (a refused upload is not streamed to disk), and again in
the command, against the event as it is when the channel's stream is locked.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, BinaryIO
from urllib.parse import quote

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app.commands import attachments as attachment_commands
from app.domain.attachments import unknown_attachment
from app.edge.auth import authenticate
from app.edge.responses import JSONResponse, json
from app.http.events import precheck
from app.http.uploads import receive_upload
from app.identity.permissions import EVENTS_WRITE, READ
from app.identity.principal import meta
from app.read.channel_access import channel_for
from app.read.events import event_at
from app.store import transaction
from app.store.files import store_of

logger = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
# Types a browser may show in place; anything else (HTML, SVG, scripts...) is sent as a download.
_INLINE_PREFIXES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/avif",
                    "audio/", "video/", "text/plain", "application/pdf")


async def add_attachments(request: Request) -> JSONResponse:
    principal, channel_id = await precheck(request, EVENTS_WRITE)
    event_id = request.path_params["event"]
    pool = request.app.state.pool
    async with pool.acquire() as conn:
        await event_at(conn, principal, channel_id, event_id, EVENTS_WRITE)

    async with receive_upload(request, with_event=False) as upload:

        async def command(tx: transaction.Tx) -> dict[str, Any]:
            return await attachment_commands.add_attachments(
                tx, principal, channel_id, event_id, upload
            )

        event = await transaction.run(pool, command, meta=meta(principal))
    return json(event)


async def read_attachment(request: Request) -> Response:
    principal = await authenticate(request)
    channel_id = request.path_params["channel"]
    event_id = request.path_params["event"]
    file_name = request.path_params["fileName"]
    async with request.app.state.pool.acquire() as conn:
        await channel_for(conn, principal, channel_id)
        event = await event_at(conn, principal, channel_id, event_id, READ)
    attachment = event["attachments"].get(file_name)
    if attachment is None:
        raise unknown_attachment(file_name)
    store = store_of(request.app)
    handle = await anyio.to_thread.run_sync(store.open, attachment["sha256"])
    if handle is None:
        # Removed since the read (the attachment was deleted meanwhile), or the store lost it.
        logger.warning("blob %s of an attachment is missing", attachment["sha256"])
        raise unknown_attachment(file_name)
    return StreamingResponse(
        _chunks(handle),
        headers={
            "content-type": attachment["type"],
            "content-length": str(attachment["size"]),
            "content-disposition": content_disposition(file_name, attachment["type"]),
            "etag": f'"{attachment["sha256"]}"',
            "x-content-type-options": "nosniff",
            # Opened directly, the file runs in no origin: a stored page cannot script the API.
            "content-security-policy": "sandbox; default-src 'none'",
        },
    )


async def _chunks(handle: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await anyio.to_thread.run_sync(handle.read, CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()


def content_disposition(file_name: str, media_type: str) -> str:
    """`inline` for types a browser shows harmlessly, else `attachment`; the name quoted as
    RFC 6266 says (an ASCII fallback, and the exact name percent-encoded in `filename*`)."""
    kind = "inline" if media_type.lower().startswith(_INLINE_PREFIXES) else "attachment"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in file_name)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


async def delete_attachment(request: Request) -> JSONResponse:
    principal, channel_id = await precheck(request, EVENTS_WRITE)
    event_id = request.path_params["event"]
    file_name = request.path_params["fileName"]

    async def command(tx: transaction.Tx) -> dict[str, Any]:
        return await attachment_commands.delete_attachment(
            tx, principal, channel_id, event_id, file_name
        )

    event = await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json(event)


# Channel-scoped: after every fixed path, and after the events routes (`/events/start` must not
# be taken for an event id by the POST below).
routes = [
    Route("/{channel}/events/{event}", add_attachments, methods=["POST"]),
    Route("/{channel}/events/{event}/{fileName}", read_attachment, methods=["GET"]),
    Route("/{channel}/events/{event}/{fileName}", delete_attachment, methods=["DELETE"]),
]
