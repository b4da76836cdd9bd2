"""Activity messages over the subscriptions (docs/api.md §5, §7): the owner sees an activity's
records as they come, with its state as `data`, ending with exactly one final message; an admin
sees it with `activities=all`, which another user may not ask for."""

from __future__ import annotations

import httpx

from tests.realtime.clients import SseStream
from tests.support import auth, create_user

FINAL = {"activity.completed", "activity.failed", "activity.cancelled"}


async def test_the_owner_and_an_admin_see_an_activity_to_its_end(rest: httpx.AsyncClient,
                                                                 alice: str) -> None:
    root = await create_user(rest, "root", admin=True)
    bob = await create_user(rest, "bob")
    r = await rest.post("/channels", json={"name": "Work"}, headers=auth(alice))
    channel = r.json()["id"]
    async with (
        SseStream(rest, "/stream", params={"activities": "mine"}, headers=auth(alice)) as mine,
        SseStream(rest, "/stream", params={"activities": "all"}, headers=auth(root)) as admin,
        SseStream(rest, "/stream", params={"activities": "all"}, headers=auth(bob)) as other,
    ):
        assert (mine.status, admin.status, other.status) == (200, 200, 403)
        r = await rest.post(f"/{channel}/export", headers=auth(alice))
        assert r.status_code == 200, r.text
        activity_id = r.headers["X-Activity"]
        for stream in (mine, admin):
            seen = []
            while not seen or seen[-1].event not in FINAL:
                frame = await stream.change()
                assert frame.data["data"]["id"] == activity_id
                assert frame.data["channelId"] == channel
                seen.append(frame)
            types = [f.event for f in seen]
            assert types[:2] == ["activity.created", "activity.started"]
            assert types[-1] == "activity.completed"
            assert sum(t in FINAL for t in types) == 1
            final = seen[-1].data["data"]
            assert final["state"] == "completed" and final["result"]["code"] == 200
            assert "params" not in seen[0].data["data"]  # the work's input is never sent
