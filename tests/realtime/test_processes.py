"""Changes written through one server process reach the SSE and WebSocket subscribers of
another process on the same database (docs/api.md §7, issue 5 "Many processes").

Both processes poll the log only every 60 s here: a change can only arrive in time through the
cross-process wake-up (a NOTIFY after the commit), which is what these tests are about.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.realtime.clients import WAIT, SseStream, ws_change, ws_connect, ws_subscribe
from tests.realtime.server import ServerProcess
from tests.realtime.support import log_ids
from tests.support import auth, create_user, make_channel

SLOW_POLL = {"ACTIVITY_STREAM_POLL_SECONDS": "60"}


@pytest.fixture
def pair(start_server) -> tuple[ServerProcess, ServerProcess]:
    return start_server(**SLOW_POLL), start_server(**SLOW_POLL)


@pytest.fixture
async def clients(pair) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    first, second = pair
    async with (
        httpx.AsyncClient(base_url=first.url, timeout=30) as a,
        httpx.AsyncClient(base_url=second.url, timeout=30) as b,
    ):
        yield a, b


async def _post(rest: httpx.AsyncClient, session: str, path: str, body: dict[str, Any],
                status: int = 201) -> dict[str, Any]:
    r = await rest.post(path, json=body, headers=auth(session))
    assert r.status_code == status, r.text
    return r.json()


async def _write_folder_and_event_changes(rest: httpx.AsyncClient, session: str,
                                          channel_id: str) -> list[str]:
    """Folder and event changes through `rest`; the types written, in order."""
    folder = (await _post(rest, session, f"/{channel_id}/folders", {"name": "Sport"}))["id"]
    r = await rest.put(f"/{channel_id}/folders/{folder}", json={"clientData": {"a": 1}},
                       headers=auth(session))
    assert r.status_code == 200, r.text
    event = (await _post(rest, session, f"/{channel_id}/events",
                         {"time": time.time() - 3600, "duration": 600, "folderId": folder}))["id"]
    await _post(rest, session, f"/{channel_id}/events/start", {"folderId": folder})
    stopped = await _post(rest, session, f"/{channel_id}/events/stop", {}, status=200)
    assert stopped["stoppedId"] is not None
    r = await rest.put(f"/{channel_id}/events/{event}", json={"comment": "swim"},
                       headers=auth(session))
    assert r.status_code == 200, r.text
    for _ in range(2):  # trash, then delete for good
        r = await rest.delete(f"/{channel_id}/events/{event}", headers=auth(session))
        assert r.status_code == 200, r.text
    return ["folder.created", "folder.updated", "event.created", "event.created",
            "event.updated", "event.updated", "event.trashed", "event.deleted"]


async def _data_ids(pool) -> list[str]:
    """The ids of the log's folder and event records, in the log's order."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT tx_id::text || '.' || position AS id FROM event_log
               WHERE type LIKE 'folder.%' OR type LIKE 'event.%' ORDER BY tx_id, position"""
        )
    return [r["id"] for r in rows]


async def _deliver_across(writer: httpx.AsyncClient, reader: httpx.AsyncClient,
                          reader_ws_url: str, session: str, pool, name: str) -> None:
    channel_id = await make_channel(writer, session, name)
    # From the log's last record: a subscription without `since` starts at the head that is
    # safe to follow, which may lie a little before the newest commit (an older transaction
    # of the database cluster still open) and so include the channel's creation.
    start = (await log_ids(pool, prefix=""))[-1]
    before = set(await _data_ids(pool))
    async with (
        SseStream(reader, "/stream", params={"channel": channel_id},
                  headers={**auth(session), "Last-Event-ID": start}) as stream,
        await ws_connect(reader_ws_url + "/ws", session) as ws,
    ):
        await ws_subscribe(ws, channel=channel_id, since=start)
        types = await _write_folder_and_event_changes(writer, session, channel_id)
        async with asyncio.timeout(WAIT):  # well before the 60 s poll
            sse = [await stream.change() for _ in types]
            messages = [await ws_change(ws) for _ in types]
    written = [i for i in await _data_ids(pool) if i not in before]
    assert [f.event for f in sse] == types
    assert [f.id for f in sse] == written
    assert [m["type"] for m in messages] == types
    assert [m["id"] for m in messages] == written
    assert all(m["channelId"] == channel_id for m in messages)
    assert [f.data for f in sse] == [{k: v for k, v in m.items() if k != "subscription"}
                                     for m in messages]


async def test_changes_through_one_process_reach_subscribers_of_the_other(pair, clients, pool):
    first, second = pair
    a, b = clients
    session = await create_user(a, "alice")
    await _deliver_across(a, b, second.ws_url, session, pool, "through the first")
    await _deliver_across(b, a, first.ws_url, session, pool, "through the second")


async def test_a_stream_resumes_on_the_other_process(pair, clients, pool):
    """The ids are the log's, not a process's: a client cut off from one process resumes on
    the other with neither gap nor duplicate."""
    _first, second = pair
    a, b = clients
    session = await create_user(a, "alice")
    channel_id = await make_channel(a, session, "Work")
    start = (await log_ids(pool, prefix=""))[-1]
    received: list[str] = []
    async with SseStream(a, "/stream", headers={**auth(session),
                                                "Last-Event-ID": start}) as stream:
        for n in range(3):
            await _post(a, session, f"/{channel_id}/events", {"time": time.time(), "value": {
                "type": "count:generic", "value": n}})
            received.append((await stream.change()).id)
    for n in range(3):  # while no one listens
        await _post(b, session, f"/{channel_id}/events", {"time": time.time(), "comment": str(n)})
    async with SseStream(b, "/stream", headers={**auth(session),
                                                "Last-Event-ID": received[-1]}) as stream:
        for _ in range(3):
            received.append((await stream.change()).id)
        async with await ws_connect(second.ws_url + "/ws", session) as ws:
            await ws_subscribe(ws, since=received[2])
            again = [(await ws_change(ws))["id"] for _ in range(3)]
        await _post(a, session, f"/{channel_id}/events", {"time": time.time()})
        async with asyncio.timeout(WAIT):  # written through the first process: well before the poll
            received.append((await stream.change()).id)
    assert again == received[3:6]
    assert received == await log_ids(pool, prefix="event.")
