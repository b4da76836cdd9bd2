"""Helpers of the compatibility-dialect tests (tests/compat/): servers with and without a
runner, and the native calls that make channels, folders, activities and tokens to look at
through a dialect.

Activities are made by real operations: an export started on a server that runs no activities
stays `pending` (so a cancel ends it `cancelled` at once, with no race), and a server that runs
them is started only for the moment finished ones are needed.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import httpx

from tests.realtime.server import ServerProcess
from tests.support import OPERATOR_KEY, auth, make_folder

# A server that serves HTTP only: its activities stay pending until cancelled.
NO_RUNNER = {"ACTIVITY_RUN_ACTIVITIES": "false", "ACTIVITY_WAIT_SECONDS": "0"}
# A server that runs activities promptly and waits for them before answering.
RUNNER = {"ACTIVITY_RUN_ACTIVITIES": "true", "ACTIVITY_POLL_SECONDS": "0.1",
          "ACTIVITY_WAIT_SECONDS": "60"}


def start(database_url: str, **env: str) -> ServerProcess:
    return ServerProcess(database_url, OPERATOR_KEY, **env).wait_ready()


async def user_id(pool: asyncpg.Pool, name: str) -> UUID:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT user_id FROM users WHERE user_name = $1", name)


async def start_export(rest: httpx.AsyncClient, credential: str, channel: str) -> str:
    """Starts `channel.export` without waiting: its activity id."""
    r = await rest.post(f"/{channel}/export",
                        headers={**auth(credential), "Prefer": "respond-async"})
    assert r.status_code == 202, r.text
    return r.headers["X-Activity"]


async def finished_export(rest: httpx.AsyncClient, credential: str, channel: str) -> str:
    """An export run to its end (on a server that runs activities)."""
    r = await rest.post(f"/{channel}/export", headers={**auth(credential), "Prefer": "wait=60"})
    assert r.status_code == 200, r.text
    return r.headers["X-Activity"]


async def failed_batch(rest: httpx.AsyncClient, credential: str, channel: str) -> str:
    """An `events.batch` whose periods overlap: only the work finds it, and it ends `failed`."""
    folder = await make_folder(rest, credential, channel, "Periods")
    clash = {"events": [
        {"clientId": "c", "time": 3000.0, "duration": 60.0, "folderId": folder},
        {"clientId": "d", "time": 3030.0, "duration": 60.0, "folderId": folder},
    ]}
    r = await rest.post(f"/{channel}/events/batch", json=clash,
                        headers={**auth(credential), "Prefer": "wait=60"})
    assert r.status_code == 400, r.text
    return r.headers["X-Activity"]


async def activity(rest: httpx.AsyncClient, credential: str, activity_id: str) -> dict[str, Any]:
    r = await rest.get(f"/activities/{activity_id}", headers=auth(credential))
    assert r.status_code == 200, r.text
    return r.json()


async def feed_ids(rest: httpx.AsyncClient, credential: str, **params: Any) -> list[str]:
    r = await rest.get("/user-activity/identifiers", params=params, headers=auth(credential))
    assert r.status_code == 200, r.text
    return r.json()


async def shared_token(rest: httpx.AsyncClient, session: str, channel: str) -> str:
    permissions = [{"channelId": channel,
                    "folderPermissions": [{"folderId": None, "type": "read-only"}]}]
    r = await rest.post("/tokens", json={"name": "reader", "permissions": permissions},
                        headers=auth(session))
    assert r.status_code == 201, r.text
    return r.json()["token"]
