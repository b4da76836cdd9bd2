"""Plex's notification streams (`/compat/plex/:/websockets/notifications` and
`/:/eventsource/notifications`, app/compat/plex_notifications.py) against real server
processes: python-plexapi's own `AlertListener`, an EventSource client, who receives what, the
`X-Plex-Activity` header, and the token kept out of the logs.

The module's server runs no activities; exports are started natively on a second process that
runs them, so every notification crosses from one server process to the other.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import websockets
from plexapi.server import PlexServer
from websockets.asyncio.client import ClientConnection

from tests.compat.support import NO_RUNNER, RUNNER, start
from tests.realtime.clients import WAIT, Frame, SseStream
from tests.realtime.server import ServerProcess
from tests.support import auth, create_user, make_channel, make_folder

EVENT_SOURCE = "/compat/plex/:/eventsource/notifications"
WEBSOCKET = "/compat/plex/:/websockets/notifications"
PING = {"NotificationContainer": {"type": "ping", "size": 0}}


@pytest.fixture(scope="module")
def server(compat_database: str) -> Iterator[ServerProcess]:
    """Where the Plex clients connect: no runner, a ping after one second of silence."""
    process = start(compat_database, **NO_RUNNER, ACTIVITY_STREAM_HEARTBEAT_SECONDS="1",
                    ACTIVITY_LOG_LEVEL="info")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def runner(compat_database: str) -> Iterator[ServerProcess]:
    """Another process on the same database, which runs the activities."""
    process = start(compat_database, **RUNNER)
    yield process
    process.stop()


@pytest.fixture
async def native(runner: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the native API on the runner process."""
    async with httpx.AsyncClient(base_url=runner.url, timeout=90) as client:
        yield client


async def export(native: httpx.AsyncClient, credential: str, channel: str) -> str:
    """A channel export started natively and waited for: its activity id."""
    r = await native.post(f"/{channel}/export", headers={**auth(credential), "Prefer": "wait=60"})
    assert r.status_code == 200, r.text
    return r.headers["X-Activity"]


