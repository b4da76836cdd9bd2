"""`POST /{channel}/events/batch` (docs/api.md §3): events recorded offline, added all or nothing.

Every refusal is checked together with its consequence: nothing of the batch was added (the
channel's events read back exactly as before). The period rules hold across the batch and what
the channel holds: `PERIODS_OVERLAP.data` lists the overlapped ids oldest first (a batch's own
events by their `clientId`), `"too many"` past 10; a running period is stopped by a batch period
after its start.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx
import pytest

from tests.support import auth, error_id

# Long enough for any batch of these tests: a batch is an activity, the request waits for it.
WAIT = {"Prefer": "wait=120"}


class Channel:
    def __init__(self, client: httpx.AsyncClient, session: str, channel: str, folder: str):
        self.client = client
        self.headers = auth(session)
        self.id = channel
        self.folder = folder
        self.base = time.time() - 30 * 86400  # the events of the tests lie after it, in the past

    async def batch(self, events: list[Any]) -> httpx.Response:
        r = await self.client.post(f"/{self.id}/events/batch", json={"events": events},
                                   headers={**self.headers, **WAIT})
        while r.status_code == 202:  # still running after the wait: follow the activity
            await asyncio.sleep(0.2)
            activity = await self.client.get(f"/activities/{r.json()['id']}",
                                              headers=self.headers)
            if activity.json()["state"] in ("completed", "failed", "cancelled"):
                r = await self.client.post(f"/{self.id}/events/batch", json={"events": events},
                                           headers={**self.headers, **WAIT})
        return r

    async def record(self, **event: Any) -> str:
        r = await self.client.post(f"/{self.id}/events", json=event, headers=self.headers)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    async def period(self, start: float, end: float) -> str:
        """A finished period of the channel over [base + start, base + end]."""
        return await self.record(time=self.base + start, duration=end - start,
                                 folderId=self.folder)

    async def events(self) -> list[dict[str, Any]]:
        r = await self.client.get(f"/{self.id}/events", headers=self.headers, params={
            "state": "all", "fromTime": "0", "sortAscending": "true", "limit": "100000"})
        assert r.status_code == 200, r.text
        return r.json()

    async def get(self, event_id: str) -> dict[str, Any]:
        r = await self.client.get(f"/{self.id}/events/{event_id}", headers=self.headers)
        assert r.status_code == 200, r.text
        return r.json()


async def _channel(client: httpx.AsyncClient, session: str, **fields: Any) -> Channel:
    r = await client.post("/channels", json={"name": "Work", **fields}, headers=auth(session))
    channel = r.json()["id"]
    r = await client.post(f"/{channel}/folders", json={"name": "Projects"}, headers=auth(session))
    assert r.status_code == 201, r.text
    return Channel(client, session, channel, r.json()["id"])


@pytest.fixture
async def ch(client: httpx.AsyncClient, session: str) -> Channel:
    return await _channel(client, session)


def mark(ch: Channel, client_id: str, at: float, **fields: Any) -> dict[str, Any]:
    return {"clientId": client_id, "time": ch.base + at, **fields}


def period(ch: Channel, client_id: str, start: float, end: float) -> dict[str, Any]:
    return {"clientId": client_id, "time": ch.base + start, "duration": end - start,
            "folderId": ch.folder}


async def refused(ch: Channel, events: list[Any], status: int, error: str) -> dict[str, Any]:
    """Posts the batch, checks the refusal, and that the channel is exactly as before."""
    before = await ch.events()
    r = await ch.batch(events)
    assert (r.status_code, error_id(r)) == (status, error), r.text
    assert await ch.events() == before
    return r.json()["error"]


# --- all or nothing, and the fields ---------------------------------------------------------


async def test_one_bad_event_adds_nothing_and_each_fault_is_named(ch: Channel) -> None:
    good = [mark(ch, "a", 1), mark(ch, "b", 2)]
    error = await refused(ch, [
        good[0], {**mark(ch, "c", 3), "tags": 5}, good[1],
        {**period(ch, "d", 10, 20), "duration": -1}, "not an event",
        {**mark(ch, "e", 4), "colour": "red"},
    ], 400, "INVALID_PARAMETERS_FORMAT")
    params = [s["data"]["param"] for s in error["subErrors"]]
    assert params == ["events[1].tags", "events[3].duration", "events[4]", "events[5].colour"]
    # The same good events alone are added.
    r = await ch.batch(good)
    assert r.status_code == 200, r.text
    assert [e["clientId"] for e in r.json()["addedEvents"]] == ["a", "b"]
    assert [e["clientId"] for e in await ch.events()] == ["a", "b"]


async def test_every_event_needs_a_client_id(ch: Channel) -> None:
    error = await refused(ch, [mark(ch, "a", 1), {"time": ch.base + 2},
                               mark(ch, "", 3)], 400, "INVALID_PARAMETERS_FORMAT")
    assert [s["data"]["param"] for s in error["subErrors"]] == [
        "events[1].clientId", "events[2].clientId"]


async def test_a_client_id_is_unique_in_the_batch(ch: Channel) -> None:
    error = await refused(ch, [mark(ch, "x", 1), mark(ch, "y", 2), mark(ch, "x", 3),
                               mark(ch, "z", 4), mark(ch, "y", 5)],
                          400, "ITEM_ID_ALREADY_EXISTS")
    assert error["data"] == {"clientIds": ["x", "y"]}


async def test_a_client_id_is_unique_in_the_channel(ch: Channel) -> None:
    await ch.record(time=ch.base, clientId="taken")
    r = await ch.batch([mark(ch, "first", 1)])
    assert r.status_code == 200, r.text
    error = await refused(ch, [mark(ch, "new", 2), mark(ch, "first", 3), mark(ch, "taken", 4)],
                          400, "ITEM_ID_ALREADY_EXISTS")
    assert error["data"] == {"clientIds": ["first", "taken"]}
    # A trashed event keeps its client id.
    first = next(e for e in await ch.events() if e.get("clientId") == "first")
    await ch.client.delete(f"/{ch.id}/events/{first['id']}", headers=ch.headers)
    error = await refused(ch, [mark(ch, "first", 5)], 400, "ITEM_ID_ALREADY_EXISTS")
    assert error["data"] == {"clientIds": ["first"]}


async def test_every_event_needs_its_time(ch: Channel) -> None:
    error = await refused(ch, [mark(ch, "a", 1), {"clientId": "b"}, mark(ch, "c", 2),
                               {"clientId": "d", "duration": 5, "folderId": ch.folder}],
                          400, "INVALID_TIME")
    assert error["data"] == {"clientIds": ["b", "d"]}


async def test_an_unknown_folder_refuses_the_batch(ch: Channel) -> None:
    error = await refused(ch, [mark(ch, "a", 1, folderId=ch.folder),
                               mark(ch, "b", 2, folderId="no-such-folder")],
                          400, "UNKNOWN_FOLDER")
    assert "no-such-folder" in error["message"]


async def test_a_period_needs_a_folder(ch: Channel) -> None:
    await refused(ch, [mark(ch, "a", 1), {**period(ch, "b", 10, 20), "folderId": None}],
                  400, "MISSING_FOLDER")
    await refused(ch, [mark(ch, "a", 1), {"clientId": "c", "time": ch.base + 30,
                                          "duration": 10}], 400, "MISSING_FOLDER")


async def test_a_batch_records_finished_periods_only(ch: Channel) -> None:
    error = await refused(ch, [{**period(ch, "a", 10, 20), "duration": None}],
                          400, "INVALID_PARAMETERS_FORMAT")
    assert [s["data"]["param"] for s in error["subErrors"]] == ["events[0].duration"]


async def test_an_empty_or_malformed_body(ch: Channel) -> None:
    r = await ch.batch([])
    assert (r.status_code, r.json()) == (200, {"addedEvents": []})
    for body in ({}, {"events": "x"}, {"events": [], "more": 1}):
        r = await ch.client.post(f"/{ch.id}/events/batch", json=body, headers=ch.headers)
        assert r.status_code == 400, (body, r.text)
    assert await ch.events() == []


# --- the period rules -----------------------------------------------------------------------


async def test_overlapping_the_channels_periods(ch: Channel) -> None:
    e1 = await ch.period(100, 200)
    e2 = await ch.period(300, 400)
    e3 = await ch.period(500, 600)
    error = await refused(ch, [mark(ch, "m", 150), period(ch, "p", 150, 350)],
                          400, "PERIODS_OVERLAP")
    assert error["data"] == [e1, "p", e2]
    # Touching ends are fine; marks never take part.
    r = await ch.batch([period(ch, "a", 200, 300), period(ch, "b", 400, 500),
                        mark(ch, "m", 550)])
    assert r.status_code == 200, r.text
    # One inside another.
    error = await refused(ch, [period(ch, "c", 510, 520)], 400, "PERIODS_OVERLAP")
    assert error["data"] == [e3, "c"]


async def test_overlaps_within_the_batch_are_named_by_client_id(ch: Channel) -> None:
    existing = await ch.period(0, 50)
    error = await refused(ch, [period(ch, "late", 300, 400), period(ch, "early", 100, 200),
                               period(ch, "middle", 150, 350), period(ch, "alone", 500, 600)],
                          400, "PERIODS_OVERLAP")
    assert error["data"] == ["early", "middle", "late"]
    # With the channel's too, oldest first.
    error = await refused(ch, [period(ch, "x", 40, 60), period(ch, "y", 55, 70)],
                          400, "PERIODS_OVERLAP")
    assert error["data"] == [existing, "x", "y"]


async def test_more_than_ten_overlapped_is_too_many(ch: Channel) -> None:
    """Every period of a clash is named, the batch's own included: ten names at most."""
    ids = [await ch.period(100 * i, 100 * i + 50) for i in range(11)]
    # Nine of the channel's and the batch's own: ten, all named, oldest first.
    error = await refused(ch, [period(ch, "short", 10, 100 * 8 + 10)], 400, "PERIODS_OVERLAP")
    assert error["data"] == [ids[0], "short", *ids[1:9]]
    # Ten of the channel's and the batch's own: too many.
    error = await refused(ch, [period(ch, "long", 10, 100 * 9 + 10)], 400, "PERIODS_OVERLAP")
    assert error["data"] == "too many"
    # Within the batch alone.
    error = await refused(ch, [period(ch, f"c{i}", 2000 + i, 2100) for i in range(11)],
                          400, "PERIODS_OVERLAP")
    assert error["data"] == "too many"


