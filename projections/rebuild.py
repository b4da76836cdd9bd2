"""Replaying the whole log into empty read models."""

from __future__ import annotations

import asyncpg

from app.log import _COLUMNS, LogRecord, _from_row
from projections.registry import apply_many, tables


async def rebuild(conn: asyncpg.Connection, *, batch: int = 2000) -> int:
    """Empties every read model and replays the log into it, in one transaction.

    TRUNCATE takes each table's exclusive lock, so writers wait for the rebuild rather than
    interleave with it; the log is replayed in position order, which respects causality (a
    record written after another's commit always has a higher position).
    """
    count = 0
    pending: list[LogRecord] = []
    async with conn.transaction():
        await conn.execute(f"TRUNCATE {', '.join(tables())}")
        async for row in conn.cursor(
            f"SELECT {_COLUMNS} FROM event_log ORDER BY position", prefetch=batch
        ):
            pending.append(_from_row(row))
            if len(pending) >= batch:
                await apply_many(conn, pending)
                count += len(pending)
                pending.clear()
        await apply_many(conn, pending)
        count += len(pending)
    return count
