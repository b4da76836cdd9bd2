"""The user activity feed (docs/api.md §6): a scripted session shows every action in order, with
its code and text; filters; edit of the text; soft delete then 410; every error; rebuild gives
back the same feed."""

from __future__ import annotations

from typing import Any

import httpx

from projections.feed import CODES
from tests.activities.support import started, watch
from tests.reliability.invariants import rebuild_differences
from tests.support import PASSWORD, auth, create_user, error_id


async def feed(client: httpx.AsyncClient, credential: str, **params: Any) -> list[dict]:
    r = await client.get("/user-activity", params=params, headers=auth(credential))
    assert r.status_code == 200, r.text
    return r.json()


async def scripted_session(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    """Alice does one of each action; returns her session and the ids she made."""
    session = await create_user(client)  # user.created (operator), user.login
    s = auth(session)
    ids: dict[str, str] = {}
    r = await client.post("/channels", json={"name": "Diary"}, headers=s)
    ids["channel"] = channel = r.json()["id"]
    await client.put(f"/channels/{channel}", json={"name": "Journal"}, headers=s)
    r = await client.post(f"/{channel}/folders", json={"name": "Work"}, headers=s)
    ids["folder"] = folder = r.json()["id"]
    r = await client.post(f"/{channel}/folders", json={"name": "Home"}, headers=s)
    home = r.json()["id"]
    await client.put(f"/{channel}/folders/{folder}", json={"name": "Job"}, headers=s)
    await client.post(f"/{channel}/folders/{folder}/move", json={"parentId": home}, headers=s)
    r = await client.post(f"/{channel}/events", json={"comment": "coffee", "folderId": folder},
                          headers=s)
    assert r.status_code == 201, r.text
    ids["event"] = event = r.json()["id"]
    await client.put(f"/{channel}/events/{event}", json={"comment": "tea"}, headers=s)
    r = await client.post(f"/{channel}/events/{event}", files={"f": ("a.txt", b"hello")},
                          headers=s)
    assert r.status_code == 200, r.text
    await client.delete(f"/{channel}/events/{event}/a.txt", headers=s)
    await client.delete(f"/{channel}/events/{event}", headers=s)
    await client.delete(f"/{channel}/events/{event}", headers=s)
    await client.delete(f"/{channel}/folders/{folder}", headers=s)
    r = await client.delete(f"/{channel}/folders/{folder}", headers=s)
    ids["activity"] = started(r)
    await watch(client, session, ids["activity"])
    r = await client.post("/tokens", json={"name": "app"}, headers=s)
    ids["token"] = token = r.json()["id"]
    await client.put(f"/tokens/{token}", json={"name": "phone"}, headers=s)
    await client.delete(f"/tokens/{token}", headers=s)
    await client.put("/user-info", json={"displayName": "Alice"}, headers=s)
    r = await client.post("/change-password",
                          json={"oldPassword": PASSWORD, "newPassword": PASSWORD + "!"},
                          headers=s)
    assert r.status_code == 200, r.text
    await client.delete(f"/channels/{channel}", headers=s)
    r = await client.post("/login", json={"userName": "alice", "password": PASSWORD + "!"})
    second = r.json()["sessionID"]
    await client.post("/logout", headers=s)
    return second, ids


async def test_a_scripted_session_shows_every_action_in_order(client, pool):
    session, ids = await scripted_session(client)
    entries = list(reversed(await feed(client, session)))
    expected = [
        ("user.created", "The operator created the account alice"),
        ("user.login", "alice logged in"),
        ("channel.created", "alice created channel Diary"),
        ("channel.updated", "alice changed channel Journal"),
        ("folder.created", "alice created folder Work"),
        ("folder.created", "alice created folder Home"),
        ("folder.updated", "alice changed folder Job"),
        ("folder.moved", "alice moved folder Job"),
        ("event.created", "alice recorded event “coffee”"),
        ("event.updated", "alice changed event “tea”"),
        ("attachment.added", "alice attached file a.txt to event “tea”"),
        ("attachment.removed", "alice removed file a.txt from event “tea”"),
        ("event.trashed", "alice trashed event “tea”"),
        ("event.deleted", "alice deleted event “tea” for good"),
        ("folder.trashed", "alice trashed folder Job"),
        ("activity.started", "alice started: Delete folder 'Job' for good"),
        ("activity.completed", "Completed: Delete folder 'Job' for good"),
        ("token.created", "alice created token app"),
        ("token.updated", "alice changed token phone"),
        ("token.deleted", "alice deleted token phone"),
        ("user.updated", "alice changed the profile (displayName)"),
        ("user.password_changed", "alice changed the password"),
        ("channel.trashed", "alice trashed channel Journal"),
        ("user.login", "alice logged in"),
        ("user.logout", "alice logged out"),
    ]
    assert [(e["type"], e["text"]) for e in entries] == expected
    assert all(e["code"] == CODES[e["type"]] for e in entries)
    assert [int(e["id"]) for e in entries] == sorted(int(e["id"]) for e in entries)
    assert [e["createdAt"] for e in entries] == sorted(e["createdAt"] for e in entries)
    by_type = {e["type"]: e for e in entries}
    assert by_type["folder.moved"]["resource"] == {
        "kind": "folder", "id": ids["folder"], "channelId": ids["channel"]}
    assert by_type["activity.completed"]["activityId"] == ids["activity"]
    assert by_type["activity.completed"]["resource"]["id"] == ids["activity"]
    assert by_type["token.deleted"]["resource"] == {
        "kind": "token", "id": ids["token"], "channelId": None}
    assert by_type["user.logout"]["createdBy"]["userName"] == "alice"
    assert all(e["isActive"] and e["deletedAt"] is None for e in entries)
    # Identifiers: the same, newest first.
    r = await client.get("/user-activity/identifiers", headers=auth(session))
    assert r.json() == [e["id"] for e in reversed(entries)]
    async with pool.acquire() as conn:
        assert await rebuild_differences(conn) == {}


async def test_filters_type_time_limit_before(client, session):
    s = auth(session)
    for name in ("A", "B", "C"):
        await client.post("/channels", json={"name": name}, headers=s)
    everything = await feed(client, session)
    created = await feed(client, session, type="channel.created")
    assert [e["text"] for e in created] == [
        "alice created channel C", "alice created channel B", "alice created channel A"]
    both = await feed(client, session, type="channel.created,user.login")
    assert len(both) == 4
    assert await feed(client, session, limit=2) == everything[:2]
    assert await feed(client, session, before=everything[1]["id"]) == everything[2:]
    middle = everything[2]["createdAt"]
    assert [e["id"] for e in await feed(client, session, fromTime=middle, toTime=middle)] == [
        everything[2]["id"]]
    r = await client.get("/user-activity", params={"limit": "0"}, headers=s)
    assert r.status_code == 400 and error_id(r) == "INVALID_PARAMETERS_FORMAT"
    r = await client.get("/user-activity", params={"fromTime": "soon"}, headers=s)
    assert r.status_code == 400 and error_id(r) == "INVALID_PARAMETERS_FORMAT"


async def test_edit_then_soft_delete_then_gone(client, session, pool):
    s = auth(session)
    entry = (await feed(client, session))[0]
    r = await client.put(f"/user-activity/{entry['id']}", json={"text": "I came in"}, headers=s)
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["text"] == "I came in" and edited["updatedAt"] is not None
    assert edited["updatedBy"]["userName"] == "alice"
    r = await client.get(f"/user-activity/{entry['id']}", headers=s)
    assert r.json() == edited
    r = await client.delete(f"/user-activity/{entry['id']}", headers=s)
    assert r.status_code == 200
    deleted = r.json()
    assert deleted["isActive"] is False and deleted["deletedAt"] is not None
    assert deleted["deletedBy"]["userName"] == "alice"
    for method in ("GET", "PUT", "DELETE"):
        r = await client.request(method, f"/user-activity/{entry['id']}", headers=s,
                                 json={"text": "x"} if method == "PUT" else None)
        assert r.status_code == 410 and error_id(r) == "GONE", method
    assert entry["id"] not in [e["id"] for e in await feed(client, session)]
    assert entry["id"] in [e["id"] for e in await feed(client, session, includeDeleted="true")]
    r = await client.get("/user-activity/identifiers", headers=s)
    assert entry["id"] not in r.json()
    async with pool.acquire() as conn:
        assert await rebuild_differences(conn) == {}


async def test_errors(client, session):
    s = auth(session)
    entry = (await feed(client, session))[0]
    for path in ("/user-activity/999999", "/user-activity/nope"):
        r = await client.get(path, headers=s)
        assert r.status_code == 404 and error_id(r) == "UNKNOWN_RESOURCE"
    r = await client.put(f"/user-activity/{entry['id']}", json={"text": ""}, headers=s)
    assert r.status_code == 400 and error_id(r) == "INVALID_PARAMETERS_FORMAT"
    r = await client.put(f"/user-activity/{entry['id']}", json={"txt": "a"}, headers=s)
    assert r.status_code == 400 and error_id(r) == "INVALID_PARAMETERS_FORMAT"
    r = await client.get("/user-activity")
    assert r.status_code == 401 and error_id(r) == "INVALID_TOKEN"
    # Another user's entry does not exist for alice.
    bob = await create_user(client, "bob")
    bobs = (await feed(client, bob))[0]
    r = await client.get(f"/user-activity/{bobs['id']}", headers=s)
    assert r.status_code == 404 and error_id(r) == "UNKNOWN_RESOURCE"
    # A shared token may not read the feed.
    r = await client.post("/channels", json={"name": "C"}, headers=s)
    channel = r.json()["id"]
    r = await client.post("/tokens", json={"name": "shared", "permissions": [
        {"channelId": channel, "folderPermissions": [{"folderId": None, "type": "manage"}]}]},
        headers=s)
    token = r.json()["token"]
    r = await client.get("/user-activity", headers=auth(token))
    assert r.status_code == 403 and error_id(r) == "FORBIDDEN"
    r = await client.post("/tokens", json={"name": "mine", "type": "personal"}, headers=s)
    r = await client.get("/user-activity", headers=auth(r.json()["token"]))
    assert r.status_code == 200
