"""The channel as a credential may see it: what every data route and command reads first.

A channel the credential cannot see answers 404 `UNKNOWN_CHANNEL`, exactly like one that does
not exist, so a token learns nothing about what lies outside its grants.
"""

from __future__ import annotations

import asyncpg

from app.domain.errors import unknown
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
