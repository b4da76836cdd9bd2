"""The Acronis Task Manager v2 dialect (`/compat/acronis/api/task_manager/v2`,
app/compat/acronis.py) over plain HTTP against a real server process: the activity shape, the
state and result mapping, the filters (state, type, resultCode, time operators), the order,
paging with `after`, who sees what, and the errors."""

from __future__ import annotations

import random
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from app.compat.acronis import parse_time
from app.compat.common import micros, rfc3339
from tests.compat.support import (
    RUNNER,
    activity,
    failed_batch,
    finished_export,
    start,
    start_export,
)
from tests.support import create_user, make_channel

BASE = "/compat/acronis/api/task_manager/v2"



@pytest.fixture
async def four(compat_database: str, rest: httpx.AsyncClient) -> dict[str, Any]:
    """alice's four activities, one per outcome: completed and failed (run by a second server
    process, stopped before the others are made), cancelled and pending (never run)."""
    alice = await create_user(rest, "alice")
    channel = await make_channel(rest, alice)
    runner = start(compat_database, **RUNNER)
    try:
        async with httpx.AsyncClient(base_url=runner.url, timeout=60) as on_runner:
            completed = await finished_export(on_runner, alice, channel)
            failed = await failed_batch(on_runner, alice, channel)
    finally:
        runner.stop()
    cancelled = await start_export(rest, alice, channel)
    r = await rest.delete(f"/activities/{cancelled}", headers={"Authorization": alice})
    assert r.json()["state"] == "cancelled"
    pending = await start_export(rest, alice, channel)
    return {"alice": alice, "channel": channel, "completed": completed, "failed": failed,
            "cancelled": cancelled, "pending": pending}


async def items(rest: httpx.AsyncClient, credential: str, **params: Any) -> list[dict[str, Any]]:
    r = await rest.get(f"{BASE}/activities", params=params,
                       headers={"Authorization": f"Bearer {credential}"})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def uuids(found: list[dict[str, Any]]) -> list[str]:
    return [item["uuid"] for item in found]


def parse(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_the_shape_and_the_state_mapping(rest, four):
    alice = four["alice"]
    found = {item["uuid"]: item for item in await items(rest, alice)}
    assert set(found) == {four[k] for k in ("completed", "failed", "cancelled", "pending")}
    done = found[four["completed"]]
    native = await activity(rest, alice, four["completed"])
    assert done["id"] == uuid.UUID(native["id"]).int >> 65
    assert done["idString"] == str(done["id"])
    assert (done["type"], done["state"]) == ("channel.export", "completed")
    assert done["result"] == {"code": "ok", "payload": native["result"]["payload"]}
    assert done["context"] == {"channelId": four["channel"], "title": native["title"]}
    assert done["startedByUser"] == "alice"
    for name in ("createdAt", "startedAt", "completedAt", "updatedAt"):
        assert done[name].endswith("Z")
        assert parse(done[name]) == pytest.approx(native[name], abs=1e-5)
    failed = found[four["failed"]]
    assert (failed["type"], failed["state"]) == ("events.batch", "completed")
    assert failed["result"]["code"] == "error"
    assert failed["result"]["payload"]["id"] == "PERIODS_OVERLAP"
    cancelled = found[four["cancelled"]]
    assert (cancelled["state"], cancelled["result"]) == ("completed",
                                                        {"code": "cancelled", "payload": None})
    assert cancelled["cancelRequested"] is True
    pending = found[four["pending"]]
    assert pending["state"] == "enqueued"
    assert "result" not in pending and "startedAt" not in pending


async def test_filters_state_result_code_and_type(rest, four):
    alice = four["alice"]
    assert uuids(await items(rest, alice, state="enqueued")) == [four["pending"]]
    assert set(uuids(await items(rest, alice, state="completed"))) == {
        four["completed"], four["failed"], four["cancelled"]}
    assert await items(rest, alice, state="started") == []
    assert uuids(await items(rest, alice, resultCode="ok")) == [four["completed"]]
    assert set(uuids(await items(rest, alice, resultCode="error,cancelled"))) == {
        four["failed"], four["cancelled"]}
    assert uuids(await items(rest, alice, type="events.batch")) == [four["failed"]]
    assert uuids(await items(rest, alice, type="channel.export", resultCode="ok")) == [
        four["completed"]]
    assert uuids(await items(rest, alice, uuid=four["pending"])) == [four["pending"]]


async def test_time_operators_and_order(rest, four):
    alice = four["alice"]
    newest_first = await items(rest, alice)
    assert uuids(newest_first) == [four["pending"], four["cancelled"], four["failed"],
                                   four["completed"]]
    assert uuids(await items(rest, alice, order="asc(createdAt)")) == uuids(newest_first)[::-1]
    cancelled_at = next(i for i in newest_first if i["uuid"] == four["cancelled"])["completedAt"]
    after_failed = next(i for i in newest_first if i["uuid"] == four["failed"])["completedAt"]
    assert uuids(await items(rest, alice, completedAt=f"gt({after_failed})")) == [
        four["cancelled"]]
    assert uuids(await items(rest, alice, completedAt=f"lt({after_failed})")) == [
        four["completed"]]
    assert set(uuids(await items(rest, alice, completedAt=f"le({after_failed})"))) == {
        four["completed"], four["failed"]}
    # Both ends, and a bare time for equality.
    both = {"completedAt": [f"ge({after_failed})", f"le({cancelled_at})"]}
    r = await rest.get(f"{BASE}/activities", params=both, headers={"Authorization": alice})
    assert set(uuids(r.json()["items"])) == {four["failed"], four["cancelled"]}
    assert uuids(await items(rest, alice, completedAt=cancelled_at)) == [four["cancelled"]]
    # Unix seconds and nanoseconds are times too.
    finished = {four["completed"], four["failed"], four["cancelled"]}
    seconds = int(parse(cancelled_at)) + 1  # after every end
    assert set(uuids(await items(rest, alice, completedAt=f"lt({seconds})"))) == finished
    assert await items(rest, alice, completedAt=f"gt({seconds})") == []
    assert set(uuids(await items(rest, alice, completedAt=f"lt({seconds * 10**9}ns)"))) == (
        finished)
    # Unset times sort as oldest: the pending one comes last when ordered by startedAt.
    assert uuids(await items(rest, alice, order="desc(startedAt)"))[-1] in {
        four["pending"], four["cancelled"]}
    assert uuids(await items(rest, alice, order="asc(completedAt)"))[0] == four["pending"]


async def test_paging_with_after(rest, four):
    alice = four["alice"]
    every = uuids(await items(rest, alice, order="asc(createdAt)"))
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3, "order": "asc(createdAt)"}
    pages = 0
    while True:
        r = await rest.get(f"{BASE}/activities", params=params, headers={"Authorization": alice})
        assert r.status_code == 200, r.text
        body = r.json()
        seen += uuids(body["items"])
        pages += 1
        after = body["paging"]["cursors"].get("after")
        if after is None:
            break
        params = {"limit": 3, "after": after}
    assert (seen, pages) == (every, 2)
    # A page token carries its query: with filters beside it, it is refused.
    r = await rest.get(f"{BASE}/activities", params={"limit": 1, "order": "asc(createdAt)"},
                       headers={"Authorization": alice})
    token = r.json()["paging"]["cursors"]["after"]
    r = await rest.get(f"{BASE}/activities", params={"after": token, "state": "completed"},
                       headers={"Authorization": alice})
    assert r.status_code == 400
    # A filtered list pages within its filter.
    r = await rest.get(f"{BASE}/activities", params={"limit": 1, "state": "completed"},
                       headers={"Authorization": alice})
    first = r.json()
    r = await rest.get(f"{BASE}/activities",
                       params={"limit": 5, "after": first["paging"]["cursors"]["after"]},
                       headers={"Authorization": alice})
    rest_of_it = uuids(r.json()["items"])
    assert len(rest_of_it) == 2 and four["pending"] not in rest_of_it
    assert r.json()["paging"]["cursors"] == {}


