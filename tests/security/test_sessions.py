"""Finding 2 of the security issue: sessions.

- SSE and WebSocket streams outlived an idle-expired session (REST answered 401, the streams
  still delivered): an expired session now closes its streams.
- Changing the password left the user's other sessions valid: they now end, streams included;
  the session that changed it stays.
- Sessions had only an idle lifetime: an absolute one now ends them however busy they are.

The stream tests run real server processes with lifetimes of a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from app.identity.secrets import secret_hash
from tests.realtime.clients import SseStream, StreamEnded, ws_change, ws_connect, ws_subscribe
from tests.support import PASSWORD, auth, create_user, error_id, make_channel

NEW_PASSWORD = "a brand new passphrase"
# How long a test waits for a stream to be closed, beyond the lifetime it tests: generous (a
# loaded machine), never a measure of how fast it was.
CLOSE_WITHIN = 20.0


async def _login(client: httpx.AsyncClient, password: str = PASSWORD) -> str:
    r = await client.post("/login", json={"userName": "alice", "password": password})
    assert r.status_code == 200, r.text
    return r.json()["sessionID"]


async def _sse_closed(stream: SseStream, within: float) -> None:
    """Reads on (changes may still come before) until the server closes the stream for its
    credential."""
    async with asyncio.timeout(within):
        while (frame := await stream.change(within)).event != "close":
            pass
    assert frame.data["error"]["id"] == "INVALID_TOKEN", frame
    with pytest.raises(StreamEnded):
        await stream.frame()


async def _ws_closed(ws: ClientConnection, within: float) -> None:
    async with asyncio.timeout(within):
        while "op" not in (message := await ws_change(ws, within)):
            pass
    assert message["op"] == "error" and message["error"]["id"] == "INVALID_TOKEN", message
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


@contextlib.asynccontextmanager
async def _streams(
    rest: httpx.AsyncClient, ws_url: str, credential: str
) -> AsyncIterator[tuple[SseStream, ClientConnection]]:
    """An SSE stream and a subscribed WebSocket of the credential."""
    async with (
        SseStream(rest, "/stream", headers=auth(credential)) as stream,
        await ws_connect(ws_url + "/ws", credential) as ws,
    ):
        await ws_subscribe(ws)
        yield stream, ws


async def _both_closed(streams: tuple[SseStream, ClientConnection], within: float) -> None:
    stream, ws = streams
    await asyncio.gather(_sse_closed(stream, within), _ws_closed(ws, within))


async def _refused(rest: httpx.AsyncClient, session: str) -> None:
    r = await rest.get("/user-info", headers=auth(session))
    assert r.status_code == 401 and error_id(r) == "INVALID_CREDENTIALS", r.text


async def test_idle_expired_session_closes_its_streams(start_server, client_of) -> None:
    idle = 5.0  # long enough for the set-up below on a loaded machine
    process = start_server(ACTIVITY_SESSION_IDLE_MINUTES=str(idle / 60))
    rest = client_of(process)
    session = await create_user(rest, "alice")
    async with _streams(rest, process.ws_url, session) as (stream, ws):
        channel = await make_channel(rest, session, "Work")
        assert (await stream.change()).data["channelId"] == channel
        assert (await ws_change(ws))["channelId"] == channel
        # Nothing uses the session from here on: it expires, and so do its streams.
        await _both_closed((stream, ws), idle + CLOSE_WITHIN)
    await _refused(rest, session)


async def test_password_change_ends_the_other_sessions_and_their_streams(
    rest, server, alice
) -> None:
    other = await _login(rest)
    async with (
        _streams(rest, server.ws_url, other) as other_streams,
        SseStream(rest, "/stream", headers=auth(alice)) as own_stream,
    ):
        r = await rest.post("/change-password", headers=auth(alice),
                            json={"oldPassword": PASSWORD, "newPassword": NEW_PASSWORD})
        assert r.status_code == 200, r.text
        await _both_closed(other_streams, CLOSE_WITHIN)
        # The session that changed the password goes on, its stream too.
        channel = await make_channel(rest, alice, "Work")
        assert (await own_stream.change()).data["channelId"] == channel
    await _refused(rest, other)
    assert (await rest.get("/user-info", headers=auth(alice))).status_code == 200
    # A session opened with the new password is a new one, and valid.
    fresh = await _login(rest, NEW_PASSWORD)
    assert (await rest.get("/user-info", headers=auth(fresh))).status_code == 200


async def test_busy_session_ends_at_its_absolute_lifetime(start_server, client_of) -> None:
    lifetime = 6.0  # long enough for the set-up below on a loaded machine
    process = start_server(ACTIVITY_SESSION_MAX_DAYS=str(lifetime / 86400))
    rest = client_of(process)
    session = await create_user(rest, "alice")
    async with _streams(rest, process.ws_url, session) as streams:
        # Used all the time (never idle), the session still ends, and its streams with it.
        async with asyncio.timeout(lifetime + CLOSE_WITHIN):
            while (await rest.get("/user-info", headers=auth(session))).status_code == 200:  # noqa: ASYNC110 - the state lives in the server
                await asyncio.sleep(0.25)
        await _refused(rest, session)
        await _both_closed(streams, CLOSE_WITHIN)


async def test_session_older_than_the_absolute_lifetime_is_refused(client, session, pool) -> None:
    """30 days by default, counted from the login however recently the session was used."""
    async with pool.acquire() as conn:
        await conn.execute("UPDATE sessions SET created = $1", time.time() - 30 * 86400 - 60)
        # ... and used a minute ago: not idle.
        await conn.execute(
            "INSERT INTO credential_usage (credential_hash, last_used) VALUES ($1, $2)",
            secret_hash(session), time.time() - 60,
        )
    await _refused(client, session)
    r = await client.get("/channels", headers=auth(session))
    assert r.status_code == 401 and error_id(r) == "INVALID_TOKEN"
