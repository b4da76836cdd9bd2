"""Replaying the whole log into empty read models."""

from __future__ import annotations

import asyncpg

from app.store.log import _COLUMNS, _from_row
from projections.registry import apply_many, deferred_indexes, tables


async def rebuild(conn: asyncpg.Connection, *, batch: int = 2000) -> int:
    """Empties every read model and replays the log into it, in one transaction.

    TRUNCATE takes each table's exclusive lock, so writers wait for the rebuild rather than
    interleave with it; the log is replayed in position order, which respects causality (a
    record written after another's commit always has a higher position).
    """
    count = 0
    async with conn.transaction():
        await conn.execute(f"TRUNCATE {', '.join(tables())}")
        definitions = await _drop_deferred_indexes(conn)
        cursor = await conn.cursor(f"SELECT {_COLUMNS} FROM event_log ORDER BY position")
        while rows := await cursor.fetch(batch):
            await apply_many(conn, [_from_row(row) for row in rows])
            count += len(rows)
        for definition in definitions:
            await conn.execute(definition)
    return count


async def _drop_deferred_indexes(conn: asyncpg.Connection) -> list[str]:
    """Drops the indexes the projections let the rebuild defer; returns their definitions."""
    rows = await conn.fetch(
        """SELECT indexname, indexdef FROM pg_indexes
           WHERE schemaname = current_schema() AND indexname = ANY($1::text[])""",
        deferred_indexes(),
    )
    for row in rows:
        await conn.execute(f'DROP INDEX "{row["indexname"]}"')
    return [row["indexdef"] for row in rows]
