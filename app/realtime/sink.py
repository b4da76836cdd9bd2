"""One client connection as the fan-out sees it: its credential, its bounded queue, its
subscriptions, and why it was closed.

The queue is bounded: the fan-out never waits for a client. A live change that finds the queue
full closes the connection with a reason (the client resumes from its last id), so a slow
client costs at most `limit` queued items of memory. Catch-up from the log, which the
connection reads at its own pace, waits for room instead (and leaves half the room to live
changes of its other subscriptions).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.requests import HTTPConnection

from app.edge.auth import authenticate
from app.identity.permissions import Access
from app.identity.principal import Principal
from app.realtime import filters
from app.realtime.filters import Filter
from app.realtime.messages import Change
from app.store.log import Cursor


@dataclass(frozen=True)
class Closing:
    """Why the server ends a connection: an error body for the client, a WebSocket close code,
    and how long the connection may take to say so before it is cut (a client that reads
    nothing would otherwise hold it forever)."""

    error_id: str
    message: str
    ws_code: int
    grace: float = 0.5

    def error(self) -> dict[str, Any]:
        return {"id": self.error_id, "message": self.message}


TOKEN_REVOKED = Closing("INVALID_TOKEN", "The token was revoked", 4401)
SESSION_ENDED = Closing("INVALID_TOKEN", "The session has ended", 4401)
SESSION_EXPIRED = Closing("INVALID_TOKEN", "The session has expired", 4401)
CREDENTIAL_GONE = Closing("INVALID_TOKEN", "The credentials are unknown, revoked or expired", 4401)
# A slow client is given time to read what it has and learn why it was closed.
TOO_SLOW = Closing(
    "SUBSCRIBER_TOO_SLOW",
    "The client did not keep up with its changes; reconnect and resume from the last id",
    4408,
    grace=10.0,
)
SHUTTING_DOWN = Closing(
    "SERVICE_UNAVAILABLE", "The server is shutting down; reconnect", 1012, grace=2.0
)


class SinkClosed(Exception):
    def __init__(self, closing: Closing) -> None:
        super().__init__(closing.message)
        self.closing = closing


@dataclass(eq=False)
class Subscription:
    """One filter on one connection: the SSE stream itself, or one WebSocket `subscribe`.

    `last` is the newest change it has been given (or skipped past): a change at or below it is
    never given again, which is what makes the hand-over from catch-up to live exact.
    While `held` is a list, the subscription is catching up from the log and live changes wait
    there; `until` is where the catch-up ends and the live feed takes over.
    """

    sink: Sink
    filter: Filter
    key: str
    last: Cursor
    until: Cursor
    held: list[Change] | None = None
    needs_paths: bool = False
    admin_all: bool = False

    def wants(self, change: Change) -> bool:
        sink = self.sink
        return self.filter.selects(change) and filters.may_read(
            change, sink.principal, sink.access
        )


class Sink:
    def __init__(self, principal: Principal, limit: int) -> None:
        self.principal = principal
        # The credential's grants as they are now (a token update replaces them).
        self.access: Access = principal.access
        self.access_version = 0  # counts the grant changes the fan-out applied
        # When the session ends unless used elsewhere, as last looked up (None: a token).
        self.expires: float | None = principal.expires
        self.limit = max(1, limit)
        self.subscriptions: dict[str, Subscription] = {}
        self.closing: Closing | None = None
        self._items: deque[Any] = deque()
        self._nudged = False
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self.closing is not None

    def offer(self, item: Any) -> None:
        """Queues a live item without waiting; a full queue closes the connection (too slow)."""
        if self.closing is not None:
            return
        if len(self._items) >= self.limit:
            self.close(TOO_SLOW)
            return
        self._items.append(item)
        self._ready.set()

    async def put(self, item: Any) -> None:
        """Queues a catch-up item, waiting while the queue is half full."""
        while self.closing is None and len(self._items) >= max(1, self.limit // 2):
            self._room.clear()
            await self._room.wait()
        if self.closing is not None:
            raise SinkClosed(self.closing)
        self._items.append(item)
        self._ready.set()

    def nudge(self) -> None:
        """Wakes `take` with nothing queued (it returns no item): the SSE heartbeat, without a
        timeout around every take (measured: 12 µs each, a fifth of a delivery)."""
        if self.closing is None:
            self._nudged = True
            self._ready.set()

    async def take(self, most: int = 256) -> list[Any]:
        """The next queued items (at least one, or none after a `nudge`), or SinkClosed once
        the sink is closed."""
        while not self._items and self.closing is None and not self._nudged:
            self._ready.clear()
            await self._ready.wait()
        self._nudged = False
        if self.closing is not None:
            raise SinkClosed(self.closing)
        batch = [self._items.popleft() for _ in range(min(most, len(self._items)))]
        if len(self._items) < max(1, self.limit // 2):
            self._room.set()
        return batch

    def close(self, closing: Closing) -> None:
        """Ends the connection: what is still queued is dropped (it may no longer be allowed)."""
        if self.closing is not None:
            return
        self.closing = closing
        self._items.clear()
        self._ready.set()
        self._room.set()
        self._closed.set()

    async def wait_closed(self) -> Closing:
        await self._closed.wait()
        assert self.closing is not None
        return self.closing


class Heartbeat:
    """Nudges a sink after `seconds` without anything sent, so that its writer sends the
    transport's keep-alive (the SSE comment, Plex's `ping`). One timer per connection,
    rescheduled each period: a timeout around each take cost 12 µs a frame."""

    def __init__(self, sink: Sink, seconds: float) -> None:
        self._sink = sink
        self._loop = asyncio.get_running_loop()
        self._period = max(seconds, 0.1)  # a zero setting would spin
        self._last = self._loop.time()
        self._timer = self._loop.call_later(self._period, self._check)

    def sent(self) -> None:
        """Something was sent just now: the silence starts again."""
        self._last = self._loop.time()

    def stop(self) -> None:
        self._timer.cancel()

    def _check(self) -> None:
        quiet = self._loop.time() - self._last
        if quiet >= self._period:
            self._sink.nudge()
            quiet = 0.0
        self._timer = self._loop.call_later(self._period - quiet, self._check)


@contextlib.asynccontextmanager
async def deliveries(sink: Sink, heartbeat: float) -> AsyncIterator[AsyncIterator[list[Any]]]:
    """What a connection's writer sends, batch by batch: the queued items, or [] after
    `heartbeat` seconds with nothing sent (then it sends its keep-alive). SinkClosed once the
    sink is closed. A context, so that the heartbeat's timer ends with the writer."""
    beat = Heartbeat(sink, heartbeat)

    async def batches() -> AsyncIterator[list[Any]]:
        while True:
            items = await sink.take()
            beat.sent()
            yield items

    try:
        async with contextlib.aclosing(batches()) as each:
            yield each
    finally:
        beat.stop()


Job = Callable[[], Awaitable[None]]


async def serve(sink: Sink, *ending: Job, beside: Iterable[Job] = ()) -> None:
    """Runs a connection's jobs until one of `ending` returns, or until the sink has been
    closed for its grace period: a client that reads nothing would otherwise hold the
    connection forever. The jobs `beside` are cancelled with the rest, whether done or not."""
    async with anyio.create_task_group() as tasks:

        async def run(job: Job) -> None:
            await job()
            tasks.cancel_scope.cancel()

        async def cut_after_close() -> None:
            closing = await sink.wait_closed()
            await anyio.sleep(closing.grace)
            tasks.cancel_scope.cancel()

        for job in ending:
            tasks.start_soon(run, job)
        for job in beside:
            tasks.start_soon(job)
        tasks.start_soon(cut_after_close)


async def reconfirm(sink: Sink, conn: HTTPConnection) -> None:
    """Authenticates again once the sink is attached (ApiError if the credential is gone).

    A revocation or a grant change committed between the first authentication and the attach
    was dispatched to no one; this second look catches it. A change the fan-out applied in the
    meantime is newer than what this look read, so it is kept.
    """
    version = sink.access_version
    principal = await authenticate(conn)
    if sink.access_version == version:
        sink.access = principal.access
