"""Finding 1 of the security issue: activities revealed what a credential may not read.

The rule every path now applies (app/identity/activity_visibility.py): a shared token sees
and cancels only the activities it started; the user's sessions and personal tokens see and
cancel all of the user's; an admin user's session sees everyone's. An `Idempotency-Key`
follows it: the user's sessions and personal tokens share one key space, each shared token has
its own.

Driven against real server processes: the module's server runs no activities (so an activity
stays `pending` until cancelled, with no race), and a server that runs them is started only
for the moment finished ones are needed. The owner's batch records a comment, SECRET, in a
folder the shared token `writer` cannot read: it must never appear in anything that token gets.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.compat.conftest import compat_database, pool, rest
from tests.compat.support import NO_RUNNER, RUNNER, start, start_export
from tests.realtime.clients import SseStream, ws_change, ws_connect, ws_json, ws_subscribe
from tests.realtime.server import ServerProcess
from tests.support import auth, create_user, error_id, make_channel, make_folder

# The compat tests' fixtures: a database and a server (without runner) of the module's own.
__all__ = ["compat_database", "pool", "rest"]

SECRET = "the owner's secret plan"
ACRONIS = "/compat/acronis/api/task_manager/v2/activities"


@pytest.fixture(scope="module")
def files() -> Iterator[str]:
    """The data folder of the module's servers (the export files): shared, so that the server
    that serves the download finds what the runner wrote."""
    with tempfile.TemporaryDirectory(prefix="activity-visibility-") as folder:
        yield folder


@pytest.fixture(scope="module")
def server(compat_database: str, files: str) -> Iterator[ServerProcess]:
    process = start(compat_database, **NO_RUNNER, ACTIVITY_DATA_DIR=files)
    yield process
    process.stop()


def start_runner(compat_database: str, files: str) -> ServerProcess:
    """A server that runs activities, on the module's database and data folder."""
    return start(compat_database, **RUNNER, ACTIVITY_DATA_DIR=files)


@dataclass
class World:
    """alice's channel `Work` with folders `open` and `secret`, and her credentials."""

    session: str  # alice's session
    personal: str  # alice's personal token
    writer: str  # shared: events-write on `open` only
    ghost: str  # shared: read-only on a folder that does not exist
    root: str  # the session of an admin user
    root_personal: str  # that admin user's personal token
    channel: str
    open: str
    secret: str


async def token(rest: httpx.AsyncClient, session: str, name: str, channel: str | None = None,
                folder: str | None = None, level: str = "read-only") -> str:
    """A personal token (no channel given) or a shared one with `level` on `folder`."""
    if channel is None:
        body: dict[str, Any] = {"name": name, "type": "personal"}
    else:
        body = {"name": name, "permissions": [
            {"channelId": channel, "folderPermissions": [{"folderId": folder, "type": level}]}]}
    r = await rest.post("/tokens", json=body, headers=auth(session))
    assert r.status_code == 201, r.text
    return r.json()["token"]


@pytest.fixture
async def world(rest: httpx.AsyncClient) -> World:
    session = await create_user(rest, "alice")
    root = await create_user(rest, "root", admin=True)
    channel = await make_channel(rest, session)
    open_folder = await make_folder(rest, session, channel, "open")
    secret = await make_folder(rest, session, channel, "secret")
    return World(
        session=session,
        personal=await token(rest, session, "laptop"),
        writer=await token(rest, session, "writer", channel, open_folder, "events-write"),
        ghost=await token(rest, session, "ghost", channel, "no-such-folder"),
        root=root,
        root_personal=await token(rest, root, "root-laptop"),
        channel=channel,
        open=open_folder,
        secret=secret,
    )


async def batch(rest: httpx.AsyncClient, credential: str, channel: str, folder: str,
                comment: str, **headers: str) -> httpx.Response:
    body = {"events": [{"clientId": comment, "time": 1000.0, "comment": comment,
                        "folderId": folder}]}
    return await rest.post(f"/{channel}/events/batch", json=body,
                           headers={**auth(credential), **headers})


@dataclass
class Finished:
    """Activities run to their end, in this order: alice's batch into `secret` and her export
    (by her session), then the writer's own batch into `open`."""

    export: str
    owners_batch: str
    writers_batch: str


