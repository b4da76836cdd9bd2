"""Read model of the folder tree of each channel (`folders`). Records live in the channel's
stream and carry the folder's whole new state, so every handler but deletion is one upsert.

What happens to the events of deleted folders (moved to the parent or deleted with them) is the
events projection's business: it registers its own `folder.deleted` handler.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from app.domain.folders import (
    FOLDER_CREATED,
    FOLDER_DELETED,
    FOLDER_MOVED,
    FOLDER_TRASHED,
    FOLDER_UPDATED,
)
from app.store.log import LogRecord
from projections.registry import handles, read_models

read_models("folders")


@handles(FOLDER_CREATED, FOLDER_UPDATED, FOLDER_MOVED, FOLDER_TRASHED)
async def folder_state(conn: asyncpg.Connection, record: LogRecord) -> None:
    folder: dict[str, Any] = record.data["folder"]
    await conn.execute(
        """INSERT INTO folders (user_id, channel_id, folder_id, parent_id, name, hidden,
                               client_data, trashed, created, modified)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (user_id, channel_id, folder_id) DO UPDATE SET
               parent_id = EXCLUDED.parent_id, name = EXCLUDED.name, hidden = EXCLUDED.hidden,
               client_data = EXCLUDED.client_data, trashed = EXCLUDED.trashed,
               created = EXCLUDED.created, modified = EXCLUDED.modified""",
        record.user_id,
        record.data["channelId"],
        folder["id"],
        folder["parentId"],
        folder["name"],
        folder["hidden"],
        folder["clientData"],
        folder["trashed"],
        folder["created"],
        folder["modified"],
    )


@handles(FOLDER_DELETED)
async def folder_deleted(conn: asyncpg.Connection, record: LogRecord) -> None:
    await conn.execute(
        "DELETE FROM folders WHERE user_id = $1 AND channel_id = $2 AND folder_id = ANY($3)",
        record.user_id,
        record.data["channelId"],
        record.data["folderIds"],
    )


@handles("channel.deleted")
async def channel_deleted(conn: asyncpg.Connection, record: LogRecord) -> None:
    await conn.execute(
        "DELETE FROM folders WHERE user_id = $1 AND channel_id = $2",
        record.user_id,
        record.data["channelId"],
    )
