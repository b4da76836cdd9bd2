"""What a channel holds, read whole: how many folders and events (what deleting it for good
removes), its folders, and its events page by page, oldest first (`channel.export`).

Across the `folders` and `events` read models, from the channel's side: the per-item reads of
those models are app/read/folders.py and app/read/events.py.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from app.domain.events import EVENT_COLUMNS, event_from_row
from app.domain.folders import Folder

_FOLDER_COLUMNS = (
    "folder_id, channel_id, name, parent_id, hidden, client_data, trashed, created, modified"
)

EventPosition = tuple[float, str]  # (time, event id): where a page ends


async def content_count(conn: asyncpg.Connection, user_id: Any, channel_id: str) -> int:
    """How many folders and events the channel holds (trashed ones included)."""
    total = await conn.fetchval(
        """SELECT (SELECT count(*) FROM folders WHERE user_id = $1 AND channel_id = $2)
                + (SELECT count(*) FROM events WHERE user_id = $1 AND channel_id = $2)""",
        user_id,
        channel_id,
    )
    return int(total)


async def channel_folders(
    conn: asyncpg.Connection, user_id: Any, channel_id: str
) -> list[Folder]:
    """Every folder of the channel, trashed ones included, in no order."""
    rows = await conn.fetch(
        f"SELECT {_FOLDER_COLUMNS} FROM folders WHERE user_id = $1 AND channel_id = $2",
        user_id,
        channel_id,
    )
    return [Folder.from_row(row) for row in rows]


async def event_count(conn: asyncpg.Connection, user_id: Any, channel_id: str) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM events WHERE user_id = $1 AND channel_id = $2",
        user_id,
        channel_id,
    ))


async def events_page(
    conn: asyncpg.Connection,
    user_id: Any,
    channel_id: str,
    after: EventPosition | None,
    limit: int,
) -> tuple[list[dict[str, Any]], EventPosition | None]:
    """Up to `limit` events after `after`, oldest first (trashed ones included), in the API
    shape, and where the page ends (None for an empty page)."""
    rows = await conn.fetch(
        f"""SELECT {EVENT_COLUMNS} FROM events
            WHERE user_id = $1 AND channel_id = $2
              AND ($3::float8 IS NULL OR (time, event_id) > ($3, $4))
            ORDER BY time, event_id LIMIT $5""",
        user_id,
        channel_id,
        after[0] if after else None,
        after[1] if after else "",
        limit,
    )
    end = (rows[-1]["time"], rows[-1]["event_id"]) if rows else None
    return [event_from_row(row) for row in rows], end
