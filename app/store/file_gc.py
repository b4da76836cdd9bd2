"""Removing blobs that no event refers to any more, after the commit that let them go.

A blob may be shared by several events (same content, any user), so deleting an event or an
attachment never removes a file directly. Instead:

* the database queues the hashes an event row let go of (`file_gc_queue`, filled by a trigger
  on `events` in the same transaction as the change: a rolled back change queues nothing);
* after a commit that can release files, the process's collector wakes up, and for each queued
  hash, under that hash's exclusive advisory lock, asks whether any event still refers to it,
  removes the blob if none does, and drops the queue rows it looked at;
* an upload takes the hash's lock *shared* in its own transaction before it puts a blob in
  place, and holds it until its commit: the collector either removes the blob before (and the
  upload puts it back from its temporary file) or looks after the commit (and sees the new
  reference). A blob is never removed under a reference that is about to commit.
* an upload also writes an intent row (a queue row due only after a lease) before putting the
  blob in place, and settles it when it is done: if the process dies in between, the blob is
  still collected once the lease has passed.

The collector also polls now and then, for rows left by another process or by a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable

import anyio.to_thread
import asyncpg
from starlette.applications import Starlette

from app.background import BackgroundTask, wait_until_set
from app.store import transaction
from app.store.files import SHA256, FileStore, store_of
from app.store.log import LogRecord

logger = logging.getLogger(__name__)

# First key of the two-key advisory locks on blobs (a key space apart from the one-key stream
# locks of app/store/transaction.py): "file" in ASCII.
LOCK_CLASS = 0x66696C65
# How long an upload's intent row waits before the collector may act on it.
INTENT_LEASE_SECONDS = 3600.0
POLL_SECONDS = 60.0
BATCH = 500
# Records after whose commit some blob may have lost its last reference.
RELEASING = frozenset(
    {"event.deleted", "event.updated", "folder.deleted", "channel.deleted", "attachment.removed"}
)

# Repeats the expression and predicate of the index events_attachment_hashes (migration 0005).
_REFERENCED = """SELECT EXISTS (
    SELECT 1 FROM events
    WHERE attachments <> '{}'::jsonb
      AND jsonb_path_query_array(attachments, '$.*.sha256') @> jsonb_build_array($1::text))"""


def lock_key(sha256: str) -> int:
    """The blob's lock key: 32 bits of its hash (a collision only makes two blobs wait)."""
    return int(sha256[:8], 16) - (1 << 31)


async def hold(conn: asyncpg.Connection, hashes: Iterable[str]) -> None:
    """Until the transaction ends, the collector cannot remove these blobs."""
    keys = sorted({lock_key(h) for h in hashes})
    if keys:
        await conn.execute(
            "SELECT pg_advisory_xact_lock_shared($1, k) FROM unnest($2::int4[]) AS k",
            LOCK_CLASS,
            keys,
        )


async def is_referenced(conn: asyncpg.Connection, sha256: str) -> bool:
    return bool(await conn.fetchval(_REFERENCED, sha256))


async def intend(pool: asyncpg.Pool, hashes: Iterable[str]) -> dict[str, list[int]]:
    """Writes the intent rows of an upload about to place these blobs: hash -> row ids."""
    hashes = sorted(set(hashes))
    if not hashes:
        return {}
    rows = await pool.fetch(
        """INSERT INTO file_gc_queue (sha256, not_before)
           SELECT h, $2 FROM unnest($1::text[]) AS h RETURNING id, sha256""",
        hashes,
        time.time() + INTENT_LEASE_SECONDS,
    )
    return {r["sha256"]: [r["id"]] for r in rows}


