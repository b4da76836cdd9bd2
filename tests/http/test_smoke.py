"""The shortest path through the server: a user, a session, a channel, a token."""

from tests.support import auth


async def test_user_channel_token(client, session):
    r = await client.post("/channels", json={"name": "Work"}, headers=auth(session))
    assert r.status_code == 201, r.text
    channel_id = r.json()["id"]
    r = await client.post(
        "/tokens",
        json={"name": "app", "permissions": [{"channelId": channel_id, "folderPermissions": [
            {"folderId": None, "type": "read-only"}]}]},
        headers=auth(session),
    )
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    r = await client.get("/channels", headers=auth(token))
    assert [c["id"] for c in r.json()] == [channel_id]
    assert "server-time" in r.headers
