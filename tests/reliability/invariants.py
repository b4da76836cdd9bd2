"""What must hold after any chaos: the rules of periods, and read models equal to the log.

`check(pool)` raises AssertionError naming the first broken rule; the drills call it last.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from projections.rebuild import rebuild
from projections.registry import tables


async def overlapping_periods(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Pairs of period events that overlap in a channel that forbids it."""
    return await conn.fetch(
        """SELECT a.channel_id, a.event_id AS first, b.event_id AS second
           FROM events a
           JOIN events b ON a.user_id = b.user_id AND a.channel_id = b.channel_id
                        AND a.event_id < b.event_id
           JOIN channels c ON c.user_id = a.user_id AND c.channel_id = a.channel_id
           WHERE c.enforce_no_events_overlap AND a.kind = 'period' AND b.kind = 'period'
             AND NOT a.trashed AND NOT b.trashed
             AND a.time < coalesce(b.end_time, 'infinity')
             AND b.time < coalesce(a.end_time, 'infinity')
           LIMIT 10"""
    )


async def channels_running_more_than_one(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT e.user_id, e.channel_id, count(*) AS running FROM events e
           JOIN channels c USING (user_id, channel_id)
           WHERE c.enforce_no_events_overlap AND e.kind = 'period' AND e.end_time IS NULL
             AND NOT e.trashed
           GROUP BY e.user_id, e.channel_id HAVING count(*) > 1"""
    )


async def version_gaps(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Streams whose versions are not exactly 1..n (a half-written append would show here)."""
    return await conn.fetch(
        """SELECT stream_id, count(*) AS records, max(version) AS last FROM event_log
           GROUP BY stream_id HAVING count(*) <> max(version) OR min(version) <> 1"""
    )


async def snapshot(conn: asyncpg.Connection) -> dict[str, list[Any]]:
    """Every read model's rows, sorted, as comparable tuples."""
    result: dict[str, list[Any]] = {}
    for table in tables():
        rows = await conn.fetch(f"SELECT * FROM {table}")
        result[table] = sorted(tuple(map(repr, r.values())) for r in rows)
    return result


async def rebuild_differences(conn: asyncpg.Connection) -> dict[str, str]:
    """Rebuilds in a transaction that is rolled back, and says which tables differ from live."""
    live = await snapshot(conn)
    differences: dict[str, str] = {}
    tx = conn.transaction()
    await tx.start()
    try:
        await rebuild(conn)
        rebuilt = await snapshot(conn)
    finally:
        await tx.rollback()
    for table in live:
        if live[table] != rebuilt[table]:
            only_live = set(live[table]) - set(rebuilt[table])
            only_rebuilt = set(rebuilt[table]) - set(live[table])
            differences[table] = (
                f"{len(only_live)} rows only live (e.g. {sorted(only_live)[:1]}), "
                f"{len(only_rebuilt)} only rebuilt (e.g. {sorted(only_rebuilt)[:1]})"
            )
    return differences


async def check(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert not await overlapping_periods(conn), "overlapping periods"
        assert not await channels_running_more_than_one(conn), "several running periods"
        assert not await version_gaps(conn), "a stream with a gap in its versions"
        assert not await rebuild_differences(conn), await rebuild_differences(conn)
