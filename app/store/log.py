"""The event log: appending records with an expected stream version, and following the log.

A row of the log is a *record* (`LogRecord`, `record.type` like `folder.created`); the word
"event" is kept for what users record through the data API.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg


class ConcurrencyConflict(Exception):
    """Another writer appended to the stream first; the command is retried from the start."""


# ASCII digits (`\\d` also takes Unicode ones); both parts fit PostgreSQL's bigint (positions;
# transaction ids are xid8, which never reach 2^63 either).
_CURSOR_FORMAT = re.compile(r"([0-9]{1,19})\.([0-9]{1,19})")
_INT64_MAX = 2**63 - 1


class Cursor(NamedTuple):
    """A place in the log as followers see it: commit order by transaction, then position.

    A named tuple, not an ordered dataclass: the fan-out compares cursors once or twice per
    delivery, and a dataclass's generated comparison (two tuples built each time) was the
    largest single cost of delivering to 2,000 subscribers (py-spy, bench/fanout)."""

    tx_id: int
    position: int

    def __str__(self) -> str:
        return f"{self.tx_id}.{self.position}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """Reads the `"<tx_id>.<position>"` form sent to subscribers; ValueError if malformed."""
        match = _CURSOR_FORMAT.fullmatch(text.strip())
        if not match or max(int(match.group(1)), int(match.group(2))) > _INT64_MAX:
            raise ValueError(f"not a log cursor: {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))


START = Cursor(0, 0)


@dataclass(frozen=True)
class NewRecord:
    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class LogRecord:
    position: int
    tx_id: int
    stream_id: str
    version: int
    type: str
    user_id: UUID | None
    data: dict[str, Any]
    meta: dict[str, Any]
    recorded_at: datetime

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.tx_id, self.position)


_COLUMNS = (
    "position, tx_id::text AS tx_id, stream_id, version, type, user_id, data, meta, recorded_at"
)


def _from_row(row: asyncpg.Record) -> LogRecord:
    return LogRecord(
        position=row["position"],
        tx_id=int(row["tx_id"]),
        stream_id=row["stream_id"],
        version=row["version"],
        type=row["type"],
        user_id=row["user_id"],
        data=row["data"],
        meta=row["meta"],
        recorded_at=row["recorded_at"],
    )


async def stream_version(conn: asyncpg.Connection, stream_id: str) -> int:
    """The version of the stream's last record; 0 for a stream never written."""
    value = await conn.fetchval(
        "SELECT coalesce(max(version), 0) FROM event_log WHERE stream_id = $1", stream_id
    )
    return int(value)


async def append(
    conn: asyncpg.Connection,
    stream_id: str,
    expected_version: int,
    records: Sequence[NewRecord],
    *,
    user_id: UUID | None,
    meta: dict[str, Any],
) -> list[LogRecord]:
    """Appends records as versions expected_version+1, +2, ...; ConcurrencyConflict on a clash.

    Must run inside a transaction: the records become visible with the caller's commit.
    """
    if not records:
        return []
    versions = list(range(expected_version + 1, expected_version + 1 + len(records)))
    try:
        rows = await conn.fetch(
            f"""INSERT INTO event_log (stream_id, version, type, user_id, data, meta)
                SELECT $1, v, t, $4, d, $6
                FROM unnest($2::int[], $3::text[], $5::jsonb[]) AS r(v, t, d)
                RETURNING {_COLUMNS}""",
            stream_id,
            versions,
            [r.type for r in records],
            user_id,
            [r.data for r in records],
            meta,
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "event_log_stream_version":
            raise ConcurrencyConflict(stream_id) from exc
        raise
    return sorted((_from_row(r) for r in rows), key=lambda r: r.version)


async def read_after(
    conn: asyncpg.Connection, after: Cursor, limit: int = 1000
) -> list[LogRecord]:
    """Committed records after the cursor, in (tx_id, position) order, with no gap.

    Only transactions older than every transaction still running are returned, so a record
    whose transaction commits later can never land behind a cursor that has moved past it.
    """
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM event_log
            WHERE (tx_id, position) > ($1::text::xid8, $2)
              AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY event_log.tx_id, event_log.position
            LIMIT $3""",
        str(after.tx_id),
        after.position,
        limit,
    )
    return [_from_row(r) for r in rows]


async def newest(conn: asyncpg.Connection) -> Cursor:
    """The cursor of the newest committed record, readable by followers yet or not (START for
    an empty log). No id a stream hands out is beyond it."""
    row = await conn.fetchrow(
        """SELECT tx_id::text AS tx_id, position FROM event_log
           ORDER BY event_log.tx_id DESC, event_log.position DESC LIMIT 1"""
    )
    return START if row is None else Cursor(int(row["tx_id"]), row["position"])


async def head(conn: asyncpg.Connection) -> Cursor:
    """The cursor of the newest record a follower could read now (START for an empty log)."""
    row = await conn.fetchrow(
        """SELECT tx_id::text AS tx_id, position FROM event_log
           WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
           ORDER BY event_log.tx_id DESC, event_log.position DESC LIMIT 1"""
    )
    return START if row is None else Cursor(int(row["tx_id"]), row["position"])
