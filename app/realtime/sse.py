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
import orjson
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

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


def parse_since(value: str | None, param: str) -> Cursor | None:
    """A resume position given by a client; 400 if it is not one this server hands out."""
    if value is None or not value.strip():
        return None
    try:
        return Cursor.parse(value)
    except ValueError:
        raise invalid_parameter(param, f"{param} must be an id received from a stream") from None


async def stream(request: Request) -> Any:
    principal = await authenticate(request)
    query = Query(request.query_params)
    channels = query.many("channel")
    folders = query.many("folder")
    activities = query.text("activities")
    last_id = query.text("lastEventId")
    query.done()
    filt = filters.parse(channels, folders, activities)
    header = request.headers.get("last-event-id")
    if header is not None and header.strip():
        since = parse_since(header, "Last-Event-ID")
    else:
        since = parse_since(last_id, "lastEventId")
    async with request.app.state.pool.acquire() as conn:
        await filters.check_targets(conn, principal, filt)
    return EventStream(request, principal, filt, since)


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
            response = EventSourceResponse(
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
        while True:
            try:
                async with asyncio.timeout(heartbeat):
                    items = await sink.take()
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            except SinkClosed as closed:
                yield _close_frame(closed.closing)
                return
            yield b"".join(change.sse_frame() for _sub, change in items)

