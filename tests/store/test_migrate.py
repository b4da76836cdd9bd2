"""Migrations: applied in order, each once, even when several processes start at once."""

from __future__ import annotations

import asyncio

import asyncpg

from app.store import database as db
from app.store.migrate import _MIGRATION_LOCK, available, migrate
from tests.support import fresh_database


async def _waiting_for_the_lock(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(
        """SELECT count(*) FROM pg_locks
           WHERE locktype = 'advisory' AND NOT granted AND database = (
               SELECT oid FROM pg_database WHERE datname = current_database())
             AND (classid::bigint << 32 | objid::bigint) = $1""",
        _MIGRATION_LOCK,
    )


async def test_two_migrators_at_once_apply_each_migration_once(database_url: str) -> None:
    names = [name for _, name, _ in available()]
    async with fresh_database(database_url) as url:
        holder, first, second = [await db.connect(url) for _ in range(3)]
        try:
            # Both migrators are started while the lock is held, so they truly race for it.
            await holder.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
            racing = asyncio.gather(migrate(first), migrate(second))
            for _ in range(3000):  # a hang guard, not a timing assert
                if await _waiting_for_the_lock(holder) == 2:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the two migrators never queued for the lock")
            await holder.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
            applied_first, applied_second = await racing

            # One applied everything, the other found nothing left to do.
            assert sorted([applied_first, applied_second], key=len) == [[], names]
            rows = await holder.fetch("SELECT number, name FROM schema_migrations ORDER BY 1")
            assert [r["name"] for r in rows] == names
            assert await holder.fetchval("SELECT to_regclass('event_log') IS NOT NULL")
            # And again: nothing.
            assert await migrate(first) == []
        finally:
            for conn in (holder, first, second):
                await conn.close()


async def test_a_failing_migration_leaves_no_trace_and_releases_the_lock(
    database_url: str, monkeypatch
) -> None:
    from app.store import migrate as migrate_module

    good = available()
    broken = [*good, (len(good) + 1, f"{len(good) + 1:04d}_broken.sql",
                      "CREATE TABLE half_done (x int); SELECT no_such_function();")]
    async with fresh_database(database_url) as url:
        conn = await db.connect(url)
        try:
            monkeypatch.setattr(migrate_module, "available", lambda: broken)
            try:
                await migrate(conn)
            except asyncpg.UndefinedFunctionError:
                pass
            else:
                raise AssertionError("the broken migration was applied")
            assert await conn.fetchval("SELECT to_regclass('half_done')") is None
            assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(good)
            monkeypatch.setattr(migrate_module, "available", lambda: good)
            # The lock was released: a second try does not hang, and finds nothing to do.
            async with asyncio.timeout(10):
                assert await migrate(conn) == []
        finally:
            await conn.close()
