"""The AISquare Studio dialect (`/compat/aisquare/api/v1`, app/compat/aisquare.py) over plain
HTTP against a real server process: `GET` and `PUT /activity/{id}/` on feed entries as a
`UserActivity`, and the answers its spec gives (401, 404), plus 400 and 403."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from tests.compat.support import feed_ids, shared_token, user_id
from tests.support import auth, create_user, make_channel, make_folder

BASE = "/compat/aisquare/api/v1"



def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def parse(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_an_entry_as_a_user_activity(rest, pool):
    alice = await create_user(rest, "alice")
    channel = await make_channel(rest, alice)
    folder = await make_folder(rest, alice, channel, "Work")
    (entry_id, *_) = await feed_ids(rest, alice, type="folder.created")
    native = (await rest.get(f"/user-activity/{entry_id}", headers=auth(alice))).json()
    r = await rest.get(f"{BASE}/activity/{entry_id}/", headers=bearer(alice))
    assert r.status_code == 200, r.text
    body = r.json()
    alice_id = await user_id(pool, "alice")
    assert body["id"] == int(entry_id)
    assert uuid.UUID(body["uid"]).version == 5
    assert body["activity_type"] == "20"
    assert body["user"] == {"id": str(alice_id), "username": "alice", "profile_picture": None}
    assert body["workspace_group_id"] == channel
    assert body["text"] == "alice created folder Work"
    assert body["resource"] == {"kind": "folder", "id": folder, "channelId": channel}
    assert body["is_active"] is True and body["deleted_at"] is None
    assert parse(body["created_at"]) == pytest.approx(native["createdAt"], abs=1e-5)
    assert body["updated_at"] == body["created_at"]
    # The same entry always has the same uid.
    again = (await rest.get(f"{BASE}/activity/{entry_id}/", headers=bearer(alice))).json()
    assert again["uid"] == body["uid"]
    # An entry about the user has no workspace group.
    (login, *_) = await feed_ids(rest, alice, type="user.login")
    r = await rest.get(f"{BASE}/activity/{login}/", headers=bearer(alice))
    assert (r.json()["activity_type"], r.json()["workspace_group_id"]) == ("1", None)


async def test_put_changes_the_text_through_the_feed(rest):
    alice = await create_user(rest, "alice")
    await make_channel(rest, alice)
    (entry_id, *_) = await feed_ids(rest, alice, type="channel.created")
    current = (await rest.get(f"{BASE}/activity/{entry_id}/", headers=bearer(alice))).json()
    # The whole UserActivity comes back with a new text; the read-only fields are ignored.
    r = await rest.put(f"{BASE}/activity/{entry_id}/", headers=bearer(alice),
                       json={**current, "text": "Started the Work channel",
                             "activity_type": "100", "is_active": False})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == "Started the Work channel"
    assert (body["activity_type"], body["is_active"]) == ("10", True)
    assert parse(body["updated_at"]) >= parse(body["created_at"])
    native = (await rest.get(f"/user-activity/{entry_id}", headers=auth(alice))).json()
    assert native["text"] == "Started the Work channel"
    assert native["updatedBy"]["userName"] == "alice"


@pytest.mark.parametrize(("body", "message"), [
    ({"user": {}}, "This field is required."),
    ({"text": ""}, "This field may not be blank."),
    ({"text": 12}, "Not a valid string."),
    ({"text": "x" * 1001}, "Ensure this field has no more than 1000 characters."),
])
async def test_put_refuses_a_bad_text(rest, body, message):
    alice = await create_user(rest, "alice")
    (entry_id, *_) = await feed_ids(rest, alice)
    r = await rest.put(f"{BASE}/activity/{entry_id}/", headers=bearer(alice), json=body)
    assert r.status_code == 400, r.text
    assert r.json()["text"] == [message]
    assert r.json()["error"]["data"] == {"params": ["text"]}


async def test_unknown_another_users_and_deleted_entries_are_404(rest):
    alice = await create_user(rest, "alice")
    bob = await create_user(rest, "bob")
    (entry_id, *_) = await feed_ids(rest, alice)
    (bobs, *_) = await feed_ids(rest, bob)
    r = await rest.delete(f"/user-activity/{entry_id}", headers=auth(alice))
    assert r.status_code == 200
    for path in ("999999999", "abc", bobs, entry_id):
        for method in ("GET", "PUT"):
            r = await rest.request(method, f"{BASE}/activity/{path}/", headers=bearer(alice),
                                   json={"text": "x"})
            assert r.status_code == 404, (method, path, r.text)
            assert r.json()["detail"] == "Not found."
            assert r.json()["error"]["id"] == "UNKNOWN_RESOURCE"


async def test_401_without_credentials_and_403_for_a_shared_token(rest):
    alice = await create_user(rest, "alice")
    channel = await make_channel(rest, alice)
    reader = await shared_token(rest, alice, channel)
    (entry_id, *_) = await feed_ids(rest, alice)
    for headers in ({}, bearer("not-a-token")):
        r = await rest.get(f"{BASE}/activity/{entry_id}/", headers=headers)
        assert r.status_code == 401
        assert "detail" in r.json()
        r = await rest.put(f"{BASE}/activity/{entry_id}/", headers=headers, json={"text": "x"})
        assert r.status_code == 401
    r = await rest.get(f"{BASE}/activity/{entry_id}/", headers=bearer(reader))
    assert r.status_code == 403 and "detail" in r.json()
