"""Reading the events read model: one event, what the period rules need, and the event query,
within what the credential may read.

Every query names which index serves it (migrations 0004 and 0010), so that a channel holding a
million events answers as fast as an empty one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.domain.errors import forbidden, unknown
from app.domain.events import EVENT_COLUMNS, Neighbours, Period, event_from_row
from app.domain.folders import unknown_folder
from app.identity.folder_access import can_read
from app.identity.permissions import READ
from app.identity.principal import Principal
from app.read.folders import folder_path, load_tree

# Enough to tell "more than OVERLAP_REPORT_LIMIT clashes" from the exact list.
_INSIDE_LIMIT = 12


async def load_event(
    conn: asyncpg.Connection, user_id: Any, channel_id: str, event_id: str
) -> dict[str, Any] | None:
    row = await conn.fetchrow(  # primary key
        f"SELECT {EVENT_COLUMNS} FROM events "
        "WHERE user_id = $1 AND channel_id = $2 AND event_id = $3",
        user_id,
        channel_id,
        event_id,
    )
    return None if row is None else event_from_row(row)


async def event_at(
    conn: asyncpg.Connection, principal: Principal, channel_id: str, event_id: str, level: int
) -> dict[str, Any]:
    """The event, if the credential holds `level` over its folder (404 UNKNOWN_EVENT if it
    cannot read it, 403 if it can read but not change it)."""
    event = await load_event(conn, principal.user_id, channel_id, event_id)
    if event is None:
        raise unknown("UNKNOWN_EVENT", "event", event_id)
    folder_id = event["folderId"]
    path = await folder_path(conn, principal.user_id, channel_id, folder_id) if folder_id else []
    granted = principal.access.folder_level(channel_id, path or [])
    if granted < READ:
        raise unknown("UNKNOWN_EVENT", "event", event_id)
    if granted < level:
        raise forbidden()
    return event


async def readable_events(
    conn: asyncpg.Connection, principal: Principal, channel_id: str, event_ids: list[str]
) -> list[str]:
    """`event_ids` (in order) without the events the credential cannot read."""
    if principal.access.full:
        return event_ids
    kept = []
    for event_id in event_ids:
        event = await load_event(conn, principal.user_id, channel_id, event_id)
        folder_id = None if event is None else event["folderId"]
        path = await folder_path(conn, principal.user_id, channel_id,
                                 folder_id) if folder_id else []
        if event is not None and can_read(principal, channel_id, path):
            kept.append(event_id)
    return kept


async def has_events_in(
    conn: asyncpg.Connection, user_id: Any, channel_id: str, folder_ids: list[str]
) -> bool:
    """Whether any event (trashed ones too) lies in one of `folder_ids`."""
    return bool(await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM events
                          WHERE user_id = $1 AND channel_id = $2 AND folder_id = ANY($3))""",
        user_id,
        channel_id,
        folder_ids,
    ))


def _period(row: asyncpg.Record) -> Period:
    return Period(row["event_id"], row["time"], row["end_time"])


async def neighbours(
    conn: asyncpg.Connection,
    user_id: Any,
    channel_id: str,
    start: float,
    end: float | None,
    *,
    exclude: str | None = None,
) -> Neighbours:
    """The periods that can clash with `[start, end)` (app/domain/events.py), `exclude` left out.

    Two range scans of `events_periods` (periods not trashed, by time) and one of
    `events_running`.
    """
    inside = await conn.fetch(
        """SELECT event_id, time, end_time FROM events
           WHERE user_id = $1 AND channel_id = $2 AND kind = 'period' AND NOT trashed
             AND time >= $3 AND ($4::float8 IS NULL OR time < $4) AND event_id <> $5
           ORDER BY time LIMIT $6""",
        user_id, channel_id, start, end, exclude or "", _INSIDE_LIMIT,
    )
    before = await conn.fetchrow(
        """SELECT event_id, time, end_time FROM events
           WHERE user_id = $1 AND channel_id = $2 AND kind = 'period' AND NOT trashed
             AND time < $3 AND event_id <> $4
           ORDER BY time DESC LIMIT 1""",
        user_id, channel_id, start, exclude or "",
    )
    running = await running_periods(conn, user_id, channel_id, exclude=exclude, limit=1)
    return Neighbours(
        inside=[_period(r) for r in inside],
        before=None if before is None else _period(before),
        running=Period(running[0]["id"], running[0]["time"], None) if running else None,
    )


async def periods_around(
    conn: asyncpg.Connection, user_id: Any, channel_id: str, first: float, last: float
) -> list[Period]:
    """The periods that can clash with a batch spanning `[first, last)`: those beginning inside
    it, the one before it, and the running one (`events_periods` and `events_running`)."""
    rows = await conn.fetch(
        """(SELECT event_id, time, end_time FROM events
            WHERE user_id = $1 AND channel_id = $2 AND kind = 'period' AND NOT trashed
              AND time >= $3 AND time < $4)
           UNION
           (SELECT event_id, time, end_time FROM events
            WHERE user_id = $1 AND channel_id = $2 AND kind = 'period' AND NOT trashed
              AND time < $3 ORDER BY time DESC LIMIT 1)
           UNION
           (SELECT event_id, time, end_time FROM events
            WHERE user_id = $1 AND channel_id = $2 AND kind = 'period' AND NOT trashed
              AND end_time IS NULL)""",
        user_id, channel_id, first, last,
    )
    return [_period(r) for r in rows]


