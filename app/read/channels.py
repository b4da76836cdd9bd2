"""Reading the `channels` read model, with the row → API shape (docs/api.md §2)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

import asyncpg

CHANNEL_COLUMNS = (
    "channel_id, name, enforce_no_events_overlap, client_data, trashed, created, modified"
)

# `GET /channels?state=`: which channels a list holds.
_STATE_CONDITIONS = {"default": "AND NOT trashed", "trashed": "AND trashed", "all": ""}

ChannelKey = tuple[UUID, str]  # (user, channel)


def channel_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["channel_id"],
        "name": row["name"],
        "enforceNoEventsOverlap": row["enforce_no_events_overlap"],
        "clientData": row["client_data"],
        "trashed": row["trashed"],
        "created": row["created"],
        "modified": row["modified"],
    }


async def load_channel(
    conn: asyncpg.Connection, user_id: Any, channel_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {CHANNEL_COLUMNS} FROM channels WHERE user_id = $1 AND channel_id = $2",
        user_id,
        channel_id,
    )


async def list_channels(
    conn: asyncpg.Connection, user_id: Any, state: str
) -> list[asyncpg.Record]:
    """The user's channels by name; `state` is `default` (not trashed), `trashed` or `all`."""
    return await conn.fetch(
        f"SELECT {CHANNEL_COLUMNS} FROM channels WHERE user_id = $1 "
        f"{_STATE_CONDITIONS[state]} ORDER BY name",
        user_id,
    )


async def name_taken(conn: asyncpg.Connection, user_id: Any, name: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT 1 FROM channels WHERE user_id = $1 AND name = $2", user_id, name
    ))


async def channels_by_key(
    conn: asyncpg.Connection, keys: Iterable[ChannelKey]
) -> dict[ChannelKey, dict[str, Any]]:
    """Several users' channels at once, in the API shape (the realtime fan-out's batch)."""
    keys = list(set(keys))
    if not keys:
        return {}
    rows = await conn.fetch(
        f"""SELECT user_id, {CHANNEL_COLUMNS} FROM channels
            JOIN unnest($1::uuid[], $2::text[]) AS w(u, c)
              ON user_id = w.u AND channel_id = w.c""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(r["user_id"], r["channel_id"]): channel_json(r) for r in rows}