def activity_notifications(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ActivityNotification entries of NotificationContainers, in order."""
    found = []
    for message in messages:
        container = message.get("NotificationContainer", message)
        if container["type"] == "activity":
            assert container["size"] == len(container["ActivityNotification"])
            found.extend(container["ActivityNotification"])
    return found


def assert_whole_life(entries: list[dict[str, Any]], activity_id: str) -> None:
    """One activity seen from its start to its one end."""
    assert [e["uuid"] for e in entries] == [activity_id] * len(entries)
    events = [e["event"] for e in entries]
    assert events[0] == "started" and events[-1] == "ended", events
    assert "updated" in events and events.count("ended") == 1, events
    assert all(e["Activity"]["uuid"] == activity_id for e in entries)
    assert entries[0]["Activity"]["subtitle"] == "Pending"
    final = entries[-1]["Activity"]
    assert (final["subtitle"], final["progress"], final["cancellable"]) == ("Completed", 100, False)


async def listed(rest: httpx.AsyncClient, credential: str) -> list[dict[str, Any]]:
    r = await rest.get("/compat/plex/activities",
                       headers={"X-Plex-Token": credential, "Accept": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()["MediaContainer"]["Activity"]


async def wait_for(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not check():  # noqa: ASYNC110 - filled by another thread
            await asyncio.sleep(0.05)


async def frames_until(stream: SseStream, done: Callable[[Frame], bool]) -> list[Frame]:
    """Frames with data (comments skipped) up to and including the first that is `done`."""
    frames: list[Frame] = []
    while not frames or not done(frames[-1]):
        frame = await stream.frame()
        if frame.data is not None:
            frames.append(frame)
    return frames


def is_ping(frame: Frame) -> bool:
    return frame.event == "ping"


def has_ended(frame: Frame) -> bool:
    return any(e["event"] == "ended" for e in activity_notifications([frame.data]))


async def ws_messages_until_ping(ws: ClientConnection) -> list[dict[str, Any]]:
    """Messages up to and including the next ping: what was queued before it came first."""
    messages: list[dict[str, Any]] = []
    async with asyncio.timeout(WAIT):
        while not messages or messages[-1] != PING:
            messages.append(json.loads(await ws.recv()))
    return messages


# --- Done when: plexapi's AlertListener receives started, updated and ended -----------------------


async def test_plexapi_alert_listener_follows_an_export_started_natively(server, rest, native):
    alice = await create_user(rest, "alice")
    channel = await make_channel(rest, alice)
    received: list[dict[str, Any]] = []
    errors: list[Any] = []
    lock = threading.Lock()

    def callback(container: dict[str, Any]) -> None:
        with lock:
            received.append(container)

    plex = await asyncio.to_thread(PlexServer, f"{server.url}/compat/plex", alice)
    listener = plex.startAlertListener(callback=callback, callbackError=errors.append)
    try:
        # A ping says the listener's subscription is in place (it is made before anything is
        # sent), so the export's first record is not missed.
        await wait_for(lambda: bool(received))
        assert received[0] == PING["NotificationContainer"]
        activity_id = await export(native, alice, channel)
        await wait_for(lambda: any(e["event"] == "ended"
                                   for e in activity_notifications(list(received))))
    finally:
        listener.stop()
    assert not errors, errors
    entries = activity_notifications(received)
    assert_whole_life(entries, activity_id)
    # The Activity is the very object the dialect's list shows.
    (in_list,) = await listed(rest, alice)
    assert entries[-1]["Activity"] == in_list
    assert in_list["type"] == "channel.export" and in_list["Context"] == {"channelId": channel}


# --- Done when: an EventSource client gets the same with filters=activity -----------------------


async def test_event_source_with_filters_activity(server, rest, native):
    alice = await create_user(rest, "alice")
    channel = await make_channel(rest, alice)
    async with SseStream(rest, EVENT_SOURCE, params={"filters": "activity"},
                         headers={"X-Plex-Token": alice}) as stream:
        assert stream.status == 200
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        activity_id = await export(native, alice, channel)
        frames = await frames_until(stream, has_ended)
        notifications = [f for f in frames if not is_ping(f)]
        # The SSE event name is the container's type; each data one NotificationContainer.
        assert {f.event for f in notifications} == {"activity"}
        assert_whole_life(activity_notifications([f.data for f in notifications]), activity_id)
        # Idle, the stream pings, in the same container shape.
        (ping,) = (await frames_until(stream, is_ping))[-1:]
        assert ping.data == PING
    (in_list,) = await listed(rest, alice)
    assert activity_notifications([frames[-1].data])[-1]["Activity"] == in_list


# --- Done when: a folder-scoped shared token receives none of the owner's activities ------------


async def folder_deletion(native: httpx.AsyncClient, credential: str, channel: str,
                          parent: str) -> str:
    """A subfolder created, trashed and deleted for good (a `folder.delete` activity, waited
    for): its activity id."""
    r = await native.post(f"/{channel}/folders/{parent}", json={"name": "Old"},
                          headers=auth(credential))
    assert r.status_code == 201, r.text
    path = f"/{channel}/folders/{r.json()['id']}"
    r = await native.delete(path, headers=auth(credential))
    assert r.status_code == 200, r.text
    r = await native.delete(path, headers={**auth(credential), "Prefer": "wait=60"})
    assert r.status_code == 200, r.text
    return r.headers["X-Activity"]


async def ws_until_ended(ws: ClientConnection, activity_id: str) -> list[dict[str, Any]]:
    """The activity notifications of a socket up to the end of `activity_id`."""
    entries: list[dict[str, Any]] = []
    async with asyncio.timeout(WAIT):
        while not any(e["event"] == "ended" and e["uuid"] == activity_id for e in entries):
            entries.extend(activity_notifications([json.loads(await ws.recv())]))
    return entries


async def sse_until_ended(stream: SseStream, activity_id: str) -> list[dict[str, Any]]:
    frames = await frames_until(stream, lambda f: any(
        e["event"] == "ended" and e["uuid"] == activity_id
        for e in activity_notifications([f.data])))
    return activity_notifications([f.data for f in frames])


async def test_who_receives_what_is_who_sees_what_in_the_list(server, rest, native):
    alice = await create_user(rest, "alice")
    bob = await create_user(rest, "bob")
    root = await create_user(rest, "root", admin=True)
    channel = await make_channel(rest, alice)
    bobs_channel = await make_channel(rest, bob, "Home")
    folder = await make_folder(rest, alice, channel, "Projects")
    grants = [{"channelId": channel, "folderPermissions": [{"folderId": folder,
                                                             "type": "manage"}]}]
    r = await rest.post("/tokens", json={"name": "folder", "permissions": grants},
                        headers=auth(alice))
    assert r.status_code == 201, r.text
    folder_token = r.json()["token"]
    ws_url = server.ws_url + WEBSOCKET

    async with (
        SseStream(rest, EVENT_SOURCE, headers={"X-Plex-Token": folder_token}) as token_sse,
        SseStream(rest, EVENT_SOURCE, headers={"X-Plex-Token": root}) as admin_sse,
        websockets.connect(f"{ws_url}?X-Plex-Token={folder_token}") as token_ws,
        websockets.connect(ws_url, additional_headers={"X-Plex-Token": bob}) as bob_ws,
        websockets.connect(ws_url, additional_headers={"X-Plex-Token": alice}) as alice_ws,
    ):
        # A socket's first ping says its subscription is in place (a stream's is once it
        # answers).
        for ws in (token_ws, bob_ws, alice_ws):
            assert activity_notifications(await ws_messages_until_ping(ws)) == []
        owners = await export(native, alice, channel)
        assert_whole_life(await ws_until_ended(alice_ws, owners), owners)
        # An admin user's session sees everyone's, as its list does.
        assert_whole_life(await sse_until_ended(admin_sse, owners), owners)
        # The others then start activities of their own, which they see: every record of the
        # owner's export was handed to their connections before those, so had any been theirs
        # to see, it would come first.
        bobs = await export(native, bob, bobs_channel)
        assert_whole_life(await ws_until_ended(bob_ws, bobs), bobs)
        tokens = await folder_deletion(native, folder_token, channel, folder)
        for entries in (await ws_until_ended(token_ws, tokens),
                        await sse_until_ended(token_sse, tokens)):
            assert {e["uuid"] for e in entries} == {tokens}
            assert (entries[0]["event"], entries[-1]["event"]) == ("started", "ended")
    assert [a["uuid"] for a in await listed(rest, folder_token)] == [tokens]
    assert {a["uuid"] for a in await listed(rest, root)} == {owners, bobs, tokens}


# --- errors -------------------------------------------------------------------------------------


async def test_a_bad_token_or_filter_is_refused_in_plex_error_shape(server, rest):
    alice = await create_user(rest, "alice")
    for params, headers, status, error in [
        ({}, {}, 401, "INVALID_TOKEN"),
        ({}, {"X-Plex-Token": "not-a-token"}, 401, "INVALID_TOKEN"),
        ({"X-Plex-Token": "not-a-token"}, {}, 401, "INVALID_TOKEN"),
        ({"filters": "activity,<script>"}, {"X-Plex-Token": alice}, 400,
         "INVALID_PARAMETERS_FORMAT"),
    ]:
        r = await rest.get(EVENT_SOURCE, params=params, headers=headers)
        assert r.status_code == status, r.text
        body = r.json()
        assert body["error"]["id"] == error
        assert body["errors"][0]["status"] == status
        # The WebSocket handshake is refused with the same answer.
        query = httpx.QueryParams(params)
        url = server.ws_url + WEBSOCKET + (f"?{query}" if params else "")
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == status
        assert json.loads(refused.value.response.body)["error"]["id"] == error


async def test_plexapi_alert_listener_with_a_revoked_token_reports_an_error(server, rest):
    alice = await create_user(rest, "alice")
    r = await rest.post("/tokens", json={"name": "app", "type": "personal"},
                        headers=auth(alice))
    token = r.json()
    plex = await asyncio.to_thread(PlexServer, f"{server.url}/compat/plex", token["token"])
    r = await rest.delete(f"/tokens/{token['id']}", headers=auth(alice))
    assert r.status_code == 200, r.text
    errors: list[Any] = []
    listener = plex.startAlertListener(callback=lambda _c: None, callbackError=errors.append)
    try:
        await wait_for(lambda: bool(errors))
    finally:
        listener.stop()
    assert "401" in str(errors[0])


async def test_a_revoked_token_ends_the_websocket(server, rest):
    alice = await create_user(rest, "alice")
    r = await rest.post("/tokens", json={"name": "app", "type": "personal"},
                        headers=auth(alice))
    token = r.json()
    async with websockets.connect(server.ws_url + WEBSOCKET,
                                  additional_headers={"X-Plex-Token": token["token"]}) as ws:
        assert await ws_messages_until_ping(ws) == [PING]
        r = await rest.delete(f"/tokens/{token['id']}", headers=auth(alice))
        assert r.status_code == 200, r.text
        with pytest.raises(websockets.ConnectionClosed):  # pings until then
            async with asyncio.timeout(WAIT):
                while True:
                    assert json.loads(await ws.recv()) == PING
        assert ws.close_code == 4401


# --- X-Plex-Activity, and the token out of the logs ---------------------------------------------


async def test_answers_with_x_activity_carry_x_plex_activity_exposed_by_cors(rest, native):
    alice = await create_user(rest, "alice")
    channel = await make_channel(rest, alice)
    origin = {"Origin": "https://app.example"}
    answers = [
        await rest.post(f"/{channel}/export",
                        headers={**auth(alice), **origin, "Prefer": "respond-async"}),
        await native.post(f"/{channel}/export", headers={**auth(alice), **origin,
                                                         "Prefer": "wait=60"}),
    ]
    assert [r.status_code for r in answers] == [202, 200]
    for r in answers:
        assert r.headers["X-Plex-Activity"] == r.headers["X-Activity"]
        exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
        assert {"x-activity", "x-plex-activity"} <= exposed
    r = await rest.get(f"/{channel}/events", headers=auth(alice))
    assert r.status_code == 200 and "X-Plex-Activity" not in r.headers


async def test_the_token_in_the_url_stays_out_of_the_log(server, rest):
    alice = await create_user(rest, "alice")
    async with websockets.connect(server.ws_url + WEBSOCKET + f"?X-Plex-Token={alice}") as ws:
        assert await ws_messages_until_ping(ws) == [PING]
    async with SseStream(rest, EVENT_SOURCE, params={"X-Plex-Token": alice}) as stream:
        assert stream.status == 200
    # Both lines are written (the stream's once it has ended): the token is masked in them.
    await wait_for(lambda: all(line in server.log() for line in (
        f"{WEBSOCKET}?X-Plex-Token=***", f"{EVENT_SOURCE}?X-Plex-Token=***")))
    assert alice not in server.log()
