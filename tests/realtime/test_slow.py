"""A client that does not keep up is closed with a reason instead of growing the server's
memory; it then resumes from its last id and loses nothing."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
import websockets

from tests.conftest import auth, create_user
from tests.realtime.clients import SseStream, StreamEnded, ws_json, ws_subscribe
from tests.realtime.conftest import create_channel, log_ids, update_channel

QUEUE = 4
WRITES = 40
BLOB = 60_000  # bytes of clientData per change: a few changes fill the socket buffers

# The client's receive buffer is kept tiny so that a client that stops reading blocks the
# server's writes after a few changes (the kernel would otherwise buffer megabytes).
SMALL_RCVBUF = [(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)]


@pytest.fixture
def slow_server(start_server):
    return start_server(ACTIVITY_STREAM_QUEUE_SIZE=str(QUEUE))


async def _write_big_changes(rest: httpx.AsyncClient, session: str, channel_id: str) -> None:
    for n in range(WRITES):
        blob = f"{n:02d}" * (BLOB // 2)
        await update_channel(rest, session, channel_id, clientData={"blob": blob})


async def test_a_slow_sse_client_is_closed_and_resumes(slow_server, pool):
    transport = httpx.AsyncHTTPTransport(socket_options=SMALL_RCVBUF)
    async with (
        httpx.AsyncClient(base_url=slow_server.url, timeout=30) as rest,
        httpx.AsyncClient(base_url=slow_server.url, transport=transport) as slow,
    ):
        session = await create_user(rest, "alice")
        channel_id = await create_channel(rest, session, "Work")
        start = (await log_ids(pool))[-1]
        received: list[str] = []
        headers = {**auth(session), "Last-Event-ID": start}
        async with SseStream(slow, "/stream", headers=headers) as stream:
            await stream.frame()  # the opening frame; from here on the client reads nothing
            await _write_big_changes(rest, session, channel_id)
            closing = None
            while True:
                try:
                    frame = await stream.change()
                except StreamEnded:
                    break
                if frame.event == "close":
                    closing = frame.data
                else:
                    received.append(frame.id)
        assert closing == {"error": {"id": "SUBSCRIBER_TOO_SLOW", "message": closing["error"][
            "message"]}}
        expected = (await log_ids(pool))[1:]  # what came after `start`
        assert len(expected) == WRITES and len(received) < WRITES
        assert received == expected[: len(received)]
        # Resuming from the last id received gets exactly the rest.
        headers = {**auth(session), "Last-Event-ID": received[-1] if received else start}
        async with SseStream(rest, "/stream", headers=headers) as stream:
            while len(received) < WRITES:
                received.append((await stream.change()).id)
        assert received == expected


async def test_a_slow_websocket_client_is_closed_and_resumes(slow_server, pool):
    async with httpx.AsyncClient(base_url=slow_server.url, timeout=30) as rest:
        session = await create_user(rest, "alice")
        channel_id = await create_channel(rest, session, "Work")
        start = (await log_ids(pool))[-1]
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", slow_server.port))
        received: list[str] = []
        async with websockets.connect(
            slow_server.ws_url + "/ws", sock=sock, max_queue=1,
            additional_headers=auth(session),
        ) as ws:
            await ws_subscribe(ws, since=start)
            await _write_big_changes(rest, session, channel_id)
            closing = None
            try:
                while True:
                    message = await ws_json(ws)
                    if message.get("op") == "error":
                        closing = message
                    else:
                        received.append(message["id"])
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 4408
        assert closing is not None and closing["error"]["id"] == "SUBSCRIBER_TOO_SLOW"
        expected = (await log_ids(pool))[1:]
        assert len(expected) == WRITES and len(received) < WRITES
        assert received == expected[: len(received)]
        async with websockets.connect(slow_server.ws_url + "/ws",
                                      additional_headers=auth(session)) as ws:
            await ws_subscribe(ws, since=received[-1] if received else start)
            while len(received) < WRITES:
                received.append((await ws_json(ws))["id"])
        assert received == expected
