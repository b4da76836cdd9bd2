"""Helpers of the tests that start activities through REST: the activity a response names, and
waiting for its end."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support import auth

# The states an activity ends in.
FINAL = {"completed", "failed", "cancelled"}


async def watch(client: httpx.AsyncClient, credential: str, activity_id: str,
                until: set[str] = FINAL, tries: int = 600) -> dict[str, Any]:
    """Polls `GET /activities/{id}` until the state is one of `until`."""
    for _ in range(tries):
        r = await client.get(f"/activities/{activity_id}", headers=auth(credential))
        assert r.status_code == 200, r.text
        if r.json()["state"] in until:
            return r.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"activity {activity_id} never reached {until}: {r.json()}")


def started(r: httpx.Response) -> str:
    """The activity a response names, checked against its `Location`."""
    activity_id = r.headers["X-Activity"]
    assert r.headers["Location"] == f"/activities/{activity_id}"
    return activity_id