@pytest.fixture
async def finished(compat_database: str, files: str, world: World) -> AsyncIterator[Finished]:
    runner = start_runner(compat_database, files)
    try:
        async with httpx.AsyncClient(base_url=runner.url, timeout=90) as client:
            wait = {"Prefer": "wait=60"}
            r = await batch(client, world.session, world.channel, world.secret, SECRET, **wait)
            assert r.status_code == 200, r.text
            owners = r.headers["X-Activity"]
            r = await client.post(f"/{world.channel}/export",
                                  headers={**auth(world.session), **wait})
            assert r.status_code == 200, r.text
            export = r.headers["X-Activity"]
            r = await batch(client, world.writer, world.channel, world.open, "mine", **wait)
            assert r.status_code == 200, r.text
            yield Finished(export, owners, r.headers["X-Activity"])
    finally:
        runner.stop()


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [a["id"] for a in response.json()]


# --- REST --------------------------------------------------------------------------------------


async def test_shared_token_cannot_download_owner_export(rest, world, finished):
    r = await rest.get(f"/activities/{finished.export}/download", headers=auth(world.writer))
    assert r.status_code == 404 and error_id(r) == "UNKNOWN_ACTIVITY", r.text
    # Her own credentials still may.
    for credential in (world.session, world.personal):
        r = await rest.get(f"/activities/{finished.export}/download", headers=auth(credential))
        assert r.status_code == 200, r.text
        assert SECRET in r.text


async def test_shared_token_cannot_read_owner_batch_result(rest, world, finished):
    r = await rest.get(f"/activities/{finished.owners_batch}", headers=auth(world.writer))
    assert r.status_code == 404 and error_id(r) == "UNKNOWN_ACTIVITY", r.text
    r = await rest.get("/activities", headers=auth(world.writer))
    assert ids(r) == [finished.writers_batch]
    assert SECRET not in r.text
    r = await rest.get(f"/activities/{finished.writers_batch}", headers=auth(world.writer))
    assert r.status_code == 200 and r.json()["result"]["code"] == 200
    # The user's session and personal token see all three.
    everything = [finished.writers_batch, finished.export, finished.owners_batch]
    for credential in (world.session, world.personal):
        assert ids(await rest.get("/activities", headers=auth(credential))) == everything


async def test_shared_token_cannot_cancel_owner_activity(rest, world):
    pending = await start_export(rest, world.session, world.channel)
    for credential in (world.ghost, world.writer):
        r = await rest.delete(f"/activities/{pending}", headers=auth(credential))
        assert r.status_code == 404 and error_id(r) == "UNKNOWN_ACTIVITY", r.text
        r = await rest.delete(f"/compat/plex/activities/{pending}",
                              headers={"X-Plex-Token": credential})
        assert r.status_code == 404, r.text
    r = await rest.get(f"/activities/{pending}", headers=auth(world.session))
    assert (r.json()["state"], r.json()["cancelRequested"]) == ("pending", False)
    # The token's own activity it may cancel; the owner's personal token may cancel hers.
    r = await batch(rest, world.writer, world.channel, world.open, "mine",
                    Prefer="respond-async")
    own = r.headers["X-Activity"]
    r = await rest.delete(f"/activities/{own}", headers=auth(world.writer))
    assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
    r = await rest.delete(f"/activities/{pending}", headers=auth(world.personal))
    assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text


async def test_only_an_admin_session_sees_everyones_activities(rest, world):
    pending = await start_export(rest, world.session, world.channel)
    r = await rest.get("/activities", headers=auth(world.root))
    assert ids(r) == [pending]
    assert (await rest.get(f"/activities/{pending}", headers=auth(world.root))).status_code == 200
    # The admin's personal token is the admin user's own credential, not the admin's seat.
    r = await rest.get("/activities", headers=auth(world.root_personal))
    assert ids(r) == []
    r = await rest.get(f"/activities/{pending}", headers=auth(world.root_personal))
    assert r.status_code == 404 and error_id(r) == "UNKNOWN_ACTIVITY"
    r = await rest.delete(f"/activities/{pending}", headers=auth(world.root_personal))
    assert r.status_code == 404 and error_id(r) == "UNKNOWN_ACTIVITY"
    r = await rest.delete(f"/activities/{pending}", headers=auth(world.root))
    assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text


