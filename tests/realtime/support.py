"""Helpers of the realtime tests: channels and tokens made through REST, the ids the streams
send for the log's records, and waiting on what another process does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx

from tests.support import auth


async def update_channel(rest: httpx.AsyncClient, session: str, channel_id: str,
                         **fields: Any) -> dict[str, Any]:
    r = await rest.put(f"/channels/{channel_id}", json=fields, headers=auth(session))
    assert r.status_code == 200, r.text
    return r.json()


async def create_token(
    rest: httpx.AsyncClient, session: str, name: str, grants: dict[str, str | None] | None = None,
    level: str = "read-only",
) -> dict[str, Any]:
    """A shared token with `level` on each channel given (channel id -> folder id or None)."""
    permissions = [
        {"channelId": channel, "folderPermissions": [{"folderId": folder, "type": level}]}
        for channel, folder in (grants or {}).items()
    ]
    r = await rest.post("/tokens", json={"name": name, "permissions": permissions},
                        headers=auth(session))
    assert r.status_code == 201, r.text
    return r.json()


async def log_ids(pool: asyncpg.Pool, user_id: Any = None, prefix: str = "channel.") -> list[str]:
    """The ids the streams send for the log's records of that kind, in the log's order."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT tx_id::text AS tx, position FROM event_log
               WHERE type LIKE $1 || '%' AND ($2::uuid IS NULL OR user_id = $2)
               ORDER BY tx_id, position""",
            prefix,
            user_id,
        )
    return [f"{r['tx']}.{r['position']}" for r in rows]


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    """Waits (generously) until `await check()` is true (it looks at another process)."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - the state lives in another process
            await asyncio.sleep(0.05)
