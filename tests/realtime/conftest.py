"""Fixtures of the realtime tests: real server processes on loopback, REST clients for them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import OPERATOR_KEY, auth, create_user
from tests.realtime.server import ServerProcess


def _start(database_url: str, **env: str) -> ServerProcess:
    return ServerProcess(database_url, OPERATOR_KEY, **env).wait_ready()


@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[ServerProcess]:
    """The shared server: heartbeats after one second, log at info (secrets must stay out)."""
    process = _start(
        database_url,
        ACTIVITY_STREAM_HEARTBEAT_SECONDS="1",
        ACTIVITY_LOG_LEVEL="info",
    )
    yield process
    process.stop()


@pytest.fixture
def start_server(database_url: str) -> Iterator[Callable[..., ServerProcess]]:
    """Starts more server processes on the test database (stopped after the test)."""
    started: list[ServerProcess] = []

    def start(**env: str) -> ServerProcess:
        process = _start(database_url, **env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
async def rest(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as client:
        yield client


@pytest.fixture
async def alice(rest: httpx.AsyncClient) -> str:
    """A session of the user alice, created through the server process."""
    return await create_user(rest, "alice")


async def create_channel(rest: httpx.AsyncClient, session: str, name: str, **extra: Any) -> str:
    r = await rest.post("/channels", json={"name": name, **extra}, headers=auth(session))
    assert r.status_code == 201, r.text
    return r.json()["id"]


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
