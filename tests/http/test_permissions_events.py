"""Permissions of shared tokens on every events and attachments route, table-driven (docs/api.md §2
Token, §3).

The world of tests/http/test_permissions_folders.py (a channel with A · A/A1 · A/A1/A1x · B · B/B1,
the same credentials and the same levels written out by hand), with events in it: a mark in
every folder and one off any folder (the channel's root), a finished period in every folder, a
file on every mark. Every route is called on every event and folder, and its answer compared
with what the level allows: reading needs `read-only` over the event's folder, every change
needs `events-write` (over the old and the new folder when an event moves; a root grant for a
mark without folder). An event the credential cannot read answers 404 `UNKNOWN_EVENT`, a folder
it cannot read given as a parameter 400 `UNKNOWN_FOLDER`, exactly like ones that do not exist;
and nothing outside the grants appears in any answer, through any query parameter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.http.permission_layout import FOLDERS, LEVELS, PARENTS, grant_world
from tests.support import auth, error_id

N, R, W, M = 0, 1, 2, 3  # none, read-only, events-write, manage (as in the folders' table)
PLACES: list[str | None] = [None, *FOLDERS]  # None: off any folder (the channel's root)
PERIOD = 500.0  # seconds, the length of each folder's period
FILE = b"the note's content"
# Event moves tried by every credential: (folder of the mark moved, new folder; None = root).
MOVES = [("A1", "B"), ("A1x", "A"), ("B1", "A1"), ("A", None), (None, "A1x"), ("A1x", "A1")]


@dataclass
class World:
    session: str
    channel: str
    who: str
    credential: str
    ids: dict[str, str]  # folder name -> id
    base: float  # events of the world lie after it, in the past
    marks: dict[str | None, str] = field(default_factory=dict)  # place -> event id
    periods: dict[str, str] = field(default_factory=dict)  # folder name -> event id

    def level(self, place: str | None) -> int:
        return LEVELS[self.who][0 if place is None else 1 + FOLDERS.index(place)]

    def folder(self, place: str | None) -> str | None:
        return None if place is None else self.ids[place]

    def url(self, rest: str = "") -> str:
        return f"/{self.channel}/events{rest}"

    def events(self) -> dict[str, str | None]:
        """Every event of the world: id -> place."""
        return {**{e: p for p, e in self.marks.items()}, **{e: p for p, e in self.periods.items()}}

    def readable(self, within: set[str | None] | None = None) -> set[str]:
        return {e for e, p in self.events().items()
                if self.level(p) >= R and (within is None or p in within)}

    def unreadable(self) -> set[str]:
        return set(self.events()) - self.readable()

    def subtree(self, name: str) -> set[str | None]:
        below = {name}
        for child, parent in PARENTS.items():
            if parent == name:
                below |= self.subtree(child)
        return below


@pytest.fixture(params=list(LEVELS))
async def world(request, client: httpx.AsyncClient, session: str) -> World:
    who = request.param
    owner = auth(session)
    channel, ids, credential = await grant_world(client, session, who)
    world = World(session, channel, who, credential, ids, base=time.time() - 10 * 86400)
    common = {"tags": ["t"], "value": {"type": "mass:kg", "value": 1}, "comment": "secret"}
    for i, place in enumerate(PLACES):
        r = await client.post(world.url(), headers=owner, json={
            **common, "time": world.base + i, "folderId": world.folder(place)})
        assert r.status_code == 201, r.text
        world.marks[place] = r.json()["id"]
        r = await client.post(world.url(f"/{world.marks[place]}"), headers=owner,
                              files={"f": ("note.txt", FILE, "text/plain")})
        assert r.status_code == 200, r.text
    for i, name in enumerate(FOLDERS):
        r = await client.post(world.url(), headers=owner, json={
            **common, "time": world.base + 1000 * (i + 1), "duration": PERIOD,
            "folderId": ids[name]})
        assert r.status_code == 201, r.text
        world.periods[name] = r.json()["id"]
    return world


def expect(r: httpx.Response, world: World, outcome: tuple[int, str | None], what: str) -> None:
    got = (r.status_code, error_id(r) if r.status_code >= 400 else None)
    assert got == outcome, f"{world.who}: {what}: {r.status_code} {r.text[:300]}"


def writes_nowhere(world: World, needed: int) -> bool:
    """A change asked of a credential holding that level nowhere in the channel: refused before
    its body or the items it names are looked at (app/identity/folder_access.py
    `require_anywhere`)."""
    return needed >= W and max(LEVELS[world.who]) < needed


def on_event(world: World, place: str | None, needed: int, ok: int) -> tuple[int, str | None]:
    """The answer of a route on an event of `place` that needs `needed` over it."""
    if world.who == "other channel only":
        return (404, "UNKNOWN_CHANNEL")
    if writes_nowhere(world, needed):
        return (403, "FORBIDDEN")
    level = world.level(place)
    if level < R:
        return (404, "UNKNOWN_EVENT")
    if level < needed:
        return (403, "FORBIDDEN")
    return (ok, None)


def in_folder(world: World, place: str | None, needed: int, ok: int) -> tuple[int, str | None]:
    """The answer of a route that names folder `place` (None: no folder) as a parameter."""
    if world.who == "other channel only":
        return (404, "UNKNOWN_CHANNEL")
    if writes_nowhere(world, needed):
        return (403, "FORBIDDEN")
    level = world.level(place)
    if place is not None and level < R:
        return (400, "UNKNOWN_FOLDER")
    if level < needed:
        return (403, "FORBIDDEN")
    return (ok, None)


def no_trace_outside(world: World, r: httpx.Response, what: str) -> None:
    """Nothing of the events or folders outside the grants appears in the answer."""
    outside = world.unreadable() | {
        world.ids[n] for n in FOLDERS if world.level(n) < R}
    leaked = [x for x in outside if x in r.text]
    assert not leaked, f"{world.who}: {what}: {leaked} in {r.text[:300]}"


async def _owner_running(client: httpx.AsyncClient, world: World) -> list[str]:
    r = await client.get(world.url("/running"), headers=auth(world.session))
    return [e["id"] for e in r.json()]


# --- reading ----------------------------------------------------------------------------------


async def test_reading(client: httpx.AsyncClient, world: World) -> None:
    """The query (with every kind of parameter), one event, the files, the time counts."""
    cred = auth(world.credential)
    scoped_out = world.who == "other channel only"
    everyone = world.readable()
    queries: list[dict[str, Any]] = [
        {}, {"state": "all"}, {"sortAscending": "true", "limit": "1000"},
        {"fromTime": str(world.base - 1)},
        {"fromTime": str(world.base - 1), "toTime": str(time.time())},
        {"modifiedSince": "0"}, {"types": "mass:*"}, {"types": "mass:kg"}, {"tags": "t"},
    ]
    for params in queries:
        r = await client.get(world.url(), params=params, headers=cred)
        if scoped_out:
            expect(r, world, (404, "UNKNOWN_CHANNEL"), f"GET /events {params}")
            continue
        expect(r, world, (200, None), f"GET /events {params}")
        assert {e["id"] for e in r.json()} == everyone, (world.who, params)
        no_trace_outside(world, r, f"GET /events {params}")
    r = await client.get(world.url(), params={"state": "trashed"}, headers=cred)
    if not scoped_out:
        assert r.json() == [], world.who

    for name in FOLDERS:
        r = await client.get(world.url(), params={"onlyFolders": world.ids[name]}, headers=cred)
        expect(r, world, in_folder(world, name, R, 200), f"onlyFolders={name}")
        if r.status_code == 200:
            assert {e["id"] for e in r.json()} == world.readable(world.subtree(name)), name
    # Several folders, repeated or comma-separated: one outside refuses the whole query.
    for a, b in (("A", "B"), ("A1", "B1"), ("A1x", "A")):
        both = [world.ids[a], world.ids[b]]
        outcome = in_folder(world, a, R, 200)
        if outcome[0] == 200:
            outcome = in_folder(world, b, R, 200)
        for params in ({"onlyFolders": both}, {"onlyFolders": ",".join(both)}):
            r = await client.get(world.url(), params=params, headers=cred)
            expect(r, world, outcome, f"onlyFolders={a},{b}")
            if r.status_code == 200:
                wanted = world.readable(world.subtree(a) | world.subtree(b))
                assert {e["id"] for e in r.json()} == wanted, (a, b)

    for place in PLACES:
        for event_id in filter(None, (world.marks[place], world.periods.get(place or ""))):
            r = await client.get(world.url(f"/{event_id}"), headers=cred)
            expect(r, world, on_event(world, place, R, 200), f"GET event in {place}")
            if r.status_code == 200:
                assert r.json()["id"] == event_id and r.json()["folderId"] == world.folder(place)
        r = await client.get(world.url(f"/{world.marks[place]}/note.txt"), headers=cred)
        expect(r, world, on_event(world, place, R, 200), f"GET file of the mark in {place}")
        if r.status_code == 200:
            assert r.content == FILE

    r = await client.get("/channels", params={"timeCountBase": "0"}, headers=cred)
    assert r.status_code == 200, r.text
    counts = {c["id"]: c["timeCount"] for c in r.json()}
    if scoped_out:
        assert world.channel not in counts
    else:
        readable_folders = [n for n in FOLDERS if world.level(n) >= R]
        assert counts[world.channel] == pytest.approx(PERIOD * len(readable_folders)), world.who


# --- recording --------------------------------------------------------------------------------


async def test_recording(client: httpx.AsyncClient, world: World) -> None:
    """Marks and periods, by POST, by the GET form and in a batch, in every place."""
    cred = auth(world.credential)
    slot = world.base + 100_000  # free time, after the world's periods and before now
    for place in PLACES:
        folder = world.folder(place)
        outcome = in_folder(world, place, W, 201)
        r = await client.post(world.url(), headers=cred, json={"folderId": folder})
        expect(r, world, outcome, f"POST mark in {place}")
        params = {"comment": "by get"} | ({"folderId": folder} if folder else {})
        r = await client.get(world.url("/record"), params=params, headers=cred)
        expect(r, world, outcome, f"GET /record mark in {place}")
        if r.status_code == 201:
            r = await client.get(world.url(f"/{r.json()['id']}"), headers=auth(world.session))
            assert r.json()["folderId"] == folder and r.json()["comment"] == "by get"
        r = await client.post(world.url("/batch"), headers=cred, json={"events": [
            {"clientId": f"mark {place}", "time": slot, "folderId": folder}]})
        expect(r, world, in_folder(world, place, W, 200), f"batch mark in {place}")
        if place is None:
            continue
        slot += 100
        r = await client.post(world.url(), headers=cred, json={
            "folderId": folder, "time": slot, "duration": 10})
        expect(r, world, outcome, f"POST period in {place}")
        slot += 100
        r = await client.get(world.url("/record"), headers=cred, params={
            "folderId": folder, "time": str(slot), "duration": "10"})
        expect(r, world, outcome, f"GET /record period in {place}")
        slot += 100
        r = await client.post(world.url("/batch"), headers=cred, json={"events": [
            {"clientId": f"period {place}", "time": slot, "duration": 10, "folderId": folder}]})
        expect(r, world, in_folder(world, place, W, 200), f"batch period in {place}")
        slot += 100
    # A batch with one event where the credential may not write adds nothing at all.
    writable = [p for p in PLACES if world.level(p) >= W]
    barred = [p for p in PLACES if world.level(p) < W]
    if writable and barred and world.who != "other channel only":
        before = await client.get(world.url(), params={"state": "all", "limit": "1000"},
                                  headers=auth(world.session))
        r = await client.post(world.url("/batch"), headers=cred, json={"events": [
            {"clientId": "ok", "time": slot, "folderId": world.folder(writable[0])},
            {"clientId": "barred", "time": slot, "folderId": world.folder(barred[0])}]})
        expect(r, world, in_folder(world, barred[0], W, 200), "mixed batch")
        after = await client.get(world.url(), params={"state": "all", "limit": "1000"},
                                 headers=auth(world.session))
        assert after.json() == before.json()


async def test_starting_and_stopping(client: httpx.AsyncClient, world: World) -> None:
    """Start and stop (POST and GET forms), `running`, and stopping the owner's period."""
    cred, owner = auth(world.credential), auth(world.session)
    for name in FOLDERS:
        folder = world.ids[name]
        outcome = in_folder(world, name, W, 201)
        for form in ("POST", "GET"):
            if form == "POST":
                r = await client.post(world.url("/start"), json={"folderId": folder},
                                      headers=cred)
            else:
                r = await client.get(world.url("/start"), params={"folderId": folder},
                                     headers=cred)
            expect(r, world, outcome, f"{form} /start in {name}")
            if r.status_code != 201:
                continue
            started = r.json()["id"]
            r = await client.get(world.url("/running"), headers=cred)
            assert [e["id"] for e in r.json()] == [started]
            if form == "POST":
                r = await client.post(world.url("/stop"), json={}, headers=cred)
            else:
                r = await client.get(world.url("/stop"), headers=cred)
            assert (r.status_code, r.json()) == (200, {"stoppedId": started}), r.text
        assert await _owner_running(client, world) == []

        # The owner's running period, seen (or not) and stopped (or not) by the credential.
        r = await client.post(world.url("/start"), json={"folderId": folder}, headers=owner)
        running = r.json()["id"]
        r = await client.get(world.url("/running"), headers=cred)
        if world.who == "other channel only":
            expect(r, world, (404, "UNKNOWN_CHANNEL"), "GET /running")
        else:
            expect(r, world, (200, None), "GET /running")
            assert [e["id"] for e in r.json()] == ([running] if world.level(name) >= R else [])
        # Named: like any change of that event.
        r = await client.post(world.url("/stop"), json={"id": running}, headers=cred)
        expect(r, world, on_event(world, name, W, 200), f"stop {name} by id")
        if r.status_code != 200:
            # Unnamed: the latest running period the credential can read; none if it reads none.
            r = await client.post(world.url("/stop"), json={}, headers=cred)
            if world.who == "other channel only":
                expect(r, world, (404, "UNKNOWN_CHANNEL"), "stop")
            elif writes_nowhere(world, W):
                expect(r, world, (403, "FORBIDDEN"), "stop")
            elif world.level(name) < R:
                assert (r.status_code, r.json()) == (200, {"stoppedId": None}), r.text
            else:
                expect(r, world, (403, "FORBIDDEN"), f"stop {name}")
        if await _owner_running(client, world):
            r = await client.post(world.url("/stop"), json={}, headers=owner)
            assert r.json() == {"stoppedId": running}


