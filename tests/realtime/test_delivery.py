"""Changes made through REST reach subscribers on both transports, in the §7 shape."""

from __future__ import annotations

import json

import websockets

from tests.realtime.clients import SseStream, ws_change, ws_connect, ws_json, ws_subscribe
from tests.realtime.support import eventually, log_ids, update_channel
from tests.support import auth, create_user, make_channel


async def test_sse_frames_carry_id_event_and_data(rest, alice, pool):
    async with SseStream(rest, "/stream", headers=auth(alice)) as stream:
        assert stream.status == 200
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        assert stream.response.headers["cache-control"] == "no-store"
        opening = await stream.frame()
        assert opening.retry and opening.retry > 0
        channel_id = await make_channel(rest, alice, "Work", clientData={"colour": "red"})
        frame = await stream.change()
    assert frame.event == "channel.created"
    assert frame.id == frame.data["id"]
    assert [frame.id] == await log_ids(pool)
    message = frame.data
    assert set(message) == {"id", "type", "channelId", "data"}
    assert message["type"] == "channel.created"
    assert message["channelId"] == channel_id
    state = message["data"]
    assert state["id"] == channel_id and state["name"] == "Work"
    assert state["clientData"] == {"colour": "red"}
    assert state["trashed"] is False and state["enforceNoEventsOverlap"] is True
    assert state["created"] == state["modified"]


async def test_channel_lifecycle_messages_carry_the_new_state(rest, alice):
    channel_id = await make_channel(rest, alice, "Work")
    async with SseStream(rest, "/stream", headers=auth(alice)) as stream:
        await update_channel(rest, alice, channel_id, name="Job", clientData={"a": 1})
        updated = (await stream.change()).data
        assert (await rest.delete(f"/channels/{channel_id}", headers=auth(alice))).is_success
        trashed = (await stream.change()).data
        assert (await rest.delete(f"/channels/{channel_id}", headers=auth(alice))).is_success
        deleted = (await stream.change()).data
        while deleted["type"].startswith("activity."):  # deleting for good is an activity
            deleted = (await stream.change()).data
    assert updated["type"] == "channel.updated"
    assert updated["data"]["name"] == "Job" and updated["data"]["clientData"] == {"a": 1}
    assert "created" in updated["data"]
    assert trashed["type"] == "channel.trashed"
    assert trashed["data"]["trashed"] is True and trashed["data"]["name"] == "Job"
    assert deleted["type"] == "channel.deleted"
    assert deleted["channelId"] == channel_id and deleted["data"]["channelId"] == channel_id


async def test_account_and_token_records_are_never_sent(rest, alice, pool):
    async with SseStream(rest, "/stream", headers=auth(alice)) as stream:
        r = await rest.post("/tokens", json={"name": "app", "type": "personal"},
                            headers=auth(alice))
        assert r.status_code == 201
        r = await rest.put("/user-info", json={"displayName": "Alice"}, headers=auth(alice))
        assert r.status_code == 200
        channel_id = await make_channel(rest, alice, "Work")
        frame = await stream.change()
    # The token and profile records came first in the log; the first change sent is the channel.
    assert frame.data["type"] == "channel.created" and frame.data["channelId"] == channel_id


async def test_a_user_never_receives_another_users_changes(rest, alice):
    bob = await create_user(rest, "bob")
    async with SseStream(rest, "/stream", headers=auth(alice)) as stream:
        await make_channel(rest, bob, "Bob's")
        mine = await make_channel(rest, alice, "Alice's")
        frame = await stream.change()
    assert frame.data["channelId"] == mine


async def test_websocket_protocol(rest, server, alice):
    work = await make_channel(rest, alice, "Work")
    home = await make_channel(rest, alice, "Home")
    async with await ws_connect(server.ws_url + "/ws", alice) as ws:
        await ws.send(json.dumps({"op": "ping"}))
        assert await ws_json(ws) == {"op": "pong"}
        answer = await ws_subscribe(ws, subscription="work", channel=work)
        assert answer == {"op": "subscribed", "subscription": "work", "channel": [work]}
        answer = await ws_subscribe(ws)
        assert answer["subscription"] == "s1" and answer["activities"] == "mine"

        await update_channel(rest, alice, work, name="Work 2")
        first, second = await ws_change(ws), await ws_change(ws)
        assert {first["subscription"], second["subscription"]} == {"work", "s1"}
        assert first["id"] == second["id"] and first["type"] == "channel.updated"
        assert set(first) == {"id", "type", "channelId", "data", "subscription"}

        await update_channel(rest, alice, home, name="Home 2")
        only = await ws_change(ws)
        assert only["subscription"] == "s1" and only["channelId"] == home

        await ws.send(json.dumps({"op": "unsubscribe", "subscription": "work"}))
        assert await ws_json(ws) == {"op": "unsubscribed", "subscription": "work"}
        await update_channel(rest, alice, work, name="Work 3")
        after = await ws_change(ws)
        assert after["subscription"] == "s1" and after["data"]["name"] == "Work 3"


