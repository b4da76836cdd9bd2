"""A subscriber receives only what its credential may read, checked for every change; a revoked
token or an ended session closes its streams; new grants apply to open streams."""

from __future__ import annotations

import json

import websockets

from tests.realtime.clients import (
    SseStream,
    StreamEnded,
    ws_change,
    ws_connect,
    ws_json,
    ws_subscribe,
)
from tests.realtime.support import create_token, update_channel
from tests.support import PASSWORD, auth, make_channel


async def test_a_token_receives_only_its_channels(rest, server, alice):
    work = await make_channel(rest, alice, "Work")
    home = await make_channel(rest, alice, "Home")
    token = (await create_token(rest, alice, "work-app", {work: None}))["token"]
    async with (
        SseStream(rest, "/stream", headers=auth(token)) as stream,
        await ws_connect(server.ws_url + "/ws", token) as ws,
    ):
        await ws_subscribe(ws)
        await update_channel(rest, alice, home, name="Home 2")  # not for the token
        await update_channel(rest, alice, work, name="Work 2")
        frame = await stream.change()
        message = await ws_change(ws)
    assert frame.data["channelId"] == work and frame.data["data"]["name"] == "Work 2"
    assert message["channelId"] == work and message["data"]["name"] == "Work 2"


async def test_a_token_cannot_subscribe_to_a_channel_it_cannot_see(rest, server, alice):
    work = await make_channel(rest, alice, "Work")
    home = await make_channel(rest, alice, "Home")
    token = (await create_token(rest, alice, "work-app", {work: None}))["token"]
    r = await rest.get("/stream", params={"channel": home}, headers=auth(token))
    assert r.status_code == 404 and r.json()["error"]["id"] == "UNKNOWN_CHANNEL"
    async with await ws_connect(server.ws_url + "/ws", token) as ws:
        await ws.send(json.dumps({"op": "subscribe", "channel": home}))
        answer = await ws_json(ws)
    assert answer["op"] == "error" and answer["error"]["id"] == "UNKNOWN_CHANNEL"


async def test_new_grants_apply_to_open_streams(rest, server, alice):
    work = await make_channel(rest, alice, "Work")
    home = await make_channel(rest, alice, "Home")
    token = await create_token(rest, alice, "app", {work: None})

    def grants(*channels: str) -> list[dict]:
        return [{"channelId": c, "folderPermissions": [{"folderId": None, "type": "read-only"}]}
                for c in channels]

    async def set_grants(*channels: str) -> None:
        r = await rest.put(f"/tokens/{token['id']}", json={"permissions": grants(*channels)},
                           headers=auth(alice))
        assert r.status_code == 200, r.text

    async with (
        SseStream(rest, "/stream", headers=auth(token["token"])) as stream,
        await ws_connect(server.ws_url + "/ws", token["token"]) as ws,
    ):
        await ws_subscribe(ws)
        await set_grants(work, home)
        await update_channel(rest, alice, home, name="Home 2")
        assert (await stream.change()).data["channelId"] == home
        assert (await ws_change(ws))["channelId"] == home

        await set_grants(home)
        await update_channel(rest, alice, work, name="Work 2")  # no longer granted
        await update_channel(rest, alice, home, name="Home 3")
        frame = await stream.change()
        message = await ws_change(ws)
    assert frame.data["channelId"] == home and frame.data["data"]["name"] == "Home 3"
    assert message["channelId"] == home and message["data"]["name"] == "Home 3"


async def _expect_sse_closed(stream: SseStream, error_id: str) -> None:
    frame = await stream.change()
    assert frame.event == "close" and frame.data["error"]["id"] == error_id, frame
    try:
        await stream.frame()
        raise AssertionError("the stream should have ended")
    except StreamEnded:
        pass


async def _expect_ws_closed(ws, error_id: str, code: int) -> None:
    answer = await ws_change(ws)
    assert answer["op"] == "error" and answer["error"]["id"] == error_id, answer
    try:
        await ws_json(ws)
        raise AssertionError("the socket should have been closed")
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == code


async def test_revoking_a_token_closes_its_streams(rest, server, alice):
    work = await make_channel(rest, alice, "Work")
    token = await create_token(rest, alice, "app", {work: None})
    other = await create_token(rest, alice, "other", {work: None})
    async with (
        SseStream(rest, "/stream", headers=auth(token["token"])) as stream,
        SseStream(rest, "/stream", headers=auth(other["token"])) as other_stream,
        await ws_connect(server.ws_url + "/ws", token["token"]) as ws,
        await ws_connect(server.ws_url + "/ws", token["token"]) as idle_ws,  # no subscription
    ):
        await ws_subscribe(ws)
        r = await rest.delete(f"/tokens/{token['id']}", headers=auth(alice))
        assert r.status_code == 200
        await _expect_sse_closed(stream, "INVALID_TOKEN")
        await _expect_ws_closed(ws, "INVALID_TOKEN", 4401)
        await _expect_ws_closed(idle_ws, "INVALID_TOKEN", 4401)
        # The other token's stream goes on.
        await update_channel(rest, alice, work, name="Work 2")
        assert (await other_stream.change()).data["data"]["name"] == "Work 2"
    r = await rest.get("/stream", headers=auth(token["token"]))
    assert r.status_code == 401


async def test_ending_a_session_closes_its_streams(rest, server, alice):
    r = await rest.post("/login", json={"userName": "alice", "password": PASSWORD})
    second = r.json()["sessionID"]
    async with (
        SseStream(rest, "/stream", headers=auth(second)) as stream,
        SseStream(rest, "/stream", headers=auth(alice)) as alice_stream,
        await ws_connect(f"{server.ws_url}/ws?auth={second}") as ws,
    ):
        await ws_subscribe(ws)
        assert (await rest.post("/logout", headers=auth(second))).status_code == 200
        await _expect_sse_closed(stream, "INVALID_TOKEN")
        await _expect_ws_closed(ws, "INVALID_TOKEN", 4401)
        channel_id = await make_channel(rest, alice, "Work")
        assert (await alice_stream.change()).data["channelId"] == channel_id