# --- changing ---------------------------------------------------------------------------------


async def test_changing(client: httpx.AsyncClient, world: World) -> None:
    """Modify, move, add and delete files, trash and delete for good, in every place."""
    cred, owner = auth(world.credential), auth(world.session)
    for place in PLACES:
        mark = world.marks[place]
        outcome = on_event(world, place, W, 200)
        r = await client.post(world.url(f"/{mark}"), headers=cred,
                              files={"f": ("added.txt", b"added", "text/plain")})
        expect(r, world, outcome, f"add a file to the mark in {place}")
        if r.status_code == 200:
            assert set(r.json()["attachments"]) == {"note.txt", "added.txt"}
        r = await client.delete(world.url(f"/{mark}/note.txt"), headers=cred)
        expect(r, world, outcome, f"delete the file of the mark in {place}")
        if r.status_code == 200:
            assert "note.txt" not in r.json()["attachments"]
        r = await client.put(world.url(f"/{mark}"), json={"comment": world.who}, headers=cred)
        expect(r, world, outcome, f"modify the mark in {place}")
        if r.status_code == 200:
            assert r.json()["comment"] == world.who
        if place is not None:
            period = world.periods[place]
            r = await client.put(world.url(f"/{period}"), json={"duration": PERIOD / 2},
                                 headers=cred)
            expect(r, world, outcome, f"modify the period in {place}")

    for source, target in MOVES:
        mark = world.marks[source]
        outcome = on_event(world, source, W, 200)
        if outcome[0] == 200:  # the event is fine: now its new folder
            outcome = in_folder(world, target, W, 200)
        r = await client.put(world.url(f"/{mark}"), json={"folderId": world.folder(target)},
                             headers=cred)
        expect(r, world, outcome, f"move the mark of {source} to {target}")
        if r.status_code == 200:
            assert r.json()["folderId"] == world.folder(target)
            r = await client.put(world.url(f"/{mark}"), json={"folderId": world.folder(source)},
                                 headers=owner)
            assert r.status_code == 200, r.text
        else:
            r = await client.get(world.url(f"/{mark}"), headers=owner)
            assert r.json()["folderId"] == world.folder(source)

    for place in PLACES:
        mark = world.marks[place]
        outcome = on_event(world, place, W, 200)
        r = await client.delete(world.url(f"/{mark}"), headers=cred)
        expect(r, world, outcome, f"trash the mark in {place}")
        if r.status_code != 200:
            r = await client.get(world.url(f"/{mark}"), headers=owner)
            assert r.json()["trashed"] is False
            continue
        assert r.json()["trashed"] is True
        r = await client.delete(world.url(f"/{mark}"), headers=cred)
        expect(r, world, outcome, f"delete the mark in {place} for good")
        r = await client.get(world.url(f"/{mark}"), headers=owner)
        assert error_id(r) == "UNKNOWN_EVENT"
    # Deleting for good an event the owner trashed.
    for name in FOLDERS:
        period = world.periods[name]
        r = await client.delete(world.url(f"/{period}"), headers=owner)
        assert r.json()["trashed"] is True
        r = await client.delete(world.url(f"/{period}"), headers=cred)
        expect(r, world, on_event(world, name, W, 200), f"delete the period in {name}")


