"""Closing the streams of sessions that expire while they are open.

Ending a session (logout, a password change) is a record, which the fan-out acts on at once.
Expiring is not: a session passes its idle or absolute lifetime without anything written, and a
stream is not a use that keeps it alive. So each process looks its open session streams up
again in the database when the earliest of them is due to expire (known from the last look,
which a REST request may since have pushed further), and every SWEEP seconds at all of them
(a session deleted some other way), in one query either way. A stream therefore ends within
MIN_GAP of its session's expiry, whatever the lifetimes, and within SWEEP of anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable

import asyncpg

from app.background import BackgroundTask
from app.config import Settings
from app.identity.credentials import session_expiries
from app.realtime.sink import SESSION_ENDED, SESSION_EXPIRED, Sink

logger = logging.getLogger(__name__)

SWEEP = 60.0  # seconds between looks at every open session stream
MIN_GAP = 0.5  # seconds between two looks at least (sessions expiring one after the other)
RETRY = 5.0  # seconds before looking again when the database could not answer


class SessionExpiry:
    def __init__(
        self, pool: asyncpg.Pool, settings: Settings, sinks: Callable[[], Iterable[Sink]]
    ) -> None:
        self.pool = pool
        self.settings = settings
        self._sinks = sinks
        self._wake = asyncio.Event()
        self._due = math.inf  # when the watch wakes next (wall clock), unless woken earlier
        self._task = BackgroundTask("session-expiry")

    def start(self) -> None:
        self._task.start(self._watch())

    async def stop(self) -> None:
        await self._task.stop()

    def watch(self, sink: Sink) -> None:
        """A new stream: the watch wakes earlier if its session expires before the next look."""
        if sink.expires is not None and sink.expires < self._due:
            self._wake.set()

    def _open(self) -> list[tuple[Sink, float]]:
        """The open session streams, with when each expires as last looked up."""
        return [(s, s.expires) for s in self._sinks() if s.expires is not None and not s.closed]

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + SWEEP
        while True:
            earliest = min((expires for _, expires in self._open()), default=math.inf)
            wait = min(earliest - time.time(), next_sweep - loop.time())
            if wait > 0:
                self._due = time.time() + wait
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                self._wake.clear()
                continue  # a new stream, or the time has come: look at the schedule again
            self._due = -math.inf  # looking now: a new stream need not wake the watch
            sweep = loop.time() >= next_sweep
            if sweep:
                next_sweep = loop.time() + SWEEP
            pause = MIN_GAP
            try:
                await self.check(everything=sweep)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("could not look up the sessions of open streams (%s)",
                            type(exc).__name__)
                pause = RETRY
            await asyncio.sleep(pause)

    async def check(self, *, everything: bool = False) -> None:
        """Closes the streams whose session has expired or ended, and notes when the others
        expire. Only the streams due by now, unless `everything`."""
        now = time.time()
        sinks = [sink for sink, expires in self._open() if everything or expires <= now]
        if not sinks:
            return
        hashes = sorted({s.principal.credential_hash for s in sinks})
        async with self.pool.acquire() as conn:
            expiries = await session_expiries(conn, hashes, self.settings)
        now = time.time()
        for sink in sinks:
            expires = expiries.get(sink.principal.credential_hash)
            if expires is None:
                sink.close(SESSION_ENDED)
            elif expires <= now:
                sink.close(SESSION_EXPIRED)
            else:
                sink.expires = expires
