"""The event log: appends with an expected version, and a follower that misses nothing.

The follower test is the reason the log has an `(tx_id, position)` cursor: writers hold their
transactions open for random times, so positions commit out of order, and a reader following
the log with `read_after` must still see every committed record exactly once, in an order that
never goes back.
"""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest

from app.store import log, transaction
from app.store.log import START, ConcurrencyConflict, Cursor, NewRecord
from tests.support import auth

WRITERS = 24
TRANSACTIONS_PER_WRITER = 6
# How long the follower may wait for the last commits to be readable. On a shared server another
# database's open transaction holds back the snapshot's xmin for a while: a hang guard only.
DRAIN_DEADLINE = 60.0


async def _writer(pool: asyncpg.Pool, index: int, rng: random.Random) -> list[tuple[str, int]]:
    """Appends to its own stream in transactions held open for random times; returns what
    it committed as (stream, version)."""
    stream = f"test-writer-{index}"
    committed: list[tuple[str, int]] = []
    version = 0
    for _ in range(TRANSACTIONS_PER_WRITER):
        count = rng.randint(1, 3)
        async with pool.acquire() as conn, conn.transaction():
            written = []
            for _ in range(count):
                # Records of one transaction are appended apart, with waits between, so that
                # positions of concurrent transactions interleave.
                written += await log.append(
                    conn, stream, version + len(written),
                    [NewRecord("test.appended", {"writer": index})],
                    user_id=None, meta={"requestId": f"w{index}"},
                )
                await asyncio.sleep(rng.uniform(0, 0.02))
            await asyncio.sleep(rng.uniform(0, 0.05))
        version += len(written)
        committed += [(r.stream_id, r.version) for r in written]
    return committed


async def test_a_follower_misses_nothing_and_sees_nothing_twice(pool: asyncpg.Pool) -> None:
    rng = random.Random(20241201)
    seen: list[log.LogRecord] = []
    reads_during_writes = 0
    writers_done = asyncio.Event()

    async def follow() -> None:
        nonlocal reads_during_writes
        cursor = log.START
        async with pool.acquire() as conn:
            while not writers_done.is_set():
                batch = await log.read_after(conn, cursor, limit=50)
                if batch:
                    reads_during_writes += 1
                    seen.extend(batch)
                    cursor = batch[-1].cursor
                else:
                    await asyncio.sleep(0.002)
            # Drain: read until the cursor reaches the newest committed record. A reader that
            # skipped records gets there too, and the comparison below catches it.
            last = await conn.fetchrow(
                "SELECT tx_id::text AS tx_id, position FROM event_log "
                "ORDER BY event_log.tx_id DESC, event_log.position DESC LIMIT 1"
            )
            newest = log.Cursor(int(last["tx_id"]), last["position"])
            async with asyncio.timeout(DRAIN_DEADLINE):
                while cursor < newest:
                    batch = await log.read_after(conn, cursor, limit=50)
                    seen.extend(batch)
                    if batch:
                        cursor = batch[-1].cursor
                    else:
                        await asyncio.sleep(0.01)
            assert await log.read_after(conn, cursor) == []

    follower = asyncio.create_task(follow())
    results = await asyncio.gather(
        *(_writer(pool, i, random.Random(rng.random())) for i in range(WRITERS))
    )
    writers_done.set()
    await follower

    committed = sorted(pair for result in results for pair in result)
    got = [(r.stream_id, r.version) for r in seen]
    assert len(got) == len(set(got)), "a record was delivered twice"
    assert sorted(got) == committed, "the follower missed records"
    cursors = [r.cursor for r in seen]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    # Each stream is seen in version order (its records are causally ordered).
    by_stream: dict[str, list[int]] = {}
    for stream, version in got:
        by_stream.setdefault(stream, []).append(version)
    assert all(v == list(range(1, len(v) + 1)) for v in by_stream.values())
    # The follower really followed (it read while writers were still writing).
    assert reads_during_writes > 1


