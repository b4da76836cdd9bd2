"""Time counts (`timeCountBase`): the time tracked from a moment on, per channel and per folder.

A period counts from `max(time, base)` to its end; a running period (no end yet) counts up to
now; trashed events count for nothing. Marks have no duration and never count. A folder's count
is its own periods plus its descendants' (every descendant, whatever its trash or hidden state:
the count follows the data, not the view), and a channel's is the sum over what the credential
may read: the whole channel for a root grant, else the union of its granted subtrees.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import asyncpg

from app.domain.folders import Tree
from app.identity.principal import Principal

# The part of a period after `base` ($base) and before `now` ($now when still running), and the
# condition that it is not empty. Over `events e`. The `end_time` test is implied by the last
# one; it is spelt out as a plain range so that an index on `end_time` can serve it.
_COUNTED = "coalesce(e.end_time, {now}) - greatest(e.time, {base})"
_WHERE = (
    "e.kind = 'period' AND NOT e.trashed "
    "AND (e.end_time IS NULL OR e.end_time > {base}) "
    "AND coalesce(e.end_time, {now}) > greatest(e.time, {base})"
)


def _sql(template: str, base: str, now: str) -> str:
    return template.format(base=base, now=now)


async def channel_time_counts(
    conn: asyncpg.Connection,
    principal: Principal,
    channel_ids: Sequence[str],
    base: float,
    now: float | None = None,
) -> dict[str, float]:
    """Seconds tracked from `base` on in each channel, as far as the credential may read."""
    now = time.time() if now is None else now
    counts = {channel_id: 0.0 for channel_id in channel_ids}
    access = principal.access
    whole = [c for c in channel_ids if None in access.granted_folders(c)]
    scoped = [
        (channel_id, folder_id)
        for channel_id in channel_ids
        if channel_id not in whole
        for folder_id in sorted(f for f in access.granted_folders(channel_id) if f is not None)
    ]
    rows: list[Any] = []
    if whole:
        rows += await conn.fetch(
            f"""SELECT e.channel_id, sum({_sql(_COUNTED, "$3", "$4")}) AS seconds
                FROM events e
                WHERE e.user_id = $1 AND e.channel_id = ANY($2::text[])
                  AND {_sql(_WHERE, "$3", "$4")}
                GROUP BY e.channel_id""",
            principal.user_id,
            whole,
            base,
            now,
        )
    if scoped:
        # The granted folders and their descendants (UNION: overlapping grants count once).
        rows += await conn.fetch(
            f"""WITH RECURSIVE readable(channel_id, folder_id) AS (
                    SELECT f.channel_id, f.folder_id
                    FROM unnest($2::text[], $3::text[]) AS g(channel_id, folder_id)
                    JOIN folders f ON f.user_id = $1 AND f.channel_id = g.channel_id
                                  AND f.folder_id = g.folder_id
                    UNION
                    SELECT f.channel_id, f.folder_id
                    FROM readable r
                    JOIN folders f ON f.user_id = $1 AND f.channel_id = r.channel_id
                                  AND f.parent_id = r.folder_id)
                SELECT e.channel_id, sum({_sql(_COUNTED, "$4", "$5")}) AS seconds
                FROM readable r
                JOIN events e ON e.user_id = $1 AND e.channel_id = r.channel_id
                             AND e.folder_id = r.folder_id
                WHERE {_sql(_WHERE, "$4", "$5")}
                GROUP BY e.channel_id""",
            principal.user_id,
            [c for c, _ in scoped],
            [f for _, f in scoped],
            base,
            now,
        )
    for row in rows:
        counts[row["channel_id"]] += float(row["seconds"] or 0.0)
    return counts


async def folder_time_counts(
    conn: asyncpg.Connection,
    user_id: Any,
    channel_id: str,
    tree: Tree,
    base: float,
    now: float | None = None,
) -> dict[str, float]:
    """Seconds tracked from `base` on in each folder of the tree and its descendants."""
    now = time.time() if now is None else now
    rows = await conn.fetch(
        f"""SELECT e.folder_id, sum({_sql(_COUNTED, "$3", "$4")}) AS seconds
            FROM events e
            WHERE e.user_id = $1 AND e.channel_id = $2 AND e.folder_id IS NOT NULL
              AND {_sql(_WHERE, "$3", "$4")}
            GROUP BY e.folder_id""",
        user_id,
        channel_id,
        base,
        now,
    )
    return tree.totals({row["folder_id"]: float(row["seconds"] or 0.0) for row in rows})