async def running_periods(
    conn: asyncpg.Connection,
    user_id: Any,
    channel_id: str,
    *,
    exclude: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Running periods, not trashed, latest first (`events_running`, a partial index)."""
    rows = await conn.fetch(
        f"""SELECT {EVENT_COLUMNS} FROM events
            WHERE user_id = $1 AND channel_id = $2 AND kind = 'period' AND end_time IS NULL
              AND NOT trashed AND event_id <> $3
            ORDER BY time DESC, event_id LIMIT $4""",
        user_id, channel_id, exclude or "", limit,
    )
    return [event_from_row(r) for r in rows]


async def taken_client_ids(
    conn: asyncpg.Connection,
    user_id: Any,
    channel_id: str,
    client_ids: Sequence[str],
    *,
    exclude: str | None = None,
) -> list[str]:
    """The client ids among `client_ids` that events of the channel hold (`events_client_id`)."""
    rows = await conn.fetch(
        """SELECT client_id FROM events
           WHERE user_id = $1 AND channel_id = $2 AND client_id = ANY($3::text[])
             AND event_id <> $4""",
        user_id, channel_id, list(client_ids), exclude or "",
    )
    return sorted(r["client_id"] for r in rows)


async def readable_folders(
    conn: asyncpg.Connection, principal: Principal, channel_id: str
) -> set[str] | None:
    """The folders whose events the credential may read; None for all (and marks off-folder)."""
    granted = principal.access.granted_folders(channel_id, READ)
    if None in granted:
        return None
    tree = await load_tree(conn, principal.user_id, channel_id)
    return {f for top in granted if top is not None for f in tree.subtree(top)}


async def query_folders(
    conn: asyncpg.Connection, principal: Principal, channel_id: str, only: list[str]
) -> list[str] | None:
    """The folders a query covers: `onlyFolders` and their descendants, within what the
    credential may read (None: the whole channel). A folder it cannot read is UNKNOWN_FOLDER."""
    readable = await readable_folders(conn, principal, channel_id)
    if not only:
        return None if readable is None else sorted(readable)
    tree = await load_tree(conn, principal.user_id, channel_id)
    covered: set[str] = set()
    for folder_id in only:
        path = tree.path(folder_id)
        if not path or not can_read(principal, channel_id, path):
            raise unknown_folder(folder_id, 400)
        covered.update(tree.subtree(folder_id))
    return sorted(covered)


@dataclass(frozen=True)
class EventQuery:
    """A checked `GET /{channel}/events` (see app/http/events.py for the defaults)."""

    folders: list[str] | None = None  # None: every folder (and marks without one)
    from_time: float | None = None
    to_time: float | None = None
    state: str = "default"
    ascending: bool = False
    skip: int = 0
    limit: int | None = None
    types: tuple[str, ...] = ()  # exact value types
    type_prefixes: tuple[str, ...] = ()  # `mass:*` as `mass:`
    tags: tuple[str, ...] = ()
    modified_since: float | None = None
    now: float = 0.0
    # Answer nothing unless the channel exists and is not trashed (the caller tells an empty
    # answer from a missing channel only when the answer is empty: one round trip otherwise).
    live_channel_only: bool = False


async def query_events(
    conn: asyncpg.Connection, user_id: Any, channel_id: str, q: EventQuery
) -> list[dict[str, Any]]:
    """The events matching `q`, by time (newest first unless `ascending`), then id.

    Indexes: `events_time` (user, channel, time desc) walks the default "latest N" query and
    any time range in order, stopping after `skip + limit` rows; `events_folder_time` serves
    `onlyFolders` and folder-scoped tokens; `events_modified` serves `modifiedSince`. An event
    meets the range when its span `[time, end]` does (a running one ends now).
    """
    where = ["user_id = $1", "channel_id = $2"]
    if q.live_channel_only:
        # A one-time filter (an InitPlan): nothing when the channel is missing or trashed.
        where.append(
            "EXISTS (SELECT 1 FROM channels c "
            "WHERE c.user_id = $1 AND c.channel_id = $2 AND NOT c.trashed)"
        )
    args: list[Any] = [user_id, channel_id]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if q.to_time is not None:
        where.append(f"time <= {arg(q.to_time)}")
    if q.from_time is not None:
        from_time = arg(q.from_time)
        where.append(f"coalesce(end_time, {arg(q.now)}) >= {from_time}")
        # A lower bound on `time` that every event meeting the range meets (a finished period
        # began at most its duration before its end, a running one at the earliest running
        # start), so that `events_time` is scanned over a closed range, not down to the
        # channel's first event (migration 0011 says why, and serves the longest duration).
        where.append(
            f"""time >= least({from_time} - coalesce(
                   (SELECT max(duration) FROM events WHERE user_id = $1 AND channel_id = $2
                      AND kind = 'period'), 0),
                 coalesce((SELECT min(time) FROM events WHERE user_id = $1 AND channel_id = $2
                             AND kind = 'period' AND end_time IS NULL), 'Infinity'))"""
        )
    if q.state == "default":
        where.append("NOT trashed")
    elif q.state == "trashed":
        where.append("trashed")
    if q.folders is not None:
        where.append(f"folder_id = ANY({arg(q.folders)}::text[])")
    if q.types or q.type_prefixes:
        prefixes = [p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                    for p in q.type_prefixes]
        where.append(
            f"(value_type = ANY({arg(list(q.types))}::text[]) "
            f"OR value_type LIKE ANY({arg(prefixes)}::text[]))"
        )
    if q.tags:
        where.append(f"tags && {arg(list(q.tags))}::text[]")
    if q.modified_since is not None:
        where.append(f"modified > {arg(q.modified_since)}")
    order = "ASC" if q.ascending else "DESC"
    sql = (
        f"SELECT {EVENT_COLUMNS} FROM events WHERE {' AND '.join(where)} "
        f"ORDER BY time {order}, event_id {order} OFFSET {arg(q.skip)} LIMIT {arg(q.limit)}"
    )
    return [event_from_row(r) for r in await conn.fetch(sql, *args)]
