"""Waking the fan-out of every process when any process commits.

A process's own commits wake its fan-out directly (`app.store.transaction.on_commit`). Other
processes learn of them from a `NOTIFY` sent AFTER the commit, on a connection of its own, and
coalesced: while one notification is being sent, further commits only raise the transaction
id the next one will carry. Notifying inside the append transaction would serialise every
commit of the database on the notification queue's lock (the first design measured it 3 to 4 times
slower); after the commit it costs one tiny statement per burst of commits, off the write path.

The same connection LISTENs (a pooled connection would be reset and lose the LISTEN). If it
drops, it is opened again; the fan-out's slow poll covers the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from app.background import BackgroundTask

logger = logging.getLogger(__name__)

CHANNEL = "activity_log"
_RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0)


class CrossProcessWakeup:
    """LISTEN for other processes' commits; NOTIFY ours (when `notify` is on)."""

    def __init__(
        self, database_url: str, on_remote_commit: Callable[[int], None], *, notify: bool
    ) -> None:
        self._url = database_url
        self._on_remote_commit = on_remote_commit
        self._notify = notify
        self._pending = 0  # newest local transaction id not yet announced
        self._announce = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._task = BackgroundTask("realtime-wakeup")
        self.notifications_sent = 0
        self.notifications_received = 0

    def start(self) -> None:
        self._task.start(self._run())

    async def stop(self) -> None:
        await self._task.stop()
        await self._close()

    def announce(self, tx_id: int) -> None:
        """Tells other processes (soon, coalesced) that transactions up to tx_id committed."""
        if not self._notify:
            return
        self._pending = max(self._pending, tx_id)
        self._announce.set()

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                await self._connect()
                failures = 0
                await self._send_announcements()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: retry, the poll covers the gap
                delay = _RECONNECT_DELAYS[min(failures, len(_RECONNECT_DELAYS) - 1)]
                failures += 1
                logger.warning("realtime LISTEN connection lost (%s); retrying in %.1fs",
                            type(exc).__name__, delay)
                await self._close()
                await asyncio.sleep(delay)

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._url)
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        own_pid = conn.get_server_pid()

        def received(_conn: object, pid: int, _channel: str, payload: str) -> None:
            if pid == own_pid:
                return  # our own announcement: this process already knows
            self.notifications_received += 1
            try:
                tx_id = int(payload)
            except ValueError:
                tx_id = 0
            self._on_remote_commit(tx_id)

        await conn.add_listener(CHANNEL, received)
        self._conn = conn
        self._lost = lost
        # Anything committed while we were not listening is found by this first read.
        self._on_remote_commit(0)

    async def _send_announcements(self) -> None:
        assert self._conn is not None
        while True:
            waiter = asyncio.ensure_future(self._announce.wait())
            lost = asyncio.ensure_future(self._lost.wait())
            try:
                await asyncio.wait({waiter, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                lost.cancel()
            if self._lost.is_set():
                raise ConnectionError("the LISTEN connection was closed")
            self._announce.clear()
            tx_id = self._pending
            await self._conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(tx_id))
            self.notifications_sent += 1

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await conn.close()
