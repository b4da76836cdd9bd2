"""Activities (docs/api.md §5): each operation starts one, answers with `X-Activity` and `Location`,
can be watched to its end through `GET /activities/{id}` and cancelled half-way with nothing
half-done left; `Prefer`, `Idempotency-Key`, the list and its filters, and every error of §5.

Cancelling "half-way" needs the work to be slow enough to be caught: those tests run an
application whose runner pauses at each safe point (`activity_step_pause`), then cancel once
the activity is seen running. No test asserts a duration.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from tests.activities.support import FINAL, started, watch
from tests.reliability.invariants import rebuild_differences
from tests.support import OPERATOR_KEY, auth, create_user, error_id, make_channel, make_folder

# --- helpers ----------------------------------------------------------------------------------


async def trashed_tree(client: httpx.AsyncClient, session: str, channel: str) -> str:
    """A trashed folder `Old` with two levels of children below it."""
    top = await make_folder(client, session, channel, "Old")
    child = await make_folder(client, session, channel, "Child", top)
    await make_folder(client, session, channel, "Grandchild", child)
    r = await client.delete(f"/{channel}/folders/{top}", headers=auth(session))
    assert r.status_code == 200 and "X-Activity" not in r.headers, r.text
    return top


async def folder_ids(pool: asyncpg.Pool, channel: str) -> set[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT folder_id FROM folders WHERE channel_id = $1", channel)
    return {r["folder_id"] for r in rows}


async def record_types(pool: asyncpg.Pool, stream: str) -> list[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT type FROM event_log WHERE stream_id = $1 ORDER BY version", stream
        )
    return [r["type"] for r in rows]


@pytest.fixture
async def slow(make_client):
    """An application whose runner pauses at every safe point (to cancel it half-way)."""
    return await make_client(activity_step_pause=0.4, activity_wait_seconds=0.0)


# --- each operation ---------------------------------------------------------------------------


async def test_deleting_a_trashed_folder_for_good_is_an_activity(client, session, pool):
    channel = await make_channel(client, session)
    top = await trashed_tree(client, session, channel)
    r = await client.delete(f"/{channel}/folders/{top}", headers=auth(session))
    assert r.status_code == 200, r.text
    assert r.json() == {"folderDeletion": {"id": top}}
    activity = await watch(client, session, started(r))
    assert activity["type"] == "folder.delete"
    assert activity["state"] == "completed"
    assert activity["result"] == {"code": 200, "payload": {"folderDeletion": {"id": top}}}
    assert activity["context"] == {"channelId": channel, "folderId": top}
    assert activity["startedBy"] == {"userName": "alice", "tokenId": None}
    assert activity["progress"] == {"done": 3, "total": 3, "percent": 100.0}
    assert activity["completedAt"] >= activity["startedAt"] >= activity["createdAt"]
    assert await folder_ids(pool, channel) == set()
    assert await record_types(pool, f"activity-{activity['id']}") == [
        "activity.created", "activity.started", "activity.progress", "activity.completed",
    ]


async def test_deleting_a_trashed_channel_for_good_is_an_activity(client, session, pool):
    channel = await make_channel(client, session)
    await make_folder(client, session, channel, "A")
    r = await client.delete(f"/channels/{channel}", headers=auth(session))
    assert r.status_code == 200 and r.json()["trashed"] is True
    assert "X-Activity" not in r.headers
    r = await client.delete(f"/channels/{channel}", headers=auth(session))
    assert r.status_code == 200, r.text
    assert r.json() == {"channelDeletion": {"id": channel}}
    activity = await watch(client, session, started(r))
    assert (activity["type"], activity["state"]) == ("channel.delete", "completed")
    assert await folder_ids(pool, channel) == set()
    r = await client.get("/channels", params={"state": "all"}, headers=auth(session))
    assert r.json() == []


async def test_export_gives_a_json_lines_download(client, session):
    channel = await make_channel(client, session)
    top = await make_folder(client, session, channel, "Top")
    await make_folder(client, session, channel, "Below", top)
    r = await client.post(f"/{channel}/export", headers=auth(session))
    assert r.status_code == 200, r.text
    activity = await watch(client, session, started(r))
    payload = activity["result"]["payload"]
    assert r.json() == payload
    assert payload["download"] == f"/activities/{activity['id']}/download"
    assert (payload["folders"], payload["events"], payload["lines"]) == (2, 0, 3)
    r = await client.get(payload["download"], headers=auth(session))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in r.content.splitlines()]
    assert [line["kind"] for line in lines] == ["channel", "folder", "folder"]
    assert lines[0]["channel"]["id"] == channel
    assert [line["folder"]["name"] for line in lines[1:]] == ["Top", "Below"]
    assert len(r.content) == payload["size"]


async def test_rebuild_is_an_operator_activity(client, session, pool):
    channel = await make_channel(client, session)
    await make_folder(client, session, channel, "A")
    r = await client.post("/system/rebuild", headers=auth(session))
    assert r.status_code == 401
    r = await client.post("/system/rebuild", headers=auth(OPERATOR_KEY))
    assert r.status_code == 200, r.text
    assert r.json()["records"] > 0
    activity_id = started(r)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT state, user_id, cancellable FROM activities WHERE activity_id = $1::uuid",
            activity_id,
        )
        assert dict(row) == {"state": "completed", "user_id": None, "cancellable": False}
        assert await rebuild_differences(conn) == {}
    # Alice sees no activity of the operator's.
    r = await client.get(f"/activities/{activity_id}", headers=auth(session))
    assert r.status_code == 404 and error_id(r) == "UNKNOWN_ACTIVITY"


# --- Prefer, Idempotency-Key ------------------------------------------------------------------


async def test_respond_async_answers_202_at_once(client, session):
    channel = await make_channel(client, session)
    r = await client.post(f"/{channel}/export", headers={**auth(session),
                                                         "Prefer": "respond-async"})
    assert r.status_code == 202, r.text
    assert r.headers["Preference-Applied"] == "respond-async"
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["id"] == started(r)
    assert r.json()["state"] in ("pending", "running")
    assert (await watch(client, session, started(r)))["state"] == "completed"


async def test_a_short_wait_answers_202_and_the_work_goes_on(slow):
    session = await create_user(slow)
    channel = await make_channel(slow, session)
    r = await slow.post(f"/{channel}/export", headers={**auth(session), "Prefer": "wait=0"})
    assert r.status_code == 202, r.text
    assert r.headers["Preference-Applied"] == "wait=0"
    assert (await watch(slow, session, started(r)))["state"] == "completed"


async def test_the_same_idempotency_key_answers_with_the_same_activity(client, session, pool):
    channel = await make_channel(client, session)
    key = {"Idempotency-Key": "export-1"}
    r1 = await client.post(f"/{channel}/export", headers={**auth(session), **key,
                                                          "Prefer": "respond-async"})
    assert r1.status_code == 202
    await watch(client, session, started(r1))
    r2 = await client.post(f"/{channel}/export", headers={**auth(session), **key})
    assert r2.status_code == 200, r2.text
    assert started(r2) == started(r1)
    assert r2.json()["download"] == f"/activities/{started(r1)}/download"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM activities") == 1
    # Another user with the same key starts their own.
    bob = await create_user(client, "bob")
    bobs = await make_channel(client, bob, "Bob's")
    r3 = await client.post(f"/{bobs}/export", headers={**auth(bob), **key})
    assert r3.status_code == 200 and started(r3) != started(r1)
    # The same key on another route of the same user is refused.
    other = await make_channel(client, session, "Other")
    r4 = await client.post(f"/{other}/export", headers={**auth(session), **key})
    assert r4.status_code == 409 and error_id(r4) == "INVALID_OPERATION"


async def test_a_malformed_idempotency_key_is_refused(client, session):
    channel = await make_channel(client, session)
    r = await client.post(f"/{channel}/export",
                          headers={**auth(session), "Idempotency-Key": "x" * 300})
    assert r.status_code == 400 and error_id(r) == "INVALID_PARAMETERS_FORMAT"


# --- refused before any activity starts -------------------------------------------------------


async def test_a_refused_deletion_starts_no_activity(client, session, pool):
    channel = await make_channel(client, session)
    r = await client.delete(f"/{channel}/folders/nope", headers=auth(session))
    assert r.status_code == 404 and "X-Activity" not in r.headers
    r = await client.post("/nope/export", headers=auth(session))
    assert r.status_code == 404 and error_id(r) == "UNKNOWN_CHANNEL"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM activities") == 0


async def test_a_failed_work_answers_its_error_and_stays_failed(slow, pool):
    """The folder is restored while the work waits at its first safe point: the work refuses
    in its last step, and the activity ends `failed` with that refusal."""
    session = await create_user(slow)
    channel = await make_channel(slow, session)
    top = await trashed_tree(slow, session, channel)
    r = await slow.delete(f"/{channel}/folders/{top}", headers=auth(session))
    assert r.status_code == 202
    activity_id = started(r)
    await watch(slow, session, activity_id, until={"running"})
    restore = await slow.put(f"/{channel}/folders/{top}", json={"trashed": False},
                             headers=auth(session))
    assert restore.status_code == 200
    activity = await watch(slow, session, activity_id)
    assert activity["state"] == "failed"
    assert activity["error"]["id"] == "INVALID_OPERATION"
    assert await folder_ids(pool, channel) != set()
    # The request asked again by its key answers as the work ended: with its error.
    r = await slow.get(f"/activities/{activity_id}", headers=auth(session))
    assert r.json()["result"] is None


# --- cancel -----------------------------------------------------------------------------------


async def cancel_when_running(client: httpx.AsyncClient, session: str, activity_id: str,
                              **progress_past: int) -> dict[str, Any]:
    """Waits until the activity runs (and, if asked, its progress passed `done`), cancels it,
    and returns its final state."""
    minimum = progress_past.get("done", -1)
    for _ in range(600):
        activity = await watch(client, session, activity_id, until={"running", *FINAL})
        assert activity["state"] == "running", activity
        if activity["progress"]["done"] > minimum:
            break
        await asyncio.sleep(0.05)
    r = await client.delete(f"/activities/{activity_id}", headers=auth(session))
    assert r.status_code == 200, r.text
    assert r.json()["state"] in ("cancelling", "cancelled")
    assert r.json()["cancelRequested"] is True
    again = await client.delete(f"/activities/{activity_id}", headers=auth(session))
    assert again.status_code == 200 and again.json()["state"] in ("cancelling", "cancelled")
    return await watch(client, session, activity_id)


async def test_a_folder_deletion_cancelled_half_way_deletes_nothing(slow, pool):
    session = await create_user(slow)
    channel = await make_channel(slow, session)
    top = await trashed_tree(slow, session, channel)
    before = await folder_ids(pool, channel)
    r = await slow.delete(f"/{channel}/folders/{top}", headers=auth(session))
    assert r.status_code == 202
    activity = await cancel_when_running(slow, session, started(r))
    assert activity["state"] == "cancelled" and activity["result"] is None
    assert await folder_ids(pool, channel) == before
    types = await record_types(pool, f"activity-{activity['id']}")
    assert types[-2:] == ["activity.cancel_requested", "activity.cancelled"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM event_log WHERE type = "
                                   "'folder.deleted'") == 0
        assert await conn.fetchval("SELECT count(*) FROM activity_runs") == 0
    # Answered as cancelled to whoever asks by the same request again.
    r = await slow.delete(f"/activities/{activity['id']}", headers=auth(session))
    assert r.status_code == 200 and r.json()["state"] == "cancelled"


async def test_a_channel_deletion_cancelled_half_way_deletes_nothing(slow, pool):
    session = await create_user(slow)
    channel = await make_channel(slow, session)
    await make_folder(slow, session, channel, "A")
    await slow.delete(f"/channels/{channel}", headers=auth(session))
    r = await slow.delete(f"/channels/{channel}", headers=auth(session))
    activity = await cancel_when_running(slow, session, started(r))
    assert activity["state"] == "cancelled"
    r = await slow.get("/channels", params={"state": "trashed"}, headers=auth(session))
    assert [c["id"] for c in r.json()] == [channel]
    assert len(await folder_ids(pool, channel)) == 1


async def test_an_export_cancelled_half_way_leaves_no_file(make_client, settings):
    app = await make_client(activity_step_pause=0.3, activity_wait_seconds=0.0,
                            activity_export_page=2)
    session = await create_user(app)
    channel = await make_channel(app, session)
    for i in range(8):
        r = await app.post(f"/{channel}/events", json={"comment": f"e{i}"},
                           headers=auth(session))
        assert r.status_code == 201, r.text
    r = await app.post(f"/{channel}/export", headers=auth(session))
    activity = await cancel_when_running(app, session, started(r), done=1)
    assert activity["state"] == "cancelled"
    assert 1 < activity["progress"]["done"] < activity["progress"]["total"]
    r = await app.get(f"/activities/{activity['id']}/download", headers=auth(session))
    assert r.status_code == 404 and error_id(r) == "UNKNOWN_RESOURCE"
    leftovers = list((settings.data_dir / "exports").glob(f"{activity['id']}*"))
    assert leftovers == []


async def test_an_export_reports_progress_then_completes(make_client):
    app = await make_client(activity_export_page=2)
    session = await create_user(app)
    channel = await make_channel(app, session)
    for i in range(5):
        await app.post(f"/{channel}/events", json={"comment": f"e{i}"}, headers=auth(session))
    r = await app.post(f"/{channel}/export", headers=auth(session))
    assert r.status_code == 200, r.text
    assert r.json()["events"] == 5
    activity = await watch(app, session, started(r))
    assert activity["progress"] == {"done": 6, "total": 6, "percent": 100.0}
    r = await app.get(r.json()["download"], headers=auth(session))
    events = [orjson.loads(x)["event"] for x in r.content.splitlines()[1:]]
    assert sorted(e["comment"] for e in events) == [f"e{i}" for i in range(5)]


async def test_cancel_errors(client, session, pool):
    channel = await make_channel(client, session)
    r = await client.post(f"/{channel}/export", headers=auth(session))
    done = started(r)
    r = await client.delete(f"/activities/{done}", headers=auth(session))
    assert r.status_code == 409 and error_id(r) == "INVALID_OPERATION"
    for bad in ("nope", "00000000-0000-0000-0000-000000000000"):
        for method in ("GET", "DELETE"):
            r = await client.request(method, f"/activities/{bad}", headers=auth(session))
            assert r.status_code == 404 and error_id(r) == "UNKNOWN_ACTIVITY"
    bob = await create_user(client, "bob")
    r = await client.delete(f"/activities/{done}", headers=auth(bob))
    assert r.status_code == 404 and error_id(r) == "UNKNOWN_ACTIVITY"
    r = await client.get(f"/activities/{done}", headers=auth(bob))
    assert r.status_code == 404 and error_id(r) == "UNKNOWN_ACTIVITY"
    r = await client.get("/activities")
    assert r.status_code == 401


async def test_a_failed_activity_and_a_rebuild_cannot_be_cancelled(slow):
    admin = await create_user(slow, "root", admin=True)
    channel = await make_channel(slow, admin)
    top = await trashed_tree(slow, admin, channel)
    r = await slow.delete(f"/{channel}/folders/{top}", headers=auth(admin))
    failing = started(r)
    await watch(slow, admin, failing, until={"running"})
    await slow.put(f"/{channel}/folders/{top}", json={"trashed": False}, headers=auth(admin))
    assert (await watch(slow, admin, failing))["state"] == "failed"
    r = await slow.delete(f"/activities/{failing}", headers=auth(admin))
    assert r.status_code == 409 and error_id(r) == "INVALID_OPERATION"
    r = await slow.post("/system/rebuild", headers={**auth(OPERATOR_KEY),
                                                     "Prefer": "respond-async"})
    rebuild = started(r)
    assert r.json()["cancellable"] is False
    r = await slow.delete(f"/activities/{rebuild}", headers=auth(admin))  # admin sees it
    assert r.status_code == 409 and error_id(r) == "INVALID_OPERATION"
    assert (await watch(slow, admin, rebuild))["state"] == "completed"


# --- the list ---------------------------------------------------------------------------------


async def test_the_list_own_newest_first_with_filters_and_admin_sees_all(client, session):
    channel = await make_channel(client, session)
    ids = []
    for _ in range(3):
        r = await client.post(f"/{channel}/export", headers=auth(session))
        ids.append(started(r))
    top = await trashed_tree(client, session, channel)
    r = await client.delete(f"/{channel}/folders/{top}", headers=auth(session))
    ids.append(started(r))
    r = await client.get("/activities", headers=auth(session))
    assert [a["id"] for a in r.json()] == ids[::-1]
    r = await client.get("/activities", params={"type": "channel.export"}, headers=auth(session))
    assert [a["id"] for a in r.json()] == ids[2::-1]
    r = await client.get("/activities", params={"state": "completed,failed", "limit": 2},
                         headers=auth(session))
    assert [a["id"] for a in r.json()] == ids[:1:-1]
    r = await client.get("/activities", params={"before": ids[2]}, headers=auth(session))
    assert [a["id"] for a in r.json()] == ids[1::-1]
    r = await client.get("/activities", params={"state": "running,done"}, headers=auth(session))
    assert r.status_code == 400 and error_id(r) == "INVALID_PARAMETERS_FORMAT"
    r = await client.get("/activities", params={"before": "x"}, headers=auth(session))
    assert r.status_code == 400 and error_id(r) == "INVALID_PARAMETERS_FORMAT"
    bob = await create_user(client, "bob")
    r = await client.get("/activities", headers=auth(bob))
    assert r.json() == []
    root = await create_user(client, "root", admin=True)
    r = await client.get("/activities", headers=auth(root))
    assert [a["id"] for a in r.json()] == ids[::-1]
    r = await client.get(f"/activities/{ids[0]}", headers=auth(root))
    assert r.status_code == 200


async def test_a_shared_token_sees_the_activities_it_started(client, session):
    mine = await make_channel(client, session, "Mine")
    other = await make_channel(client, session, "Other")
    r = await client.post("/tokens", json={"name": "t", "permissions": [
        {"channelId": mine, "folderPermissions": [{"folderId": None, "type": "read-only"}]}]},
        headers=auth(session))
    token = r.json()["token"]
    seen = started(await client.post(f"/{mine}/export", headers=auth(token)))
    hidden = started(await client.post(f"/{other}/export", headers=auth(session)))
    r = await client.get("/activities", headers=auth(token))
    assert [a["id"] for a in r.json()] == [seen]
    assert r.json()[0]["startedBy"]["tokenId"] is not None
    r = await client.get(f"/activities/{hidden}", headers=auth(token))
    assert r.status_code == 404
    r = await client.post(f"/{other}/export", headers=auth(token))
    assert r.status_code == 404 and error_id(r) == "UNKNOWN_CHANNEL"


# --- events/batch -----------------------------------------------------------------------------


async def event_count(pool: asyncpg.Pool, channel: str) -> int:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM events WHERE channel_id = $1", channel)


async def test_a_batch_is_an_activity_all_or_nothing(client, session, pool):
    channel = await make_channel(client, session)
    folder = await make_folder(client, session, channel, "F")
    batch = {"events": [
        {"clientId": "a", "time": 1000.0, "comment": "one"},
        {"clientId": "b", "time": 2000.0, "duration": 60.0, "folderId": folder},
    ]}
    r = await client.post(f"/{channel}/events/batch", json=batch, headers=auth(session))
    assert r.status_code == 200, r.text
    assert [e["clientId"] for e in r.json()["addedEvents"]] == ["a", "b"]
    activity = await watch(client, session, started(r))
    assert (activity["type"], activity["state"]) == ("events.batch", "completed")
    assert activity["progress"]["total"] == 2
    # A batch refused by the period rules: the refusal is the answer, nothing is added.
    clash = {"events": [
        {"clientId": "c", "time": 3000.0, "duration": 60.0, "folderId": folder},
        {"clientId": "d", "time": 3030.0, "duration": 60.0, "folderId": folder},
    ]}
    r = await client.post(f"/{channel}/events/batch", json=clash, headers=auth(session))
    assert r.status_code == 400 and error_id(r) == "PERIODS_OVERLAP", r.text
    assert (await watch(client, session, started(r)))["state"] == "failed"
    assert await event_count(pool, channel) == 2
    # A malformed body starts no activity.
    r = await client.post(f"/{channel}/events/batch", json={"events": [{}]},
                          headers=auth(session))
    assert r.status_code == 400 and "X-Activity" not in r.headers


async def test_a_batch_cancelled_half_way_adds_nothing(slow, pool):
    session = await create_user(slow)
    channel = await make_channel(slow, session)
    batch = {"events": [{"clientId": str(i), "time": 1000.0 + i} for i in range(50)]}
    r = await slow.post(f"/{channel}/events/batch", json=batch, headers=auth(session))
    assert r.status_code == 202, r.text
    activity = await cancel_when_running(slow, session, started(r))
    assert activity["state"] == "cancelled"
    assert await event_count(pool, channel) == 0