# --- what lies outside ------------------------------------------------------------------------

# Credentials that read some of the channel and not all of it.
SCOPED = [who for who, levels in LEVELS.items() if N in levels and max(levels) > N]


@pytest.mark.parametrize("world", SCOPED, indirect=True)
async def test_an_unreadable_event_answers_like_a_missing_one(
    client: httpx.AsyncClient, world: World
) -> None:
    """Same status, id and message for an event (or folder) outside the grants and one that
    does not exist, on every route that names one."""
    cred = auth(world.credential)
    assert world.level(None) < R  # scoped: the mark without folder is outside too
    fake = "z" * 25
    outside = sorted(world.unreadable())
    assert outside
    event_calls: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", "", {}, R), ("PUT", "", {"json": {"comment": "x"}}, W), ("DELETE", "", {}, W),
        ("POST", "", {"files": {"f": ("x.txt", b"x", "text/plain")}}, W),
        ("GET", "/note.txt", {}, R), ("DELETE", "/note.txt", {}, W),
    ]
    for event_id in outside:
        for method, rest, kwargs, needed in event_calls:
            outcome = (403, "FORBIDDEN") if writes_nowhere(world, needed) else (
                404, "UNKNOWN_EVENT")
            real = await client.request(method, world.url(f"/{event_id}{rest}"), headers=cred,
                                        **kwargs)
            none = await client.request(method, world.url(f"/{fake}{rest}"), headers=cred,
                                        **kwargs)
            assert (real.status_code, error_id(real)) == (none.status_code, error_id(none)) == (
                outcome), (method, rest, real.text)
            assert real.json()["error"]["message"].replace(event_id, fake) == (
                none.json()["error"]["message"])
        r = await client.post(world.url("/stop"), json={"id": event_id}, headers=cred)
        assert (r.status_code, error_id(r)) == (
            (403, "FORBIDDEN") if writes_nowhere(world, W) else (404, "UNKNOWN_EVENT"))

    hidden = [n for n in FOLDERS if world.level(n) < R]
    writable = [n for n in FOLDERS if world.level(n) >= W]
    for name in hidden:
        folder = world.ids[name]
        calls = [
            ("GET", "", {"params": {"onlyFolders": "{}"}}, R),
            ("POST", "", {"json": {"folderId": "{}"}}, W),
            ("POST", "", {"json": {"folderId": "{}", "time": world.base - 10, "duration": 1}}, W),
            ("GET", "/record", {"params": {"folderId": "{}"}}, W),
            ("POST", "/start", {"json": {"folderId": "{}"}}, W),
            ("GET", "/start", {"params": {"folderId": "{}"}}, W),
            ("POST", "/batch", {"json": {"events": [
                {"clientId": "c", "time": world.base, "folderId": "{}"}]}}, W),
        ]
        if writable:  # moving an event it may change into that folder
            calls.append(("PUT", f"/{world.marks[writable[0]]}", {"json": {"folderId": "{}"}},
                          W))
        for method, rest, kwargs, needed in calls:
            outcome = (403, "FORBIDDEN") if writes_nowhere(world, needed) else (
                400, "UNKNOWN_FOLDER")
            answers = []
            for name_or_fake in (folder, fake):
                filled = _fill(kwargs, name_or_fake)
                answers.append(await client.request(method, world.url(rest), headers=cred,
                                                    **filled))
            real, none = answers
            assert (real.status_code, error_id(real)) == (none.status_code, error_id(none)) == (
                outcome), (method, rest, real.text)
            assert real.json()["error"]["message"].replace(folder, fake) == (
                none.json()["error"]["message"]), (method, rest)


