"""`GET /stream`: the changes as Server-Sent Events (docs/api.md §7), served with sse-starlette.

Each frame has `id:` (the log cursor `<tx_id>.<position>`), `event:` (the record type) and
`data:` (the message). The stream opens with `retry:` and a comment, sends a comment after
`stream_heartbeat_seconds` of silence, and ends with an `event: close` frame whose data is
`{"error": {id, message}}` when the server closes it (credential revoked, client too slow,
shutdown). A browser's EventSource then reconnects with `Last-Event-ID` and resumes exactly
where it stopped (or gets 401 if its credential is gone).

Those are the native frames (`NATIVE`); a compat dialect streams the same subscriptions in its
own `Framing` (Plex's notifications, app/compat/plex_notifications.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import asyncpg
import orjson
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from app.domain.errors import ApiError, invalid_parameter
from app.domain.validation import Query
from app.edge.auth import authenticate
from app.edge.responses import error
from app.identity.principal import Principal
from app.realtime import filters
from app.realtime.fanout import Fanout
from app.realtime.filters import Filter
from app.realtime.messages import Change
from app.realtime.sink import (
    SHUTTING_DOWN,
    Closing,
    Sink,
    SinkClosed,
    deliveries,
    reconfirm,
    serve,
)
from app.store import log as event_log
from app.store.log import Cursor

RETRY_MS = 2000  # how long a browser waits before reconnecting
SHUTDOWN_GRACE = 2.0  # how long sse-starlette lets a stream end by itself on shutdown


async def resume_position(pool: asyncpg.Pool, value: str | None, param: str) -> Cursor | None:
    """A resume position given by a client; 400 if it is not one this server hands out.

    Checked before any subscription exists: a position past the log's newest record would give
    a stream that never delivers (every change to come is "older"), and one past int64 used to
    fail only in the catch-up's query, after the 200 (or closing a whole WebSocket). Every id a
    stream sends names a committed record, so it is never beyond the newest."""
    if value is None or not value.strip():
        return None
    try:
        since = Cursor.parse(value)
    except ValueError:
        raise invalid_parameter(param, f"{param} must be an id received from a stream") from None
    async with pool.acquire() as conn:
        if since > await event_log.newest(conn):
            raise invalid_parameter(param, f"{param} is beyond the newest change of the log")
    return since


async def stream(request: Request) -> Any:
    principal = await authenticate(request)
    query = Query(request.query_params)
    channels = query.many("channel")
    folders = query.many("folder")
    activities = query.text("activities")
    last_id = query.text("lastEventId")
    query.done()
    filt = filters.parse(channels, folders, activities)
    pool = request.app.state.pool
    header = request.headers.get("last-event-id")
    if header is not None and header.strip():
        since = await resume_position(pool, header, "Last-Event-ID")
    else:
        since = await resume_position(pool, last_id, "lastEventId")
    async with request.app.state.pool.acquire() as conn:
        await filters.check_targets(conn, principal, filt)
    return EventStream(request, principal, filt, since)


class _EventSourceResponse(EventSourceResponse):
    """sse-starlette's response without a cancel scope around each chunk when there is no send
    timeout (there is none here: a slow client is the sink's business). The scope did nothing
    but cost 8 µs a frame."""

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        if self.send_timeout is None:
            await send(message)
        else:
            await super()._send_with_timeout(send, message)


def _close_frame(closing: Closing) -> bytes:
    return b"event: close\ndata: %s\n\n" % orjson.dumps({"error": closing.error()})


@dataclass(frozen=True)
class Framing:
    """How a stream writes what the fan-out gives it: the native frames below, or a dialect's
    (app/compat/plex_notifications.py). `change` gives b"" for a change it does not show."""

    opening: bytes
    heartbeat: bytes
    change: Callable[[Change], bytes]
    closing: Callable[[Closing], bytes]
    refuse: Callable[[ApiError], Response] = error


NATIVE = Framing(
    opening=b"retry: %d\n: connected\n\n" % RETRY_MS,
    heartbeat=b": heartbeat\n\n",
    change=Change.sse_frame,
    closing=_close_frame,
)


class EventStream:
    """The response: registers the subscription, streams it, and always unregisters it."""

    def __init__(
        self,
        request: Request,
        principal: Principal,
        filt: Filter,
        since: Cursor | None,
        framing: Framing = NATIVE,
    ) -> None:
        self.request = request
        self.principal = principal
        self.filter = filt
        self.since = since
        self.framing = framing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fanout: Fanout = self.request.app.state.fanout
        settings = self.request.app.state.settings
        sink = Sink(self.principal, settings.stream_queue_size)
        fanout.attach(sink)
        try:
            since = self.since if self.since is not None else await fanout.now()
            sub = fanout.subscribe(sink, self.filter, since, key="stream")
            try:
                await reconfirm(sink, self.request)
            except ApiError as exc:
                await self.framing.refuse(exc)(scope, receive, send)
                return
            shutdown = anyio.Event()
            response = _EventSourceResponse(
                self._frames(sink, settings.stream_heartbeat_seconds),
                ping=0,  # heartbeats are sent after silence by _frames
                shutdown_event=shutdown,
                shutdown_grace_period=SHUTDOWN_GRACE,
            )

            async def respond() -> None:
                await response(scope, receive, send)

            async def end_on_shutdown() -> None:
                await shutdown.wait()
                sink.close(SHUTTING_DOWN)

            async def catch_up() -> None:
                await fanout.catch_up(sub)

            await serve(sink, respond, beside=(end_on_shutdown, catch_up))
        finally:
            fanout.detach(sink)

    async def _frames(self, sink: Sink, heartbeat: float) -> AsyncIterator[bytes]:
        framing = self.framing
        yield framing.opening
        try:
            async with deliveries(sink, heartbeat) as batches:
                async for items in batches:
                    if not items:
                        yield framing.heartbeat
                    else:
                        yield b"".join(framing.change(change) for _sub, change in items)
        except SinkClosed as closed:
            yield framing.closing(closed.closing)
