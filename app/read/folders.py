"""Reading the `folders` read model (projections/folders.py): a channel's whole tree, and one
folder's path up to the root (what every permission check over a folder needs)."""

from __future__ import annotations

from typing import Any

import asyncpg

from app.domain.folders import Folder, Tree

_COLUMNS = (
    "folder_id, channel_id, name, parent_id, hidden, client_data, trashed, created, modified"
)


async def load_tree(conn: asyncpg.Connection, user_id: Any, channel_id: str) -> Tree:
    """The channel's whole folder tree, from the read model."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM folders WHERE user_id = $1 AND channel_id = $2",
        user_id,
        channel_id,
    )
    return Tree(Folder.from_row(row) for row in rows)


async def folder_path(
    conn: asyncpg.Connection, user_id: Any, channel_id: str, folder_id: str
) -> list[str] | None:
    """[folder_id, parent, grandparent, ...] up to the root; None if the folder does not exist."""
    rows = await conn.fetch(
        """WITH RECURSIVE up(folder_id, parent_id, depth) AS (
               SELECT folder_id, parent_id, 0 FROM folders
               WHERE user_id = $1 AND channel_id = $2 AND folder_id = $3
               UNION ALL
               SELECT f.folder_id, f.parent_id, up.depth + 1 FROM folders f
               JOIN up ON f.user_id = $1 AND f.channel_id = $2 AND f.folder_id = up.parent_id
               WHERE up.depth < 1000)
           SELECT folder_id FROM up ORDER BY depth""",
        user_id,
        channel_id,
        folder_id,
    )
    return [r["folder_id"] for r in rows] or None