def _fill(value: Any, folder: str) -> Any:
    """`value` with every "{}" replaced by `folder`."""
    if value == "{}":
        return folder
    if isinstance(value, dict):
        return {k: _fill(v, folder) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, folder) for v in value]
    return value


@pytest.mark.parametrize("world", [w for w in SCOPED if any(
    level >= W for level in LEVELS[w])], indirect=True)
async def test_the_period_rules_tell_nothing_of_what_lies_outside(
    client: httpx.AsyncClient, world: World
) -> None:
    """A period clashing with one outside the grants is refused without naming it; a start (or
    a later period) that would have to stop a running period outside the grants is refused as a
    change of that period (403), without naming it; so is a start before a later period."""
    cred, owner = auth(world.credential), auth(world.session)
    mine = next(n for n in FOLDERS if world.level(n) >= W)
    theirs = next(n for n in FOLDERS if world.level(n) < R)
    # Overlapping the period of a folder outside: refused, the id not given.
    overlapped = world.periods[theirs]
    start = world.base + 1000 * (FOLDERS.index(theirs) + 1) + 100
    for method, rest, kwargs in (
        ("POST", "", {"json": {"folderId": world.ids[mine], "time": start, "duration": 10}}),
        ("POST", "/batch", {"json": {"events": [
            {"clientId": "c", "folderId": world.ids[mine], "time": start, "duration": 10}]}}),
    ):
        r = await client.request(method, world.url(rest), headers=cred, **kwargs)
        assert (r.status_code, error_id(r)) == (400, "PERIODS_OVERLAP"), r.text
        assert overlapped not in r.text, r.text
    # The owner's running period, outside: a start (or a later period) cannot stop it.
    r = await client.post(world.url("/start"), json={"folderId": world.ids[theirs]},
                          headers=owner)
    running = r.json()["id"]
    for method, rest, kwargs in (
        ("POST", "/start", {"json": {"folderId": world.ids[mine]}}),
        ("GET", "/start", {"params": {"folderId": world.ids[mine]}}),
        ("POST", "", {"json": {"folderId": world.ids[mine], "time": time.time() + 60,
                               "duration": 10}}),
        ("POST", "/batch", {"json": {"events": [{"clientId": "c", "folderId": world.ids[mine],
                                                 "time": time.time() + 60, "duration": 10}]}}),
    ):
        r = await client.request(method, world.url(rest), headers=cred, **kwargs)
        assert (r.status_code, error_id(r)) == (403, "FORBIDDEN"), (method, rest, r.text)
        assert running not in r.text, r.text
    assert await _owner_running(client, world) == [running]
    # A period outside at a later time: starting one now is refused without naming it.
    await client.post(world.url("/stop"), json={}, headers=owner)
    r = await client.post(world.url(), headers=owner, json={
        "folderId": world.ids[theirs], "time": time.time() + 3600, "duration": 10})
    later = r.json()["id"]
    r = await client.post(world.url("/start"), json={"folderId": world.ids[mine]}, headers=cred)
    assert (r.status_code, error_id(r)) == (400, "INVALID_OPERATION"), r.text
    assert later not in r.text, r.text