async def test_who_sees_what(rest, four):
    bob = await create_user(rest, "bob")
    root = await create_user(rest, "root", admin=True)
    assert await items(rest, bob) == []
    assert len(await items(rest, root)) == 4


@pytest.mark.parametrize(("params", "param"), [
    ({"state": "sleeping"}, "state"),
    ({"resultCode": "fine"}, "resultCode"),
    ({"completedAt": "gt(yesterday)"}, "completedAt"),
    ({"completedAt": "gt(2026-01-01T00:00:00)"}, "completedAt"),  # no zone
    ({"order": "desc(title)"}, "order"),
    ({"order": "sideways(createdAt)"}, "order"),
    ({"limit": "0"}, "limit"),
    ({"limit": "1001"}, "limit"),
    ({"after": "garbage"}, "after"),
    ({"uuid": "not-a-uuid"}, "uuid"),
    ({"colour": "blue"}, "colour"),
])
async def test_bad_queries_are_400(rest, params, param):
    alice = await create_user(rest, "alice")
    r = await rest.get(f"{BASE}/activities", params=params, headers={"Authorization": alice})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["id"] == "INVALID_PARAMETERS_FORMAT"
    assert error["data"]["params"] == [param]


async def test_without_credentials_401(rest):
    r = await rest.get(f"{BASE}/activities")
    assert r.status_code == 401
    assert r.json()["error"]["id"] == "INVALID_TOKEN"
    r = await rest.get(f"{BASE}/activities", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


async def test_a_time_compares_to_the_microsecond_it_is_shown_with(pool):
    """The time filters round a stored time as the items show it: a time read from an item
    and given back always matches that item (rounding `t * 1e6` whole gave another microsecond
    for about one time in eight)."""
    times = [1_764_623_678 + random.random() for _ in range(20_000)]
    async with pool.acquire() as conn:
        rounded = await conn.fetchval(
            """SELECT array_agg(floor(t)::bigint * 1000000
                                + round((t - floor(t)) * 1000000)::bigint ORDER BY n)
               FROM unnest($1::float8[]) WITH ORDINALITY AS u(t, n)""",
            times,
        )
    assert rounded == [micros(t) for t in times]
    assert all(micros(parse_time("t", rfc3339(t))) == micros(t) for t in times)