async def collect(
    conn: asyncpg.Connection, store: FileStore, sha256: str, row_ids: list[int]
) -> bool:
    """Removes the blob if no event refers to it, then drops the queue rows `row_ids`.

    Only rows read before the check are dropped: a row queued by a change that commits later
    stays, and is looked at again. Returns whether the blob was removed.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCK_CLASS, lock_key(sha256))
        referenced = await is_referenced(conn, sha256)
        removed = False
        if not referenced:
            removed = await anyio.to_thread.run_sync(store.remove, sha256)
    # Apart from the check, so that no transaction here holds locks on two tables at once (one
    # that empties both, like a test's TRUNCATE, could otherwise deadlock with it). Dying in
    # between only leaves rows to look at again.
    await conn.execute("DELETE FROM file_gc_queue WHERE id = ANY($1::bigint[])", row_ids)
    if removed:
        logger.debug("removed blob %s", sha256)
    return removed


async def settle(pool: asyncpg.Pool, store: FileStore, intents: dict[str, list[int]]) -> None:
    """After an upload's transaction, whatever its outcome: keeps the blobs it referenced,
    removes the ones nothing refers to (the transaction failed), drops its intent rows.

    A failure here (the database gone) is logged, not raised: the intent rows stay and the
    collector settles them once their lease has passed.
    """
    try:
        async with pool.acquire() as conn:
            for sha256, row_ids in intents.items():
                await collect(conn, store, sha256, row_ids)
    except Exception:
        logger.warning("could not settle an upload's blobs; the collector will", exc_info=True)


async def collect_due(pool: asyncpg.Pool, store: FileStore, *, now: float | None = None) -> int:
    """One pass over the queue rows that are due; returns how many blobs were removed."""
    now = time.time() if now is None else now
    removed = 0
    after = 0
    async with pool.acquire() as conn:
        while True:
            rows = await conn.fetch(
                """SELECT id, sha256 FROM file_gc_queue WHERE not_before <= $1 AND id > $2
                   ORDER BY id LIMIT $3""",
                now,
                after,
                BATCH,
            )
            if not rows:
                return removed
            after = rows[-1]["id"]
            by_hash: dict[str, list[int]] = {}
            for row in rows:
                by_hash.setdefault(row["sha256"], []).append(row["id"])
            for sha256, row_ids in by_hash.items():
                if not SHA256.match(sha256):
                    await conn.execute(
                        "DELETE FROM file_gc_queue WHERE id = ANY($1::bigint[])", row_ids
                    )
                    continue
                try:
                    removed += await collect(conn, store, sha256, row_ids)
                except OSError:
                    logger.exception("could not remove blob %s; kept in the queue", sha256)


class Collector:
    """The process's collector: drains the queue after releasing commits and every minute."""

    def __init__(self, pool: asyncpg.Pool, store: FileStore) -> None:
        self.pool = pool
        self.store = store
        self._wake = asyncio.Event()
        self._task = BackgroundTask("file-collector")

    def notice(self, records: list[LogRecord]) -> None:
        """The commit listener: quick, never raises."""
        if any(r.type in RELEASING for r in records):
            self._wake.set()

    def start(self) -> None:
        self._wake.set()  # a first pass at start settles what a previous run left
        self._task.start(self._run())

    async def stop(self) -> None:
        await self._task.stop()

    async def _run(self) -> None:
        while True:
            await wait_until_set(self._wake, POLL_SECONDS)
            self._wake.clear()
            try:
                await collect_due(self.pool, self.store)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("file collection failed; retrying later", exc_info=True)


@contextlib.asynccontextmanager
async def service(app: Starlette) -> AsyncIterator[None]:
    """The file store and its collector, for as long as the application runs (a SERVICES
    entry). Every process sharing a database must share the data folder's `files/`."""
    store = store_of(app)
    await anyio.to_thread.run_sync(store.prepare)
    collector = Collector(app.state.pool, store)
    app.state.file_collector = collector
    transaction.on_commit(app.state.pool, collector.notice)
    collector.start()
    try:
        yield
    finally:
        transaction.remove_commit_listener(app.state.pool, collector.notice)
        await collector.stop()