async def test_websocket_bad_messages_get_an_error_and_the_socket_stays_open(rest, server,
                                                                             alice):
    async with await ws_connect(server.ws_url + "/ws", alice) as ws:
        cases = [
            ("not json", "INVALID_REQUEST_STRUCTURE"),
            ("[1, 2]", "INVALID_REQUEST_STRUCTURE"),
            (json.dumps({"op": "dance"}), "INVALID_PARAMETERS_FORMAT"),
            (json.dumps({"op": "ping", "extra": 1}), "INVALID_PARAMETERS_FORMAT"),
            (json.dumps({"op": "subscribe", "colour": "red"}), "INVALID_PARAMETERS_FORMAT"),
            (json.dumps({"op": "subscribe", "since": "yesterday"}), "INVALID_PARAMETERS_FORMAT"),
            (json.dumps({"op": "subscribe", "channel": 3}), "INVALID_PARAMETERS_FORMAT"),
            (json.dumps({"op": "subscribe", "folder": "f"}), "INVALID_PARAMETERS_FORMAT"),
            (json.dumps({"op": "subscribe", "channel": "nope"}), "UNKNOWN_CHANNEL"),
            (json.dumps({"op": "subscribe", "activities": "all"}), "FORBIDDEN"),
            (json.dumps({"op": "unsubscribe", "subscription": "never"}),
             "INVALID_PARAMETERS_FORMAT"),
            ("x" * 70_000, "INVALID_REQUEST_STRUCTURE"),
        ]
        for text, error_id in cases:
            await ws.send(text)
            answer = await ws_json(ws)
            assert answer["op"] == "error" and answer["error"]["id"] == error_id, (text, answer)
        await ws.send(b"\x00binary")
        assert (await ws_json(ws))["error"]["id"] == "INVALID_REQUEST_STRUCTURE"
        await ws_subscribe(ws, subscription="a")
        await ws.send(json.dumps({"op": "subscribe", "subscription": "a"}))
        answer = await ws_json(ws)
        assert answer["error"]["id"] == "INVALID_PARAMETERS_FORMAT"
        assert answer["subscription"] == "a"
        await ws.send(json.dumps({"op": "ping"}))
        assert await ws_json(ws) == {"op": "pong"}


async def test_websocket_credentials(rest, server, alice):
    async with await ws_connect(f"{server.ws_url}/ws?auth={alice}") as ws:
        await ws.send(json.dumps({"op": "ping"}))
        assert await ws_json(ws) == {"op": "pong"}
    for url, credential in ((server.ws_url + "/ws", None), (server.ws_url + "/ws", "wrong")):
        async with await ws_connect(url, credential) as ws:
            answer = await ws_json(ws)
            assert answer["op"] == "error" and answer["error"]["id"] == "INVALID_TOKEN"
            try:
                await ws_json(ws)
                raise AssertionError("the socket should have been closed")
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 4401


async def test_stream_parameters_are_checked(rest, alice):
    r = await rest.get("/stream")
    assert r.status_code == 401 and r.json()["error"]["id"] == "INVALID_TOKEN"
    cases = [
        ({"Last-Event-ID": "garbage"}, {}, 400, "INVALID_PARAMETERS_FORMAT"),
        ({}, {"lastEventId": "1.2.3"}, 400, "INVALID_PARAMETERS_FORMAT"),
        ({}, {"channel": "a b"}, 400, "INVALID_PARAMETERS_FORMAT"),
        ({}, {"folder": "f"}, 400, "INVALID_PARAMETERS_FORMAT"),
        ({}, {"activities": "everything!"}, 400, "INVALID_PARAMETERS_FORMAT"),
        ({}, {"channel": "nope"}, 404, "UNKNOWN_CHANNEL"),
        ({}, {"activities": "all"}, 403, "FORBIDDEN"),
    ]
    for headers, params, status, error_id in cases:
        r = await rest.get("/stream", headers={**auth(alice), **headers}, params=params)
        assert r.status_code == status, (headers, params, r.text)
        assert r.json()["error"]["id"] == error_id
    r = await rest.get("/stream", headers={**auth(alice), "Last-Event-ID": "garbage"})
    assert r.json()["error"]["data"]["params"] == ["Last-Event-ID"]


async def test_heartbeat_comment_in_silence(rest, alice):
    async with SseStream(rest, "/stream", headers=auth(alice)) as stream:
        await stream.frame()  # the opening retry
        frame = await stream.frame()
    assert frame.data is None and any("heartbeat" in c for c in frame.comments)


async def test_credentials_in_the_url_are_not_logged(rest, server, alice):
    async with SseStream(rest, "/stream", params={"auth": alice}) as stream:
        assert stream.status == 200
        await stream.frame()
    async with await ws_connect(f"{server.ws_url}/ws?auth={alice}") as ws:
        await ws.send(json.dumps({"op": "ping"}))
        await ws_json(ws)

    async def logged() -> bool:
        log = server.log()
        return "/stream?auth=***" in log and "/ws?auth=***" in log

    await eventually(logged)
    assert alice not in server.log()