async def test_a_batch_period_after_the_running_one_stops_it(ch: Channel) -> None:
    start = time.time() - 3600
    r = await ch.client.post(f"/{ch.id}/events/start", headers=ch.headers,
                             json={"folderId": ch.folder, "time": start})
    running = r.json()["id"]
    # A period before it, overlapping its start: refused, the running one named.
    error = await refused(ch, [{"clientId": "across", "time": start - 60, "duration": 120,
                                "folderId": ch.folder}], 400, "PERIODS_OVERLAP")
    assert error["data"] == ["across", running]
    # A period before it, not touching it: added; the running one runs on.
    r = await ch.batch([{"clientId": "before", "time": start - 600, "duration": 60,
                         "folderId": ch.folder}])
    assert r.status_code == 200 and "stoppedId" not in r.json(), r.text
    assert (await ch.get(running))["duration"] is None
    # Periods after its start: it stops where the first of them begins.
    r = await ch.batch([
        {"clientId": "second", "time": start + 1900, "duration": 100, "folderId": ch.folder},
        {"clientId": "first", "time": start + 1800, "duration": 60, "folderId": ch.folder},
        {"clientId": "mark", "time": start + 1000},
    ])
    assert r.status_code == 200, r.text
    assert r.json()["stoppedId"] == running
    assert (await ch.get(running))["duration"] == pytest.approx(1800)
    r = await ch.client.get(f"/{ch.id}/events/running", headers=ch.headers)
    assert r.json() == []