async def test_read_after_resumes_from_a_cursor_and_head_names_the_newest(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        assert await log.head(conn) == START
        for i in range(5):
            async with conn.transaction():
                await log.append(conn, "s", i, [NewRecord("t", {"i": i})], user_id=None, meta={})
        everything = await log.read_after(conn, START)
        assert [r.data["i"] for r in everything] == [0, 1, 2, 3, 4]
        assert await log.head(conn) == everything[-1].cursor
        rest = await log.read_after(conn, everything[1].cursor)
        assert [r.data["i"] for r in rest] == [2, 3, 4]
        assert [r.data["i"] for r in await log.read_after(conn, START, limit=2)] == [0, 1]
        assert Cursor.parse(str(everything[2].cursor)) == everything[2].cursor


async def test_an_open_transaction_holds_back_later_commits(pool: asyncpg.Pool) -> None:
    """A record committed after a still-open transaction began is not handed out before it:
    that is what keeps the slow transaction's record from landing behind the cursor."""
    async with pool.acquire() as slow, pool.acquire() as fast, pool.acquire() as reader:
        slow_tx = slow.transaction()
        await slow_tx.start()
        try:
            await log.append(slow, "slow", 0, [NewRecord("t", {})], user_id=None, meta={})
            async with fast.transaction():
                await log.append(fast, "fast", 0, [NewRecord("t", {})], user_id=None, meta={})
            assert await log.read_after(reader, START) == []
        finally:
            await slow_tx.commit()
        deadline = asyncio.get_running_loop().time() + DRAIN_DEADLINE
        while len(got := await log.read_after(reader, START)) < 2:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        assert [r.stream_id for r in got] == ["slow", "fast"]


async def test_two_appends_of_one_version_conflict_and_one_is_kept(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as first, pool.acquire() as second:
        tx1 = first.transaction()
        await tx1.start()
        await log.append(first, "clash", 0, [NewRecord("t", {"by": 1})], user_id=None, meta={})

        async def second_append() -> None:
            async with second.transaction():
                await log.append(
                    second, "clash", 0, [NewRecord("t", {"by": 2})], user_id=None, meta={}
                )

        # The second waits on the first's uncommitted row, then clashes once it commits.
        racing = asyncio.create_task(second_append())
        await asyncio.sleep(0.05)
        await tx1.commit()
        with pytest.raises(ConcurrencyConflict):
            await racing
        rows = await first.fetch("SELECT version, data FROM event_log WHERE stream_id = 'clash'")
    assert [(r["version"], r["data"]) for r in rows] == [(1, {"by": 1})]


async def test_an_append_behind_the_stream_conflicts(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await log.append(conn, "behind", 0, [NewRecord("a", {}), NewRecord("b", {})],
                         user_id=None, meta={})
        assert await log.stream_version(conn, "behind") == 2
        with pytest.raises(ConcurrencyConflict):
            async with conn.transaction():
                await log.append(conn, "behind", 1, [NewRecord("c", {})], user_id=None, meta={})
        assert await conn.fetchval("SELECT count(*) FROM event_log") == 2


async def test_conflicting_commands_are_retried_never_lost_nor_doubled(
    pool: asyncpg.Pool,
) -> None:
    """Commands that append without taking the stream's lock clash on the version; the
    transaction runner retries each from the start, so every one lands exactly once."""
    writers = 5
    attempts: dict[int, int] = {}

    def command_for(index: int):
        async def command(tx: transaction.Tx) -> None:
            attempts[index] = attempts.get(index, 0) + 1
            await tx.append("contended", "test.appended", {"writer": index}, user_id=None)
            await asyncio.sleep(random.uniform(0.01, 0.04))  # hold the row: others clash on it

        return command

    await asyncio.gather(
        *(transaction.run(pool, command_for(i), meta={"requestId": str(i)})
          for i in range(writers))
    )
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT version, data FROM event_log WHERE stream_id = 'contended' ORDER BY version"
        )
    assert [r["version"] for r in rows] == list(range(1, writers + 1))
    assert sorted(r["data"]["writer"] for r in rows) == list(range(writers))
    assert sum(attempts.values()) > writers, "no command ever clashed: the test proved nothing"


async def test_meta_records_the_actor_and_the_request_id(client, session, pool) -> None:
    r = await client.post(
        "/channels", json={"name": "Meta"}, headers={**auth(session), "X-Request-Id": "req-42"}
    )
    assert r.status_code == 201
    async with pool.acquire() as conn:
        meta = await conn.fetchval(
            "SELECT meta FROM event_log WHERE type = 'channel.created'"
        )
        user_id = await conn.fetchval("SELECT user_id FROM users WHERE user_name = 'alice'")
    assert meta["requestId"] == "req-42"
    assert meta["actor"]["kind"] == "session"
    assert meta["actor"]["userId"] == str(user_id)
    assert meta["actor"]["userName"] == "alice"
    assert session not in str(meta)  # the session id itself is never recorded


async def test_the_cursor_orders_transactions_as_numbers_not_as_text(pool: asyncpg.Pool) -> None:
    """Transaction ids cross a power of ten now and then (999 → 1000): a reader ordering them as
    the text it returns would read 1000 before 999 and move its cursor past 999's records."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM event_log")
        for tx_id, stream in ((999, "a"), (1000, "b"), (99, "c")):
            await conn.execute(
                """INSERT INTO event_log (tx_id, stream_id, version, type, data, meta)
                   VALUES ($1::text::xid8, $2, 1, 'test.record', '{}', '{}')""",
                str(tx_id), stream,
            )
        records = await log.read_after(conn, log.START)
        assert [r.tx_id for r in records] == [99, 999, 1000]
        assert (await log.head(conn)).tx_id == 1000


async def test_commands_that_lock_the_stream_never_clash(pool: asyncpg.Pool) -> None:
    """A command that locks its stream reads the version as of the lock's grant: each waiter
    appends on top of what the previous holder committed, first time, with no retry (a version
    read in the snapshot from before the wait would clash and be retried)."""
    writers = 6
    attempts: dict[int, int] = {}
    stream = f"locked-{random.random()}"

    def command_for(index: int):
        async def command(tx: transaction.Tx) -> None:
            attempts[index] = attempts.get(index, 0) + 1
            await tx.lock(stream)
            await asyncio.sleep(0.02)  # hold the lock: the others queue behind it
            await tx.append(stream, "test.appended", {"writer": index}, user_id=None)

        return command

    await asyncio.gather(
        *(transaction.run(pool, command_for(i), meta={"requestId": str(i)})
          for i in range(writers))
    )
    async with pool.acquire() as conn:
        versions = await conn.fetch(
            "SELECT version FROM event_log WHERE stream_id = $1 ORDER BY version", stream
        )
    assert [r["version"] for r in versions] == list(range(1, writers + 1))
    assert attempts == dict.fromkeys(range(writers), 1)
