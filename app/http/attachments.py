"""Attachments of events (API.md §3): add files to an event, read one back, delete one.

Adding needs `events-write` over the event's folder, reading needs `read-only`. An event the
credential cannot read answers 404 `UNKNOWN_EVENT`, like one that does not exist. Permissions
are checked before the body is read (a refused upload is not streamed to disk), and again in
the command, against the event as it is when the channel's stream is locked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any, BinaryIO

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app.domain.attachments import unknown_attachment, with_file_removed, with_files_added
from app.domain.ids import channel_stream
from app.edge.auth import authenticate
from app.edge.responses import JSONResponse, json
from app.http.data_access import channel_for
from app.http.events import event_at, precheck
from app.http.uploads import receive_upload
from app.identity.permissions import EVENTS_WRITE, READ
from app.identity.principal import meta
from app.store import transaction
from app.store.files import store_of

log = logging.getLogger(__name__)

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
            stream = channel_stream(principal.user_id, channel_id)
            await tx.lock(stream)
            await channel_for(tx.conn, principal, channel_id)
            event = await event_at(tx.conn, principal, channel_id, event_id, EVENTS_WRITE)
            states = with_files_added(event, upload.attachments(), time.time())
            await upload.publish(tx.conn)
            for stored, state in zip(upload.files, states, strict=True):
                await tx.append(
                    stream,
                    "attachment.added",
                    {"channelId": channel_id, "event": state, "fileName": stored.file_name},
                    user_id=principal.user_id,
                )
            return states[-1]

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
        log.warning("blob %s of an attachment is missing", attachment["sha256"])
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
    from urllib.parse import quote

    kind = "inline" if media_type.lower().startswith(_INLINE_PREFIXES) else "attachment"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in file_name)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


async def delete_attachment(request: Request) -> JSONResponse:
    principal, channel_id = await precheck(request, EVENTS_WRITE)
    event_id = request.path_params["event"]
    file_name = request.path_params["fileName"]

    async def command(tx: transaction.Tx) -> dict[str, Any]:
        stream = channel_stream(principal.user_id, channel_id)
        await tx.lock(stream)
        await channel_for(tx.conn, principal, channel_id)
        event = await event_at(tx.conn, principal, channel_id, event_id, EVENTS_WRITE)
        removed = event["attachments"].get(file_name)
        state = with_file_removed(event, file_name, time.time())
        await tx.append(
            stream,
            "attachment.removed",
            {"channelId": channel_id, "event": state, "fileName": file_name,
             "sha256": removed["sha256"]},
            user_id=principal.user_id,
        )
        return state

    event = await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json(event)


# Channel-scoped: after every fixed path, and after the events routes (`/events/start` must not
# be taken for an event id by the POST below).
routes = [
    Route("/{channel}/events/{event}", add_attachments, methods=["POST"]),
    Route("/{channel}/events/{event}/{fileName}", read_attachment, methods=["GET"]),
    Route("/{channel}/events/{event}/{fileName}", delete_attachment, methods=["DELETE"]),
]
