"""A client that does not keep up is closed with a reason instead of growing the server's
memory; it then resumes from its last id and loses nothing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
import websockets
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from tests.realtime.clients import WAIT, SseStream, StreamEnded, ws_json, ws_subscribe
from tests.realtime.support import log_ids, update_channel
from tests.support import auth, create_user, make_channel

QUEUE = 4
# More than the kernel can hold in flight on loopback (send buffers autotune up to 4 MiB,
# net.ipv4.tcp_wmem): with less, whether the server ever sees a slow client depends on how far
# the buffers grew, and a run could end with every change delivered and no close.
WRITES = 160
BLOB = 60_000  # bytes of clientData per change

# The client's receive buffer is kept tiny so that a client that stops reading blocks the
# server's writes after a few changes (the kernel would otherwise buffer megabytes).
SMALL_RCVBUF = [(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)]


@pytest.fixture
def slow_server(start_server):
    return start_server(ACTIVITY_STREAM_QUEUE_SIZE=str(QUEUE))


async def _write_big_changes(rest: httpx.AsyncClient, session: str, channel_id: str) -> None:
    """WRITES changes of BLOB bytes each, a few at a time (the test compares what arrives with
    the log's order, not with the order they were sent in)."""

    async def write(n: int) -> None:
        blob = f"{n:03d}" * (BLOB // 3)
        await update_channel(rest, session, channel_id, clientData={"blob": blob})

    for first in range(0, WRITES, 8):
        await asyncio.gather(*(write(n) for n in range(first, min(first + 8, WRITES))))


def _grow_receive_buffer(stream: SseStream) -> None:
    assert stream.response is not None
    sock = stream.response.extensions["network_stream"].get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    # The window's ceiling was fixed at connect time from the small buffer: raise it too.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_WINDOW_CLAMP, 1 << 20)


async def test_a_slow_sse_client_is_closed_and_resumes(slow_server, pool):
    transport = httpx.AsyncHTTPTransport(socket_options=SMALL_RCVBUF)
    async with (
        httpx.AsyncClient(base_url=slow_server.url, timeout=30) as rest,
        httpx.AsyncClient(base_url=slow_server.url, transport=transport) as slow,
    ):
        session = await create_user(rest, "alice")
        channel_id = await make_channel(rest, session, "Work")
        start = (await log_ids(pool))[-1]
        received: list[str] = []
        headers = {**auth(session), "Last-Event-ID": start}
        async with SseStream(slow, "/stream", headers=headers) as stream:
            await stream.frame()  # the opening frame; from here on the client reads nothing
            await _write_big_changes(rest, session, channel_id)
            # The server has given up on this client by now (its queue holds 4 changes). Read
            # the rest at full pace: through a 4 KiB window, delayed ACKs drained the megabytes
            # in flight at ~40 KB/s (100 s of the suite).
            _grow_receive_buffer(stream)
            closing = None
            while True:
                try:
                    frame = await stream.change()
                except (StreamEnded, httpx.RemoteProtocolError):
                    # Cut: the close frame could not get through a socket that stayed full
                    # for the whole grace period.
                    break
                if frame.event == "close":
                    closing = frame.data
                else:
                    received.append(frame.id)
        if closing is not None:
            assert closing["error"]["id"] == "SUBSCRIBER_TOO_SLOW", closing
        expected = (await log_ids(pool))[1:]  # what came after `start`
        assert len(expected) == WRITES and len(received) < WRITES
        assert received == expected[: len(received)]
        # Resuming from the last id received gets exactly the rest.
        headers = {**auth(session), "Last-Event-ID": received[-1] if received else start}
        async with SseStream(rest, "/stream", headers=headers) as stream:
            while len(received) < WRITES:
                received.append((await stream.change()).id)
        assert received == expected


class RawWebSocket:
    """A WebSocket client that reads only when told to: websockets' sans-I/O protocol over a
    plain socket with a tiny receive buffer. (A client library keeps reading into its own
    buffers, so the server would never see it fall behind.)"""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.protocol: ClientProtocol | None = None

    async def _flush(self) -> None:
        assert self.protocol is not None
        for data in self.protocol.data_to_send():
            if data:
                await self.loop.sock_sendall(self.sock, data)

    async def connect(self, url: str, credential: str) -> None:
        self.protocol = ClientProtocol(parse_uri(url))
        request = self.protocol.connect()
        request.headers["Authorization"] = credential
        self.protocol.send_request(request)
        await self._flush()
        while self.protocol.state is not State.OPEN:
            await self._read_some()

    async def send_json(self, message: dict) -> None:
        assert self.protocol is not None
        self.protocol.send_text(orjson.dumps(message))
        await self._flush()

    async def _read_some(self) -> bool:
        assert self.protocol is not None
        data = await asyncio.wait_for(self.loop.sock_recv(self.sock, 65536), WAIT)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        return bool(data)

    async def messages(self) -> AsyncIterator[dict]:
        """Every text message until the connection ends; then `self.close_code`."""
        assert self.protocol is not None
        while True:
            for event in self.protocol.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    yield orjson.loads(event.data)
            await self._flush()  # answers to pings and to the close
            if self.protocol.state is State.CLOSED or not await self._read_some():
                for event in self.protocol.events_received():
                    if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                        yield orjson.loads(event.data)
                return

    @property
    def close_code(self) -> int | None:
        assert self.protocol is not None
        return None if self.protocol.close_rcvd is None else self.protocol.close_rcvd.code


async def test_a_slow_websocket_client_is_closed_and_resumes(slow_server, pool):
    async with httpx.AsyncClient(base_url=slow_server.url, timeout=30) as rest:
        session = await create_user(rest, "alice")
        channel_id = await make_channel(rest, session, "Work")
        start = (await log_ids(pool))[-1]
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", slow_server.port))
        received: list[str] = []
        closing = None
        with sock:
            raw = RawWebSocket(sock)
            await raw.connect(slow_server.ws_url + "/ws", session)
            await raw.send_json({"op": "subscribe", "since": start})
            await _write_big_changes(rest, session, channel_id)  # meanwhile, nothing is read
            async for message in raw.messages():
                if message.get("op") == "error":
                    closing = message
                elif "id" in message:
                    received.append(message["id"])
            # The close frame, unless the socket stayed full for the whole grace period.
            assert raw.close_code in (None, 4408)
        assert closing is None or closing["error"]["id"] == "SUBSCRIBER_TOO_SLOW"
        expected = (await log_ids(pool))[1:]
        assert len(expected) == WRITES and len(received) < WRITES
        assert received == expected[: len(received)]
        async with websockets.connect(slow_server.ws_url + "/ws",
                                      additional_headers=auth(session)) as ws:
            await ws_subscribe(ws, since=received[-1] if received else start)
            while len(received) < WRITES:
                received.append((await ws_json(ws))["id"])
        assert received == expected
