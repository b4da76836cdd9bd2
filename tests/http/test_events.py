"""Events (docs/api.md §3): record, start, stop, running, the GET forms, modify, trash and delete
for good, every query parameter, and the period rules (also under concurrency). The pure rules of
`app/domain/events.py` are in tests/unit/test_events.py.

Permissions of shared tokens are in `test_permissions_events.py`; batches in
`test_events_batch.py`; attachments in `test_attachments.py`.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from typing import Any

import asyncpg
import httpx
import pytest

from tests.reliability.invariants import rebuild_differences
from tests.support import auth, error_id

HOUR = 3600.0
T0 = 1_700_000_000.0  # a fixed past moment, so that times never meet "now"


# --- helpers ----------------------------------------------------------------------------------


class Api:
    """The events routes of one channel, as the session sees them."""

    def __init__(self, client: httpx.AsyncClient, credential: str, channel: str) -> None:
        self.client = client
        self.headers = auth(credential)
        self.channel = channel

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(
            method, f"/{self.channel}{path}", headers=self.headers, **kwargs
        )

    async def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        r = await self.call(method, path, **kwargs)
        assert r.status_code == status, r.text
        return r.json()

    async def refused(self, method: str, path: str, status: int, error: str, **kwargs) -> Any:
        r = await self.call(method, path, **kwargs)
        assert (r.status_code, error_id(r)) == (status, error), r.text
        return r.json()["error"]

    async def record(self, **event: Any) -> dict[str, Any]:
        return await self.ok("POST", "/events", 201, json=event)

    async def period(self, folder: str, start: float, duration: float, **more: Any) -> str:
        answer = await self.record(folderId=folder, time=start, duration=duration, **more)
        return answer["id"]

    async def start(self, **body: Any) -> dict[str, Any]:
        return await self.ok("POST", "/events/start", 201, json=body)

    async def get(self, event_id: str) -> dict[str, Any]:
        return await self.ok("GET", f"/events/{event_id}")

    async def query(self, **params: Any) -> list[dict[str, Any]]:
        return await self.ok("GET", "/events", params=params)

    async def ids(self, **params: Any) -> list[str]:
        return [e["id"] for e in await self.query(**params)]

    async def folder(self, name: str, parent: str | None = None) -> str:
        path = "/folders" + (f"/{parent}" if parent else "")
        return (await self.ok("POST", path, 201, json={"name": name}))["id"]


async def new_channel(client: httpx.AsyncClient, session: str, **fields: Any) -> str:
    r = await client.post("/channels", json={"name": "Work", **fields}, headers=auth(session))
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture
async def api(client: httpx.AsyncClient, session: str) -> Api:
    return Api(client, session, await new_channel(client, session))


@pytest.fixture
async def folder(api: Api) -> str:
    return await api.folder("Projects")


# --- record -----------------------------------------------------------------------------------


async def test_a_mark_event_round_trip(api: Api) -> None:
    before = time.time()
    answer = await api.record(
        value={"type": "mass:kg", "value": 72.5}, comment="morning", tags=["health", "health"],
        clientId="phone-1", clientData={"app": {"v": 1}},
    )
    assert set(answer) == {"id"}
    event = await api.get(answer["id"])
    assert before <= event["time"] <= time.time()
    assert "duration" not in event  # a mark
    assert event["folderId"] is None  # always present
    assert event["value"] == {"type": "mass:kg", "value": 72.5}
    assert event["tags"] == ["health"]
    assert (event["comment"], event["clientId"]) == ("morning", "phone-1")
    assert event["clientData"] == {"app": {"v": 1}}
    assert (event["attachments"], event["trashed"]) == ({}, False)
    assert event["channelId"] == api.channel


async def test_absent_values_stay_absent(api: Api) -> None:
    event = await api.get((await api.record(time=T0))["id"])
    for key in ("value", "comment", "clientId", "duration"):
        assert key not in event


async def test_a_finished_period(api: Api, folder: str) -> None:
    event = await api.get(await api.period(folder, T0, HOUR))
    assert (event["time"], event["duration"], event["folderId"]) == (T0, HOUR, folder)


async def test_record_refusals(api: Api, folder: str) -> None:
    await api.refused("POST", "/events", 400, "MISSING_FOLDER", json={"time": T0, "duration": 5})
    await api.refused("POST", "/events", 400, "INVALID_OPERATION",
                      json={"folderId": folder, "duration": None})
    await api.refused("POST", "/events", 400, "UNKNOWN_FOLDER",
                      json={"folderId": "nope", "duration": 5})
    await api.refused("POST", "/events", 400, "UNKNOWN_FOLDER", json={"folderId": "nope"})
    for bad in ({"duration": 0, "folderId": folder}, {"duration": -1, "folderId": folder},
                {"time": "now"}, {"tags": "a"}, {"tags": [1]}, {"value": {"type": "kg"}},
                {"value": {"type": "mass:kg"}}, {"value": {"type": "mass:kg", "value": [1]}},
                {"comment": 3}, {"clientData": []}, {"folderId": "../x"}, {"id": "mine"},
                {"unknown": 1}, {"clientId": ""}, {"time": 1e300}):
        error = await api.refused("POST", "/events", 400, "INVALID_PARAMETERS_FORMAT", json=bad)
        assert error["data"]["params"], bad
    await api.refused("POST", "/events", 400, "INVALID_REQUEST_STRUCTURE", content=b"[1, 2]")
    await api.refused("POST", "/events", 400, "INVALID_REQUEST_STRUCTURE", content=b"{oops")
    r = await api.client.post("/nope/events", json={}, headers=api.headers)
    assert (r.status_code, error_id(r)) == (404, "UNKNOWN_CHANNEL")
    assert await api.query(state="all") == []  # nothing was half-written


async def test_client_ids_are_unique_per_channel(api: Api, client, session) -> None:
    await api.record(clientId="c1")
    error = await api.refused("POST", "/events", 400, "ITEM_ID_ALREADY_EXISTS",
                              json={"clientId": "c1"})
    assert error["data"] == {"clientIds": ["c1"]}
    other = Api(client, session, await new_channel(client, session, name="Other"))
    await other.record(clientId="c1")  # another channel: free


# --- start, stop, running ---------------------------------------------------------------------


async def test_start_then_start_again_stops_the_first(api: Api, folder: str) -> None:
    first = await api.start(folderId=folder, time=T0)
    assert set(first) == {"id"}
    assert (await api.get(first["id"]))["duration"] is None
    second = await api.start(folderId=folder, time=T0 + 90)
    assert second["stoppedId"] == first["id"]
    assert (await api.get(first["id"]))["duration"] == 90
    running = await api.ok("GET", "/events/running")
    assert [e["id"] for e in running] == [second["id"]]


async def test_start_defaults_to_now(api: Api, folder: str) -> None:
    before = time.time()
    event = await api.get((await api.start(folderId=folder))["id"])
    assert before <= event["time"] <= time.time()


async def test_start_refusals(api: Api, folder: str) -> None:
    later = await api.period(folder, T0 + HOUR, 60)
    error = await api.refused("POST", "/events/start", 400, "INVALID_OPERATION",
                              json={"folderId": folder, "time": T0})
    assert error["data"] == {"conflictingEventId": later}
    inside = await api.refused("POST", "/events/start", 400, "PERIODS_OVERLAP",
                               json={"folderId": folder, "time": T0 + HOUR + 30})
    assert inside["data"] == [later]
    await api.refused("POST", "/events/start", 400, "MISSING_FOLDER", json={"time": T0})
    await api.refused("POST", "/events/start", 400, "INVALID_PARAMETERS_FORMAT",
                      json={"folderId": folder, "duration": 5})
    # Starting at the very start of the running period is starting before a later one.
    running = await api.start(folderId=folder, time=T0 + 2 * HOUR)
    error = await api.refused("POST", "/events/start", 400, "INVALID_OPERATION",
                              json={"folderId": folder, "time": T0 + 2 * HOUR})
    assert error["data"] == {"conflictingEventId": running["id"]}


async def test_stop(api: Api, folder: str) -> None:
    assert await api.ok("POST", "/events/stop") == {"stoppedId": None}
    started = await api.start(folderId=folder, time=T0)
    await api.refused("POST", "/events/stop", 400, "INVALID_OPERATION", json={"time": T0 - 1})
    assert await api.ok("POST", "/events/stop", json={"time": T0 + 30}) == {
        "stoppedId": started["id"]}
    assert (await api.get(started["id"]))["duration"] == 30
    assert await api.ok("GET", "/events/running") == []
    assert await api.ok("POST", "/events/stop") == {"stoppedId": None}
    mark = (await api.record())["id"]
    await api.refused("POST", "/events/stop", 400, "INVALID_OPERATION", json={"id": mark})
    await api.refused("POST", "/events/stop", 404, "UNKNOWN_EVENT", json={"id": "nope"})


async def test_the_get_forms(api: Api, folder: str) -> None:
    started = await api.ok("GET", "/events/start", 201,
                           params={"folderId": folder, "time": T0, "comment": "via curl",
                                   "tags": "a,b"})
    event = await api.get(started["id"])
    assert (event["comment"], event["tags"], event["duration"]) == ("via curl", ["a", "b"], None)
    assert await api.ok("GET", "/events/stop", params={"time": T0 + 60}) == {
        "stoppedId": started["id"]}
    recorded = await api.ok("GET", "/events/record", 201,
                            params={"valueType": "count:steps", "value": "1200",
                                    "time": T0 + 100})
    assert (await api.get(recorded["id"]))["value"] == {"type": "count:steps", "value": 1200}
    text = await api.ok("GET", "/events/record", 201,
                        params={"valueType": "note:txt", "value": "hello"})
    assert (await api.get(text["id"]))["value"] == {"type": "note:txt", "value": "hello"}
    period = await api.ok("GET", "/events/record", 201,
                          params={"folderId": folder, "time": T0 + 200, "duration": "30"})
    assert (await api.get(period["id"]))["duration"] == 30
    await api.refused("GET", "/events/record", 400, "INVALID_PARAMETERS_FORMAT",
                      params={"time": "yesterday"})
    await api.refused("GET", "/events/start", 400, "MISSING_FOLDER")
    # The credential may come as `auth`, which is no event field.
    r = await api.client.get(f"/{api.channel}/events/record",
                             params={"auth": api.headers["Authorization"]})
    assert r.status_code == 201, r.text


# --- the period rules -------------------------------------------------------------------------


async def test_overlaps_are_refused_with_the_overlapped_ids(api: Api, folder: str) -> None:
    a = await api.period(folder, T0, 100)
    b = await api.period(folder, T0 + 200, 100)
    await api.period(folder, T0 + 100, 100)  # touching both ends is fine
    error = await api.refused("POST", "/events", 400, "PERIODS_OVERLAP",
                              json={"folderId": folder, "time": T0 + 50, "duration": 200})
    assert error["data"][0] == a and b in error["data"]
    many = [await api.period(folder, T0 + 10 * HOUR + n * 10, 10) for n in range(11)]
    error = await api.refused("POST", "/events", 400, "PERIODS_OVERLAP",
                              json={"folderId": folder, "time": T0 + 10 * HOUR,
                                    "duration": 110})
    assert error["data"] == "too many"
    error = await api.refused("POST", "/events", 400, "PERIODS_OVERLAP",
                              json={"folderId": folder, "time": T0 + 10 * HOUR,
                                    "duration": 100})
    assert error["data"] == many[:10]


async def test_marks_never_take_part(api: Api, folder: str) -> None:
    await api.period(folder, T0, 100)
    await api.record(folderId=folder, time=T0 + 50)
    await api.start(folderId=folder, time=T0 + 100)
    await api.record(time=T0 + 150)


async def test_recording_after_the_running_start_stops_it(api: Api, folder: str) -> None:
    running = await api.start(folderId=folder, time=T0)
    answer = await api.record(folderId=folder, time=T0 + 100, duration=50)
    assert answer["stoppedId"] == running["id"]
    assert (await api.get(running["id"]))["duration"] == 100


async def test_recording_before_the_running_one(api: Api, folder: str) -> None:
    running = await api.start(folderId=folder, time=T0 + HOUR)
    answer = await api.record(folderId=folder, time=T0, duration=HOUR)
    assert "stoppedId" not in answer
    error = await api.refused("POST", "/events", 400, "PERIODS_OVERLAP",
                              json={"folderId": folder, "time": T0 + 1, "duration": HOUR})
    assert error["data"][-1] == running["id"]


async def test_no_rules_without_enforcement(client, session) -> None:
    api = Api(client, session, await new_channel(client, session,
                                                 enforceNoEventsOverlap=False))
    folder = await api.folder("F")
    await api.period(folder, T0, 100)
    await api.period(folder, T0 + 50, 100)
    first = await api.start(folderId=folder, time=T0)
    second = await api.start(folderId=folder, time=T0 + 10)
    assert "stoppedId" not in second
    running = await api.ok("GET", "/events/running")
    assert [e["id"] for e in running] == [second["id"], first["id"]]
    assert (await api.ok("POST", "/events/stop"))["stoppedId"] == second["id"]
    assert (await api.ok("POST", "/events/stop", json={"id": first["id"], "time": T0 + 20})
            )["stoppedId"] == first["id"]


async def test_the_rules_hold_under_concurrency(client, session, pool: asyncpg.Pool) -> None:
    """Many concurrent starts, records and modifications at one channel: afterwards no two
    periods overlap and at most one runs, and it is the latest."""
    api = Api(client, session, await new_channel(client, session))
    folders = [await api.folder(f"F{n}") for n in range(3)]
    rng = random.Random(7)
    created: list[str] = []

    async def writer(n: int) -> None:
        for _ in range(15):
            choice = rng.random()
            start = T0 + rng.uniform(0, 2 * HOUR)
            if choice < 0.35:
                r = await api.call("POST", "/events/start",
                                   json={"folderId": rng.choice(folders), "time": start})
            elif choice < 0.7:
                r = await api.call("POST", "/events", json={
                    "folderId": rng.choice(folders), "time": start,
                    "duration": rng.uniform(1, 600)})
            elif choice < 0.8:
                r = await api.call("POST", "/events/stop",
                                   json={"time": start + rng.uniform(0, HOUR)})
            elif created:
                target = rng.choice(created)
                change: dict[str, Any] = rng.choice([
                    {"time": start}, {"duration": rng.uniform(1, 900)}, {"duration": None},
                    {"trashed": False}, {"trashed": True}])
                r = await api.call("PUT", f"/events/{target}", json=change)
            else:
                continue
            assert r.status_code in (200, 201, 400), r.text
            if r.status_code == 201:
                created.append(r.json()["id"])

    await asyncio.gather(*(writer(n) for n in range(12)))
    rows = await pool.fetch(
        """SELECT event_id, time, end_time FROM events
           WHERE channel_id = $1 AND kind = 'period' AND NOT trashed ORDER BY time""",
        api.channel,
    )
    assert len(created) >= 5 and rows  # the writers did make periods
    for a, b in itertools.pairwise(rows):
        assert a["end_time"] is not None and a["end_time"] <= b["time"], (dict(a), dict(b))
    running = [r for r in rows if r["end_time"] is None]
    assert len(running) <= 1
    async with pool.acquire() as conn:
        assert await rebuild_differences(conn) == {}


# --- modify -----------------------------------------------------------------------------------


async def test_modify_fields(api: Api, folder: str) -> None:
    event_id = (await api.record(comment="x", value={"type": "note:txt", "value": "a"},
                                 clientData={"a": 1, "b": 2}, tags=["t"]))["id"]
    before = await api.get(event_id)
    changed = await api.ok("PUT", f"/events/{event_id}", json={
        "comment": None, "value": None, "clientData": {"a": None, "c": 3}, "tags": [],
        "folderId": folder, "time": T0})
    assert "comment" not in changed and "value" not in changed
    assert (changed["clientData"], changed["tags"], changed["folderId"], changed["time"]) == (
        {"b": 2, "c": 3}, [], folder, T0)
    assert changed["modified"] >= before["modified"]
    assert await api.get(event_id) == changed
    await api.refused("PUT", f"/events/{event_id}", 400, "INVALID_OPERATION",
                      json={"duration": 5})  # a mark has no duration
    await api.refused("PUT", f"/events/{event_id}", 400, "UNKNOWN_FOLDER",
                      json={"folderId": "nope"})
    await api.refused("PUT", f"/events/{event_id}", 400, "INVALID_PARAMETERS_FORMAT",
                      json={"created": 1})
    await api.refused("PUT", "/events/nope", 404, "UNKNOWN_EVENT", json={})


async def test_modify_periods_under_the_rules(api: Api, folder: str) -> None:
    a = await api.period(folder, T0, 100)
    b = await api.period(folder, T0 + 200, 100)
    error = await api.refused("PUT", f"/events/{a}", 400, "PERIODS_OVERLAP",
                              json={"duration": 250})
    assert error["data"] == [b]
    error = await api.refused("PUT", f"/events/{a}", 400, "INVALID_OPERATION",
                              json={"duration": None})
    assert error["data"] == {"conflictingEventId": b}
    await api.refused("PUT", f"/events/{a}", 400, "MISSING_FOLDER", json={"folderId": None})
    assert (await api.ok("PUT", f"/events/{a}", json={"duration": 200}))["duration"] == 200
    # b becomes the running one; then moving a after it stops b there.
    assert (await api.ok("PUT", f"/events/{b}", json={"duration": None}))["duration"] is None
    changed = await api.ok("PUT", f"/events/{a}", json={"time": T0 + 500, "duration": 10})
    assert changed["stoppedId"] == b
    assert (await api.get(b))["duration"] == 300


async def test_restoring_is_under_the_rules(api: Api, folder: str) -> None:
    a = await api.period(folder, T0, 100)
    await api.ok("DELETE", f"/events/{a}")
    b = await api.period(folder, T0 + 50, 100)  # the trashed one does not count
    error = await api.refused("PUT", f"/events/{a}", 400, "PERIODS_OVERLAP",
                              json={"trashed": False})
    assert error["data"] == [b]


# --- trash and delete -------------------------------------------------------------------------


async def test_trash_then_delete_for_good(api: Api, pool: asyncpg.Pool) -> None:
    event_id = (await api.record(time=T0))["id"]
    trashed = await api.ok("DELETE", f"/events/{event_id}")
    assert trashed["trashed"] is True and trashed["id"] == event_id
    assert await api.ids(fromTime=T0 - 1, toTime=T0 + 1) == []
    assert await api.ids(fromTime=T0 - 1, toTime=T0 + 1, state="trashed") == [event_id]
    restored = await api.ok("PUT", f"/events/{event_id}", json={"trashed": False})
    assert restored["trashed"] is False
    await api.ok("DELETE", f"/events/{event_id}")
    assert await api.ok("DELETE", f"/events/{event_id}") == {"eventDeletion": {"id": event_id}}
    await api.refused("GET", f"/events/{event_id}", 404, "UNKNOWN_EVENT")
    await api.refused("DELETE", f"/events/{event_id}", 404, "UNKNOWN_EVENT")
    types = [r["type"] for r in await pool.fetch(
        "SELECT type FROM event_log WHERE data ->> 'channelId' = $1 AND type LIKE 'event.%' "
        "ORDER BY position", api.channel)]
    assert types == ["event.created", "event.trashed", "event.updated", "event.trashed",
                     "event.deleted"]


async def test_folder_deletion_merges_or_deletes_events(api: Api) -> None:
    parent = await api.folder("Parent")
    child = await api.folder("Child", parent)
    moved = (await api.record(folderId=child, time=T0))["id"]
    await api.ok("DELETE", f"/folders/{child}")
    await api.ok("DELETE", f"/folders/{child}", params={"mergeEventsWithParent": "true"})
    assert (await api.get(moved))["folderId"] == parent
    await api.ok("DELETE", f"/folders/{parent}")
    await api.refused("DELETE", f"/folders/{parent}", 400, "MISSING_PARAMETER")
    await api.ok("DELETE", f"/folders/{parent}", params={"mergeEventsWithParent": "false"})
    await api.refused("GET", f"/events/{moved}", 404, "UNKNOWN_EVENT")


# --- the query --------------------------------------------------------------------------------


async def test_default_query_is_the_latest_20_newest_first(api: Api) -> None:
    ids = [(await api.record(time=T0 + n))["id"] for n in range(25)]
    assert await api.ids() == ids[::-1][:20]
    assert await api.ids(limit=5) == ids[::-1][:5]
    assert await api.ids(limit=5, skip=3) == ids[::-1][3:8]
    assert await api.ids(sortAscending="true", fromTime=T0, limit=3) == ids[:3]
    future = (await api.record(time=time.time() + HOUR))["id"]
    assert future not in await api.ids()  # toTime defaults to now


async def test_time_ranges_match_spans(api: Api, folder: str) -> None:
    across = await api.period(folder, T0 - 100, 200)  # begins before the range, ends inside
    inside = (await api.record(time=T0 + 50))["id"]
    after = (await api.record(time=T0 + 500))["id"]
    long_ago = (await api.record(time=T0 - 2 * 86400))["id"]
    assert await api.ids(fromTime=T0, toTime=T0 + 100) == [inside, across]
    assert set(await api.ids(fromTime=T0, toTime=T0 + 1000)) == {inside, across, after}
    # toTime alone: the 24 hours before it.
    assert long_ago not in await api.ids(toTime=T0 + 1000)
    assert set(await api.ids(toTime=T0 + 1000)) == {inside, across, after}
    # fromTime alone: up to now, no default limit.
    assert len(await api.ids(fromTime=T0 - 3 * 86400)) == 4
    running = (await api.start(folderId=folder, time=T0 + 600))["id"]
    assert running in await api.ids(fromTime=time.time() - 1)  # a running one reaches now


async def test_state_and_modified_since(api: Api) -> None:
    kept = (await api.record(time=T0))["id"]
    gone = (await api.record(time=T0 + 1))["id"]
    mark = time.time()
    await asyncio.sleep(0.01)
    await api.ok("DELETE", f"/events/{gone}")
    span = {"fromTime": T0 - 1, "toTime": T0 + 2}
    assert await api.ids(**span) == [kept]
    assert await api.ids(**span, state="trashed") == [gone]
    assert await api.ids(**span, state="all") == [gone, kept]
    assert await api.ids(modifiedSince=mark) == [gone]  # trashed ones included
    assert await api.ids(modifiedSince=mark, state="default") == []


async def test_only_folders_with_descendants(api: Api) -> None:
    a = await api.folder("A")
    a1 = await api.folder("A1", a)
    b = await api.folder("B")
    in_a = (await api.record(folderId=a, time=T0))["id"]
    in_a1 = (await api.record(folderId=a1, time=T0 + 1))["id"]
    in_b = (await api.record(folderId=b, time=T0 + 2))["id"]
    nowhere = (await api.record(time=T0 + 3))["id"]
    span = {"fromTime": T0 - 1, "toTime": T0 + 10}
    assert await api.ids(**span) == [nowhere, in_b, in_a1, in_a]
    assert await api.ids(**span, onlyFolders=a) == [in_a1, in_a]
    assert await api.ids(**span, onlyFolders=a1) == [in_a1]
    assert await api.ids(**span, onlyFolders=f"{a1},{b}") == [in_b, in_a1]
    r = await api.client.get(f"/{api.channel}/events", headers=api.headers,
                             params=[("onlyFolders", a1), ("onlyFolders", b), *span.items()])
    assert [e["id"] for e in r.json()] == [in_b, in_a1]
    error = await api.refused("GET", "/events", 400, "UNKNOWN_FOLDER",
                              params={"onlyFolders": "nope"})
    assert "nope" in error["message"]


async def test_types_and_tags(api: Api) -> None:
    kg = (await api.record(time=T0, value={"type": "mass:kg", "value": 70}, tags=["a"]))["id"]
    lb = (await api.record(time=T0 + 1, value={"type": "mass:lb", "value": 150},
                           tags=["b", "c"]))["id"]
    note = (await api.record(time=T0 + 2, value={"type": "note:txt", "value": "x"}))["id"]
    span = {"fromTime": T0 - 1, "toTime": T0 + 10}
    assert await api.ids(**span, types="mass:kg") == [kg]
    assert await api.ids(**span, types="mass:*") == [lb, kg]
    assert await api.ids(**span, types="mass:kg,note:txt") == [note, kg]
    assert await api.ids(**span, tags="c,a") == [lb, kg]
    assert await api.ids(**span, tags="zzz") == []
    assert await api.ids(**span, types="ma_s:*") == []  # LIKE characters are plain text


async def test_bad_query_parameters(api: Api) -> None:
    for params in ({"limit": "-1"}, {"limit": "x"}, {"skip": "-2"}, {"fromTime": "x"},
                   {"toTime": "nan"}, {"state": "gone"}, {"sortAscending": "perhaps"},
                   {"types": "kg"}, {"modifiedSince": "inf"}):
        error = await api.refused("GET", "/events", 400, "INVALID_PARAMETERS_FORMAT",
                                  params=params)
        assert error["data"]["params"] == list(params), params


async def test_channel_deletion_takes_the_events(api: Api, pool: asyncpg.Pool) -> None:
    await api.record(time=T0)
    r = await api.client.delete(f"/channels/{api.channel}", headers=api.headers)
    assert r.status_code == 200, r.text
    r = await api.client.delete(f"/channels/{api.channel}", headers=api.headers)
    assert r.status_code in (200, 202), r.text
    for _ in range(100):
        if not await pool.fetchval("SELECT count(*) FROM events"):
            break
        await asyncio.sleep(0.1)
    assert await pool.fetchval("SELECT count(*) FROM events") == 0
