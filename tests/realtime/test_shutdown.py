"""SIGTERM ends a server process holding a thousand open streams within seconds, and every
client sees its stream end (issue 5, "Safety"): no stream keeps the process alive, and no
client is left hanging on a socket the server forgot.

aiohttp holds the thousand connections cheaply in this one process; each is a live
subscription (it receives a change) before the signal is sent.
"""

from __future__ import annotations

import asyncio
import collections
import json
import resource
import signal
import subprocess

import aiohttp
import httpx
import pytest

from tests.realtime.clients import WAIT
from tests.support import create_user, make_channel

SSE, WS = 500, 500
OPENING_AT_ONCE = 100  # a connect storm is not what this test is about
ENDS_WITHIN = 15.0  # a hang guard, not a performance figure: it takes a second or two


@pytest.fixture
def enough_descriptors() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * (SSE + WS) + 200
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.fail(f"the test needs {wanted} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def _open_sse(http: aiohttp.ClientSession, url: str, session: str,
                    gate: asyncio.Semaphore) -> aiohttp.ClientResponse:
    async with gate:
        resp = await http.get(url + "/stream", headers={"Authorization": session})
        assert resp.status == 200, await resp.text()
        # The opening `retry:` frame is sent once the subscription is registered.
        assert (await resp.content.readline()).startswith(b"retry:")
        return resp


async def _open_ws(http: aiohttp.ClientSession, url: str, session: str,
                   gate: asyncio.Semaphore) -> aiohttp.ClientWebSocketResponse:
    async with gate:
        ws = await http.ws_connect(url + "/ws", headers={"Authorization": session},
                                   heartbeat=None)
        await ws.send_str(json.dumps({"op": "subscribe"}))
        answer = await ws.receive_json()
        assert answer["op"] == "subscribed", answer
        return ws


async def _sse_change(resp: aiohttp.ClientResponse) -> str:
    while True:
        line = await resp.content.readline()
        assert line, "the stream ended before the change"
        if line.startswith(b"event: "):
            return line[len(b"event: "):].strip().decode()


async def _ws_change(ws: aiohttp.ClientWebSocketResponse) -> str:
    while True:
        message = await ws.receive_json()
        if "op" not in message:
            return message["type"]


async def _sse_end(resp: aiohttp.ClientResponse) -> list[str]:
    """Reads to the end of the stream: the event names seen on the way."""
    events = []
    try:
        while line := await resp.content.readline():
            if line.startswith(b"event: "):
                events.append(line[len(b"event: "):].strip().decode())
    except aiohttp.ClientPayloadError:
        events.append("(cut)")  # ended without finishing the chunked body: still ended
    return events


async def _ws_end(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    """Reads to the close: the code of the server's close frame (None: no close frame came).

    The frame's own code, not `ws.close_code`: aiohttp answers the close, and when the server
    is already gone that answer fails and aiohttp records 1006 instead."""
    while True:
        message = await ws.receive()
        if message.type == aiohttp.WSMsgType.CLOSE:
            return message.data
        if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING,
                            aiohttp.WSMsgType.ERROR):
            return None


async def test_sigterm_with_a_thousand_open_streams_ends_promptly(start_server,
                                                                  enough_descriptors):
    server = start_server()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=WAIT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as rest:
            session = await create_user(rest, "alice")
            gate = asyncio.Semaphore(OPENING_AT_ONCE)
            async with asyncio.timeout(120):  # opening a thousand streams on a busy machine
                streams = await asyncio.gather(
                    *(_open_sse(http, server.url, session, gate) for _ in range(SSE))
                )
                sockets = await asyncio.gather(
                    *(_open_ws(http, server.url, session, gate) for _ in range(WS))
                )
            # Every one of them is a live subscription.
            await make_channel(rest, session, "Work")
            async with asyncio.timeout(60):
                seen = await asyncio.gather(*(_sse_change(r) for r in streams),
                                            *(_ws_change(w) for w in sockets))
            assert seen == ["channel.created"] * (SSE + WS)

        server.terminate()
        try:
            code = await asyncio.to_thread(server.process.wait, ENDS_WITHIN)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the server did not end within {ENDS_WITHIN}s of SIGTERM:\n{server.log()}"
            ) from None
        async with asyncio.timeout(WAIT):  # everything is over already: nothing may hang
            sse_ends = await asyncio.gather(*(_sse_end(r) for r in streams))
            ws_ends = await asyncio.gather(*(_ws_end(w) for w in sockets))
        for resp in streams:
            resp.release()
        for ws in sockets:
            await ws.close()
    # uvicorn re-raises the signal once its graceful shutdown is done: -SIGTERM is a clean end.
    assert code in (0, -signal.SIGTERM), server.log()
    assert "Application shutdown complete" in server.log()
    # A stream is told why it ends (the browser's EventSource reconnects elsewhere)...
    assert all(events == ["close"] for events in sse_ends), sse_ends[:5]
    # ... and a socket is closed with 1012, "service restart".
    assert ws_ends == [1012] * WS, collections.Counter(ws_ends)
