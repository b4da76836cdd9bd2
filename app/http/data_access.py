"""What every data API route does first: find the channel, find the folder, check the level.

A channel the credential cannot see answers 404 `UNKNOWN_CHANNEL`, exactly like one that does
not exist, so a token learns nothing about what lies outside its grants.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from app.domain.errors import ApiError, forbidden, unknown
from app.identity.principal import Principal
from app.read.channels import CHANNEL_COLUMNS


async def channel_for(
    conn: asyncpg.Connection, principal: Principal, channel_id: str
) -> asyncpg.Record:
    """The channel as the credential may see it: not trashed, and granted (else 404)."""
    return await _visible_channel(conn, principal, channel_id, lock="")


async def channel_for_change(
    conn: asyncpg.Connection, principal: Principal, channel_id: str
) -> asyncpg.Record:
    """`channel_for` inside a command: the channel's row is held (FOR SHARE) until the
    transaction ends, so the channel cannot be trashed (then deleted) between this check and
    the commit of what the command writes into it (no folder or event outlives its channel)."""
    return await _visible_channel(conn, principal, channel_id, lock=" FOR SHARE")


async def _visible_channel(
    conn: asyncpg.Connection, principal: Principal, channel_id: str, lock: str
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"SELECT {CHANNEL_COLUMNS} FROM channels "
        f"WHERE user_id = $1 AND channel_id = $2 AND NOT trashed{lock}",
        principal.user_id,
        channel_id,
    )
    if row is None or not principal.access.can_see_channel(channel_id):
        raise unknown("UNKNOWN_CHANNEL", "channel", channel_id)
    return row


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


def require_level(
    principal: Principal, channel_id: str, path: list[str] | None, level: int
) -> None:
    """403 unless the credential holds `level` over the folder at `path` (None: off-folder)."""
    if principal.access.folder_level(channel_id, path or []) < level:
        raise forbidden()


def require_anywhere(principal: Principal, channel_id: str, level: int) -> None:
    """403 unless the credential holds `level` somewhere in the channel: checked before a
    request's body is read, so a credential that could never make the change learns nothing
    from the body's faults or the items it names."""
    if not principal.access.granted_folders(channel_id, level):
        raise forbidden()


def unknown_folder(folder_id: str, status: int = 404) -> ApiError:
    error = unknown("UNKNOWN_FOLDER", "folder", folder_id)
    error.status = status
    return error