async def test_admin_session_downloads_any_export_by_design(rest, world, finished):
    """Documented in docs/api.md §5.5: an admin user's session is the server's supervisor and
    has full data access through activities; its tokens do not."""
    r = await rest.get(f"/activities/{finished.export}/download", headers=auth(world.root))
    assert r.status_code == 200 and SECRET in r.text
    r = await rest.get(f"/activities/{finished.export}/download",
                       headers=auth(world.root_personal))
    assert r.status_code == 404 and error_id(r) == "UNKNOWN_ACTIVITY"


# --- the compat dialects and the feed ---------------------------------------------------------


async def test_shared_token_cannot_read_owner_batch_result_through_plex_or_acronis(
        rest, world, finished):
    r = await rest.get("/compat/plex/activities",
                       headers={"X-Plex-Token": world.writer, "Accept": "application/json"})
    assert r.status_code == 200, r.text
    assert [a["uuid"] for a in r.json()["MediaContainer"]["Activity"]] == [
        finished.writers_batch]
    r = await rest.get("/compat/plex/activities", params={"X-Plex-Token": world.writer})
    assert r.status_code == 200 and r.text.count("<Activity ") == 1, r.text
    assert SECRET not in r.text
    r = await rest.get(ACRONIS, headers={"Authorization": f"Bearer {world.writer}"})
    assert r.status_code == 200, r.text
    assert [a["uuid"] for a in r.json()["items"]] == [finished.writers_batch]
    r = await rest.get(ACRONIS, params={"uuid": finished.owners_batch},
                       headers={"Authorization": f"Bearer {world.writer}"})
    assert r.status_code == 200 and r.json()["items"] == [], r.text
    # The admin's session sees everyone's there too; its personal token only its user's.
    r = await rest.get(ACRONIS, headers={"Authorization": f"Bearer {world.root}"})
    assert len(r.json()["items"]) == 3
    r = await rest.get(ACRONIS, headers={"Authorization": f"Bearer {world.root_personal}"})
    assert r.json()["items"] == []


async def test_shared_token_gets_no_feed_entry_about_activities(rest, world, finished):
    """A guard more than a finding: the feed (and its dialects) is the session's and personal
    token's only; the owner does find her activities there."""
    for path in ("/user-activity", "/user-activity/identifiers"):
        r = await rest.get(path, params={"type": "activity.completed"}, headers=auth(world.writer))
        assert r.status_code == 403 and error_id(r) == "FORBIDDEN", r.text
    r = await rest.get("/compat/pieces/activity/identifiers",
                       headers={"Authorization": world.writer})
    assert r.status_code == 403, r.text
    r = await rest.get("/user-activity", params={"type": "activity.completed"},
                       headers=auth(world.personal))
    assert {e["activityId"] for e in r.json()} == {
        finished.export, finished.owners_batch, finished.writers_batch}


# --- Idempotency-Key ---------------------------------------------------------------------------


async def test_shared_token_replaying_owner_idempotency_key_gets_its_own_activity(rest, world):
    key = {"Idempotency-Key": "batch-1", "Prefer": "respond-async"}
    owner = await batch(rest, world.session, world.channel, world.secret, SECRET, **key)
    owners_activity = owner.headers["X-Activity"]
    other_writer = await token(rest, world.session, "writer-2", world.channel, world.open,
                               "events-write")
    theirs = set()
    for credential in (world.writer, other_writer):
        r = await batch(rest, credential, world.channel, world.secret, SECRET, **key)
        assert r.status_code == 202, r.text
        assert r.headers["X-Activity"] != owners_activity
        assert r.json()["startedBy"]["tokenId"] is not None
        theirs.add(r.headers["X-Activity"])
    assert len(theirs) == 2  # each shared token's keys are its own
    # Replaying its own key finds its own activity again.
    r = await batch(rest, world.writer, world.channel, world.secret, SECRET, **key)
    assert r.headers["X-Activity"] in theirs


