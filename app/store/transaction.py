"""The one path every write takes: lock streams, decide, append records and apply projections
in one transaction, commit, then tell whoever follows the log that something was committed."""

from __future__ import annotations

import asyncio
import logging
import random
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

import asyncpg

import projections
from app.store import log as event_log
from app.store.log import ConcurrencyConflict, LogRecord, NewRecord

logger = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ATTEMPTS = 8

CommitListener = Callable[[list[LogRecord]], None]

# Called after each commit with the records it made visible (the realtime fan-out registers a
# waker here), by the pool the commit went through: each application has a pool of its own, so
# two applications in one process (tests make several) never see each other's commits.
# Listeners must be quick and must not raise.
_commit_listeners: dict[asyncpg.Pool, list[CommitListener]] = {}


def on_commit(pool: asyncpg.Pool, listener: CommitListener) -> None:
    """Calls `listener` after each commit made through `pool`."""
    _commit_listeners.setdefault(pool, []).append(listener)


def remove_commit_listener(pool: asyncpg.Pool, listener: CommitListener) -> None:
    listeners = _commit_listeners.get(pool, [])
    if listener in listeners:
        listeners.remove(listener)
    if not listeners:
        _commit_listeners.pop(pool, None)  # a closed pool's key is not kept


def _lock_key(stream_id: str) -> int:
    # A 32-bit hash is enough: a collision only makes two streams wait for each other.
    return zlib.crc32(stream_id.encode())


class Tx:
    """A command's view of its transaction: locked streams, their versions, and appends."""

    def __init__(self, conn: asyncpg.Connection, meta: dict[str, Any]) -> None:
        self.conn = conn
        self.meta = meta
        self.records: list[LogRecord] = []
        self._versions: dict[str, int] = {}

    async def lock(self, *stream_ids: str) -> None:
        """Takes the streams' write locks for the rest of the transaction.

        A command locks the streams whose state it is about to read and decide on, so that the
        decision (name unique, no overlap, ...) is made against the latest committed state and no
        concurrent writer can invalidate it. Locks are taken in sorted order: no deadlocks.
        """
        for stream_id in sorted(set(stream_ids) - self._versions.keys()):
            # The lock, then the version as of its grant, in one round trip (migration 0012).
            self._versions[stream_id] = await self.conn.fetchval(
                "SELECT lock_stream($1, $2)", _lock_key(stream_id), stream_id
            )

    async def append(
        self, stream_id: str, type: str, data: dict[str, Any], *, user_id: UUID | None
    ) -> LogRecord:
        (record,) = await self.append_many(stream_id, [NewRecord(type, data)], user_id=user_id)
        return record

    async def append_many(
        self, stream_id: str, records: list[NewRecord], *, user_id: UUID | None
    ) -> list[LogRecord]:
        """Appends to the stream at the version read when it was locked, then projects."""
        if stream_id not in self._versions:
            self._versions[stream_id] = await event_log.stream_version(self.conn, stream_id)
        written = await event_log.append(
            self.conn,
            stream_id,
            self._versions[stream_id],
            records,
            user_id=user_id,
            meta=self.meta,
        )
        self._versions[stream_id] += len(written)
        await projections.apply_many(self.conn, written)
        self.records.extend(written)
        return written


async def run(
    pool: asyncpg.Pool,
    command: Callable[[Tx], Awaitable[T]],
    *,
    meta: dict[str, Any],
) -> T:
    """Runs `command` in a transaction, retrying it whole on a version clash or deadlock.

    The command reads, decides and appends through `Tx`; it may raise an ApiError to refuse,
    which rolls back everything it did.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        async with pool.acquire() as conn:
            tx = Tx(conn, meta)
            try:
                async with conn.transaction():
                    result = await command(tx)
            except (
                ConcurrencyConflict,
                asyncpg.DeadlockDetectedError,
                asyncpg.SerializationError,
            ) as exc:
                if attempt == MAX_ATTEMPTS:
                    raise
                logger.debug("retrying command after %s (attempt %d)", type(exc).__name__, attempt)
                await asyncio.sleep(random.uniform(0, 0.005 * attempt))
                continue
        if tx.records:
            for listener in list(_commit_listeners.get(pool, ())):
                try:
                    listener(tx.records)
                except Exception:  # a listener's fault must not fail a committed write
                    logger.exception("commit listener failed")
        return result
    raise AssertionError("unreachable")
