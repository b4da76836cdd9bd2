"""Reading the tokens read model (`tokens`, written by projections/tokens.py, with the last use
from `credential_usage`): the token shape of docs/api.md §2 "Token"."""

from __future__ import annotations

from typing import Any

import asyncpg

_COLUMNS = """t.token_id, t.token, t.name, t.type, t.permissions, t.created, t.modified,
              cu.last_used"""
_FROM = """tokens t LEFT JOIN credential_usage cu ON cu.credential_hash = t.token_hash"""


def token_json(row: asyncpg.Record) -> dict[str, Any]:
    token = {
        "id": row["token_id"],
        "token": row["token"],
        "name": row["name"],
        "type": row["type"],
        "permissions": row["permissions"],
        "created": row["created"],
        "modified": row["modified"],
    }
    if row["last_used"] is not None:
        token["lastUsed"] = row["last_used"]
    return token


async def list_tokens(conn: asyncpg.Connection, user_id: Any) -> list[dict[str, Any]]:
    """The user's tokens, by name."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE t.user_id = $1 ORDER BY t.name", user_id
    )
    return [token_json(r) for r in rows]


async def token_by_id(conn: asyncpg.Connection, user_id: Any, token_id: str) -> asyncpg.Record:
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE t.user_id = $1 AND t.token_id = $2",
        user_id,
        token_id,
    )


async def token_by_name(conn: asyncpg.Connection, user_id: Any, name: str) -> asyncpg.Record:
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE t.user_id = $1 AND t.name = $2",
        user_id,
        name,
    )


async def owned_channel_ids(
    conn: asyncpg.Connection, user_id: Any, channel_ids: set[str]
) -> set[str]:
    """Which of `channel_ids` are channels of the user (what a token's grants may name)."""
    rows = await conn.fetch(
        "SELECT channel_id FROM channels WHERE user_id = $1 AND channel_id = ANY($2)",
        user_id,
        list(channel_ids),
    )
    return {r["channel_id"] for r in rows}
