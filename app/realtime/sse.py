"""`GET /stream`: the changes as Server-Sent Events (API.md §7), served with sse-starlette.

Each frame has `id:` (the log cursor `<tx_id>.<position>`), `event:` (the record type) and
`data:` (the message). The stream opens with `retry:` and a comment, sends a comment after
`stream_heartbeat_seconds` of silence, and ends with an `event: close` frame whose data is
`{"error": {id, message}}` when the server closes it (credential revoked, client too slow,
shutdown). A browser's EventSource then reconnects with `Last-Event-ID` and resumes exactly
where it stopped (or gets 401 if its credential is gone).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio
import asyncpg
import orjson
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from app import log as event_log
from app.errors import ApiError, invalid_parameter
from app.http.auth import Principal, authenticate
from app.http.responses import error
from app.log import Cursor
from app.realtime import filters
from app.realtime.fanout import Fanout
from app.realtime.filters import Filter
from app.realtime.sink import SHUTTING_DOWN, Closing, Sink, SinkClosed, reconfirm
from app.validation import Query

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


class EventStream:
    """The response: registers the subscription, streams it, and always unregisters it."""

    def __init__(
        self, request: Request, principal: Principal, filt: Filter, since: Cursor | None
    ) -> None:
        self.request = request
        self.principal = principal
        self.filter = filt
        self.since = since

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
                await error(exc)(scope, receive, send)
                return
            shutdown = anyio.Event()
            response = _EventSourceResponse(
                self._frames(sink, settings.stream_heartbeat_seconds),
                ping=0,  # heartbeats are sent after silence by _frames
                shutdown_event=shutdown,
                shutdown_grace_period=SHUTDOWN_GRACE,
            )
            async with anyio.create_task_group() as tasks:

                async def respond() -> None:
                    await response(scope, receive, send)
                    tasks.cancel_scope.cancel()

                async def end_on_shutdown() -> None:
                    await shutdown.wait()
                    sink.close(SHUTTING_DOWN)

                async def cut_after_close() -> None:
                    closing = await sink.wait_closed()
                    await anyio.sleep(closing.grace)
                    tasks.cancel_scope.cancel()

                tasks.start_soon(respond)
                tasks.start_soon(end_on_shutdown)
                tasks.start_soon(cut_after_close)
                tasks.start_soon(fanout.catch_up, sub)
        finally:
            fanout.detach(sink)

    @staticmethod
    async def _frames(sink: Sink, heartbeat: float) -> AsyncIterator[bytes]:
        yield b"retry: %d\n: connected\n\n" % RETRY_MS
        # One timer per stream, rescheduled each heartbeat period, nudges the sink after
        # `heartbeat` seconds without a frame (a timeout around each take cost 12 µs a frame).
        loop = asyncio.get_running_loop()
        last = loop.time()
        heartbeat = max(heartbeat, 0.1)  # a zero setting would spin

        def check() -> None:
            nonlocal timer
            quiet = loop.time() - last
            if quiet >= heartbeat:
                sink.nudge()
                quiet = 0.0
            timer = loop.call_later(heartbeat - quiet, check)

        timer = loop.call_later(heartbeat, check)
        try:
            while True:
                try:
                    items = await sink.take()
                except SinkClosed as closed:
                    yield _close_frame(closed.closing)
                    return
                last = loop.time()
                if not items:
                    yield b": heartbeat\n\n"
                else:
                    yield b"".join(change.sse_frame() for _sub, change in items)
        finally:
            timer.cancel()

