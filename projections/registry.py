"""Which projection handles which record type, and which tables are read models."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from app.log import LogRecord

Handler = Callable[[asyncpg.Connection, LogRecord], Awaitable[None]]

_handlers: dict[str, list[Handler]] = {}
_tables: list[str] = []


def handles(*types: str) -> Callable[[Handler], Handler]:
    """Registers a projection function for record types (several projections may share one)."""

    def register(fn: Handler) -> Handler:
        for t in types:
            _handlers.setdefault(t, []).append(fn)
        return fn

    return register


def read_models(*tables: str) -> None:
    """Declares tables written only by projections: `rebuild` empties and refills them."""
    for table in tables:
        if table not in _tables:
            _tables.append(table)


def tables() -> list[str]:
    return list(_tables)


async def apply(conn: asyncpg.Connection, record: LogRecord) -> None:
    for fn in _handlers.get(record.type, ()):
        await fn(conn, record)
