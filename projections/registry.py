"""Which projection handles which record type, and which tables are read models."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from app.store.log import LogRecord

Handler = Callable[[asyncpg.Connection, LogRecord], Awaitable[None]]
# Applies a run of records of one type in one statement (a batch of 100k events would otherwise
# cost 100k round trips). Registered beside, never instead of, the one-record handler.
ManyHandler = Callable[[asyncpg.Connection, Sequence[LogRecord]], Awaitable[None]]

_handlers: dict[str, list[Handler]] = {}
_many: dict[Handler, ManyHandler] = {}
_tables: list[str] = []
_deferred: list[str] = []


def handles(*types: str) -> Callable[[Handler], Handler]:
    """Registers a projection function for record types (several projections may share one)."""

    def register(fn: Handler) -> Handler:
        for t in types:
            _handlers.setdefault(t, []).append(fn)
        return fn

    return register


def handles_many(single: Handler) -> Callable[[ManyHandler], ManyHandler]:
    """Registers the bulk form of a handler already registered with `handles`: it must write
    exactly what calling `single` on each record in order would."""

    def register(fn: ManyHandler) -> ManyHandler:
        _many[single] = fn
        return fn

    return register


def read_models(*tables: str) -> None:
    """Declares tables written only by projections: `rebuild` empties and refills them."""
    for table in tables:
        if table not in _tables:
            _tables.append(table)


def tables() -> list[str]:
    return list(_tables)


def rebuild_defers(*indexes: str) -> None:
    """Declares indexes of read models that nothing reads through while the log is replayed
    (no projection query, no trigger, no constraint): `rebuild` drops them and builds each once
    at the end. One sort of a million rows costs a fraction of a million index insertions.

    An index a projection does read while replaying (a name lookup, a folder's events) must not
    be named here: without it, each such read would scan its table."""
    for index in indexes:
        if index not in _deferred:
            _deferred.append(index)


def deferred_indexes() -> list[str]:
    return list(_deferred)


async def apply(conn: asyncpg.Connection, record: LogRecord) -> None:
    for fn in _handlers.get(record.type, ()):
        await fn(conn, record)


async def apply_many(conn: asyncpg.Connection, records: Sequence[LogRecord]) -> None:
    """`apply` over records in order, each run of one type through the bulk handlers there are.

    Within a run, each projection sees the records in order; projections write tables of their
    own, so which projection goes first does not matter.
    """
    for record_type, group in itertools.groupby(records, key=lambda r: r.type):
        run = list(group)
        for fn in _handlers.get(record_type, ()):
            bulk = _many.get(fn)
            if bulk is not None and len(run) > 1:
                await bulk(conn, run)
            else:
                for record in run:
                    await fn(conn, record)