async def test_a_channel_allowing_overlaps_takes_them(client: httpx.AsyncClient,
                                                      session: str) -> None:
    ch = await _channel(client, session, enforceNoEventsOverlap=False)
    await ch.period(100, 200)
    r = await ch.client.post(f"/{ch.id}/events/start", headers=ch.headers,
                             json={"folderId": ch.folder, "time": ch.base + 50})
    running = r.json()["id"]
    r = await ch.batch([period(ch, "a", 150, 350), period(ch, "b", 160, 170),
                        *[period(ch, f"p{i}", 120, 180) for i in range(12)]])
    assert r.status_code == 200, r.text
    assert "stoppedId" not in r.json()
    assert len(await ch.events()) == 1 + 1 + 14
    assert (await ch.get(running))["duration"] is None


# --- a big one ------------------------------------------------------------------------------


async def test_five_thousand_events_read_back_as_sent(ch: Channel) -> None:
    rng = random.Random(7)
    sent: list[dict[str, Any]] = []
    at = ch.base
    for i in range(5000):
        at += rng.uniform(1, 300)
        event: dict[str, Any] = {"clientId": f"offline-{i}", "time": at}
        if i % 3 == 0:
            event["duration"] = rng.uniform(0.5, 0.99)  # shorter than any gap: no overlap
            event["folderId"] = ch.folder
        elif i % 3 == 1:
            event["folderId"] = ch.folder
        if i % 2 == 0:
            event["value"] = {"type": "mass:kg", "value": round(rng.uniform(50, 90), 3)}
        if i % 5 == 0:
            event["comment"] = f"note {i} - été"
        if i % 7 == 0:
            event["tags"] = ["offline", f"t{i % 4}"]
        if i % 11 == 0:
            event["clientData"] = {"device": "phone", "n": i}
        sent.append(event)
    shuffled = sent[:]
    rng.shuffle(shuffled)  # the order of a batch is not the order of time
    r = await ch.batch(shuffled)
    assert r.status_code == 200, r.text[:300]
    added = r.json()["addedEvents"]
    assert [e["clientId"] for e in added] == [e["clientId"] for e in shuffled]
    assert len({e["id"] for e in added}) == 5000

    stored = await ch.events()
    assert len(stored) == 5000
    by_client = {e["clientId"]: e for e in stored}
    for event in sent:
        got = by_client[event["clientId"]]
        assert got["time"] == event["time"]
        assert got.get("duration", "absent") == event.get("duration", "absent")
        assert got["folderId"] == event.get("folderId")
        assert got.get("value") == event.get("value")
        assert got.get("comment") == event.get("comment")
        assert got["tags"] == event.get("tags", [])
        assert got["clientData"] == event.get("clientData", {})
        assert got["attachments"] == {} and got["trashed"] is False
    assert sorted(added, key=lambda e: e["id"]) == sorted(stored, key=lambda e: e["id"])