async def test_shared_token_replaying_owner_idempotency_key_gets_no_result(
        rest, world, compat_database, files):
    """The finding as reported: a completed batch's result replayed to a shared token."""
    runner = start_runner(compat_database, files)
    try:
        async with httpx.AsyncClient(base_url=runner.url, timeout=90) as client:
            key = {"Idempotency-Key": "the-owners-key", "Prefer": "wait=60"}
            r = await batch(client, world.session, world.channel, world.secret, SECRET, **key)
            assert r.status_code == 200 and SECRET in r.text
            owners = r.headers["X-Activity"]
            r = await batch(client, world.writer, world.channel, world.secret, SECRET, **key)
    finally:
        runner.stop()
    assert SECRET not in r.text
    # Its own batch ran, and failed: the folder is not one the token can see.
    assert r.headers["X-Activity"] != owners
    assert r.status_code == 400 and error_id(r) == "UNKNOWN_FOLDER", r.text


async def test_session_and_personal_token_share_one_key_space(rest, world):
    key = {"Idempotency-Key": "export-1", "Prefer": "respond-async"}
    first = await rest.post(f"/{world.channel}/export", headers={**auth(world.personal), **key})
    again = await rest.post(f"/{world.channel}/export", headers={**auth(world.session), **key})
    assert first.status_code == again.status_code == 202
    assert again.headers["X-Activity"] == first.headers["X-Activity"]
    # A shared token replaying their key starts its own export instead.
    reader = await token(rest, world.session, "reader", world.channel)
    r = await rest.post(f"/{world.channel}/export", headers={**auth(reader), **key})
    assert r.status_code == 202 and r.headers["X-Activity"] != first.headers["X-Activity"]
    readers = r.headers["X-Activity"]
    # And the other way round: the session does not find the shared token's key either.
    key["Idempotency-Key"] = "export-2"
    r = await rest.post(f"/{world.channel}/export", headers={**auth(reader), **key})
    again = await rest.post(f"/{world.channel}/export", headers={**auth(world.session), **key})
    assert readers != r.headers["X-Activity"] != again.headers["X-Activity"]


# --- SSE and WebSocket -------------------------------------------------------------------------


async def test_shared_token_stream_gets_only_activities_it_started(rest, world, server):
    """Over SSE and WebSocket, `activities=mine` (and an activity's id) give a shared token
    only its own activities. The token's own activity, started last, is the marker: the
    fan-out delivers in the log's order, so whatever was let through would come before it."""
    owners = await start_export(rest, world.session, world.channel)
    sse_query = {"activities": "mine"}
    async with (
        SseStream(rest, "/stream", params=sse_query, headers=auth(world.writer)) as sse,
        SseStream(rest, "/stream", headers=auth(world.writer)) as default,
        SseStream(rest, "/stream", params={"activities": "all"}, headers=auth(world.root))
        as admin,
    ):
        assert (sse.status, default.status, admin.status) == (200, 200, 200)
        ws = await ws_connect(f"{server.ws_url}/ws", world.writer)
        try:
            await ws_subscribe(ws, subscription="mine", activities="mine")
            await ws_subscribe(ws, subscription="owners", activities=owners)
            r = await rest.delete(f"/activities/{owners}", headers=auth(world.session))
            assert r.status_code == 200, r.text
            r = await batch(rest, world.session, world.channel, world.secret, SECRET,
                            Prefer="respond-async")
            assert r.status_code == 202, r.text
            r = await batch(rest, world.writer, world.channel, world.open, "mine",
                            Prefer="respond-async")
            assert r.status_code == 202, r.text
            marker = r.headers["X-Activity"]
            for stream in (sse, default):
                frame = await stream.change()
                assert (frame.event, frame.data["data"]["id"]) == ("activity.created", marker), \
                    frame
            message = await ws_change(ws)
            assert message.get("subscription") == "mine", message
            assert (message["type"], message["data"]["id"]) == ("activity.created", marker)
            # The admin's session saw the owner's activity end, then the rest.
            frame = await admin.change()
            assert frame.data["data"]["id"] == owners, frame
        finally:
            await ws.close()


async def test_admin_personal_token_may_not_subscribe_to_all_activities(rest, world, server):
    async with SseStream(rest, "/stream", params={"activities": "all"},
                         headers=auth(world.root_personal)) as sse:
        assert sse.status == 403
    ws = await ws_connect(f"{server.ws_url}/ws", world.root_personal)
    try:
        await ws.send(json.dumps({"op": "subscribe", "activities": "all"}))
        answer = await ws_json(ws)
        assert answer["op"] == "error" and answer["error"]["id"] == "FORBIDDEN", answer
    finally:
        await ws.close()