async def test_long_periods_of_a_batch_meet_any_time_range_within_them(ch: Channel) -> None:
    """A time-range query bounds `time` from below by the longest period and the earliest
    running start (app/read/events.py): a period that began long before `fromTime` and a
    period still running are found, a mark or period ending before it is not."""
    day = 86400.0
    r = await ch.batch([
        period(ch, "long", 0, 10 * day),
        period(ch, "short", 11 * day, 11 * day + 60),
        mark(ch, "early", 1 * day),
        mark(ch, "inside", 5 * day),
    ])
    assert r.status_code == 200, r.text
    r = await ch.client.post(f"/{ch.id}/events/start", headers=ch.headers,
                             json={"folderId": ch.folder, "time": ch.base + 12 * day})
    running = r.json()["id"]

    async def between(start: float, end: float) -> list[str]:
        r = await ch.client.get(f"/{ch.id}/events", headers=ch.headers, params={
            "fromTime": str(ch.base + start), "toTime": str(ch.base + end),
            "sortAscending": "true"})
        assert r.status_code == 200, r.text
        return [e.get("clientId", e["id"]) for e in r.json()]

    assert await between(4 * day, 6 * day) == ["long", "inside"]
    assert await between(9 * day, 9.5 * day) == ["long"]
    assert await between(10.5 * day, 11.5 * day) == ["short"]
    assert await between(20 * day, 20.5 * day) == [running]
    assert await between(2 * day, 2.5 * day) == ["long"]
