"""Permissions of shared tokens on every folder route, table-driven (docs/api.md §2 Token, §3).

The world (tests/http/permission_layout.py): a channel with A · A/A1 · A/A1/A1x · B · B/B1. Each
kind of credential holds some grants; `LEVELS` says, by hand, what level it holds over each folder
(inherited by descendants, the higher of two grants winning). Every route is then called on every
folder and its answer compared with what that level allows: reading needs `read-only`, every change
needs `manage` (on the new parent too for a move). A folder the credential cannot read answers like
a folder that does not exist, and nothing outside the grants appears in any answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.http.permission_layout import FOLDERS, LEVELS, PARENTS, M, N, R, grant_world
from tests.support import auth, error_id

# What `GET /{channel}/folders` shows each credential: its visible tops, then everything.
TOPS: dict[str, list[str]] = {
    "A read-only": ["A"],
    "A events-write": ["A"],
    "A manage": ["A"],
    "A read-only, A1 manage": ["A"],
    "A1 read-only, A manage": ["A"],
    "A events-write and A manage": ["A"],
    "A1 manage, B1 read-only": ["A1", "B1"],
}

# Moves tried by every credential: (folder, new parent or None for the root).
MOVES = [("A1", "B"), ("A1", None), ("B1", "A"), ("A1x", "A"), ("B1", "A1")]


@dataclass
class World:
    session: str
    channel: str
    ids: dict[str, str]  # name -> id
    credential: str

    def level(self, who: str, name: str | None) -> int:
        return LEVELS[who][0 if name is None else 1 + FOLDERS.index(name)]

    def path(self, name: str | None, rest: str = "") -> str:
        return f"/{self.channel}/folders" + (f"/{self.ids[name]}" if name else "") + rest


@pytest.fixture(params=list(LEVELS))
async def world(request, client: httpx.AsyncClient, session: str) -> World:
    who = request.param
    channel, ids, credential = await grant_world(client, session, who)
    world = World(session, channel, ids, credential)
    world.who = who  # type: ignore[attr-defined]
    return world


def expect(r: httpx.Response, who: str, outcome: tuple[int, str | None], what: str) -> None:
    got = (r.status_code, error_id(r) if r.status_code >= 400 else None)
    assert got == outcome, f"{who}: {what}: {r.status_code} {r.text[:300]}"


def access(world: World, who: str, name: str | None, needed: int, ok: int,
           missing: int = 404) -> tuple[int, str | None]:
    """The answer a route needing `needed` over folder `name` gives the credential."""
    if who == "other channel only":
        return (404, "UNKNOWN_CHANNEL")
    level = world.level(who, name)
    if name is not None and level < R:
        return (missing, "UNKNOWN_FOLDER")
    if level < needed:
        return (403, "FORBIDDEN")
    return (ok, None)


def outsiders(world: World, who: str) -> list[str]:
    return [world.ids[n] for n in FOLDERS if world.level(who, n) < R]


def visible_ids(folders: list[dict[str, Any]]) -> list[str]:
    out = []
    for f in folders:
        out.append(f["id"])
        out += visible_ids(f["children"])
    return out


async def test_reading_the_tree(client: httpx.AsyncClient, world: World) -> None:
    who = world.who  # type: ignore[attr-defined]
    for params in ({}, {"state": "all", "includeHidden": "true"}, {"state": "trashed"},
                   {"timeCountBase": "0"}):
        r = await client.get(world.path(None), params=params, headers=auth(world.credential))
        # The channel's top is readable to every credential that sees the channel at all.
        expect(r, who, access(world, who, None, N, 200), f"GET /folders {params}")
        if r.status_code != 200:
            continue
        shown = r.json()
        readable = [world.ids[n] for n in FOLDERS if world.level(who, n) >= R]
        if params.get("state") == "trashed":
            assert shown == [], who
            continue
        assert sorted(visible_ids(shown)) == sorted(readable), who
        tops = TOPS.get(who, ["A", "B"])
        assert [f["id"] for f in shown] == [world.ids[n] for n in tops], who
        # A top keeps its real `parentId` (an id that answers 404 like a missing folder); no
        # other trace of the folders outside the grants appears.
        links = {f["parentId"] for f in shown}
        for outside in outsiders(world, who):
            assert outside in links or outside not in r.text, who
    for name in FOLDERS:
        r = await client.get(world.path(name), headers=auth(world.credential))
        expect(r, who, access(world, who, name, R, 200), f"GET /folders/{name}")
        if r.status_code == 200:
            for outside in outsiders(world, who):
                assert outside not in r.text, who


async def test_creating(client: httpx.AsyncClient, world: World) -> None:
    who = world.who  # type: ignore[attr-defined]
    for name in [None, *FOLDERS]:
        r = await client.post(world.path(name), json={"name": f"new in {name}"},
                              headers=auth(world.credential))
        expect(r, who, access(world, who, name, M, 201), f"POST /folders/{name}")


async def test_modifying(client: httpx.AsyncClient, world: World) -> None:
    who = world.who  # type: ignore[attr-defined]
    for name in FOLDERS:
        r = await client.put(world.path(name), json={"clientData": {"by": who}},
                             headers=auth(world.credential))
        expect(r, who, access(world, who, name, M, 200), f"PUT /folders/{name}")
        if r.status_code == 200:
            assert r.json()["clientData"] == {"by": who}
            for outside in outsiders(world, who):
                assert outside in (r.json()["parentId"], None) or outside not in r.text, who


async def test_trashing_and_deleting(client: httpx.AsyncClient, world: World) -> None:
    who = world.who  # type: ignore[attr-defined]
    for name in FOLDERS:
        r = await client.delete(world.path(name), headers=auth(world.credential))
        outcome = access(world, who, name, M, 200)
        expect(r, who, outcome, f"DELETE /folders/{name}")
        if r.status_code != 200:
            continue
        assert r.json()["trashed"] is True
        # Restored by the owner, so the next folder starts from the same world.
        r = await client.put(world.path(name), json={"trashed": False},
                             headers=auth(world.session))
        assert r.status_code == 200, r.text
    # Deleting for good: B1, trashed by the owner first.
    r = await client.delete(world.path("B1"), headers=auth(world.session))
    assert r.status_code == 200
    r = await client.delete(world.path("B1"), headers=auth(world.credential))
    expect(r, who, access(world, who, "B1", M, 200), "DELETE /folders/B1 (trashed)")


async def test_moving(client: httpx.AsyncClient, world: World) -> None:
    who = world.who  # type: ignore[attr-defined]
    for name, parent in MOVES:
        target = world.ids[parent] if parent else None
        r = await client.post(world.path(name, "/move"), json={"parentId": target},
                              headers=auth(world.credential))
        outcome = access(world, who, name, M, 200)
        if outcome[0] == 200:  # the folder is fine: now the new parent
            outcome = access(world, who, parent, M, 200, missing=400)
        expect(r, who, outcome, f"move {name} to {parent}")
        if r.status_code == 200:
            assert r.json()["parentId"] == target
            r = await client.post(world.path(name, "/move"),
                                  json={"parentId": world.ids.get(PARENTS[name] or "")},
                                  headers=auth(world.session))
            assert r.status_code == 200, r.text


# Credentials that read some folders of the channel and not others.
SCOPED = [who for who, levels in LEVELS.items() if N in levels[1:] and max(levels) > N]


@pytest.mark.parametrize("world", SCOPED, indirect=True)
async def test_an_unreadable_folder_answers_like_a_missing_one(
    client: httpx.AsyncClient, world: World
) -> None:
    """Same status, id and message shape for a folder outside the grants and one that does not
    exist: the answer tells nothing about what lies outside."""
    who = world.who  # type: ignore[attr-defined]
    name = next(n for n in FOLDERS if world.level(who, n) < R)
    calls = [("GET", "", None), ("POST", "", {"name": "x"}), ("PUT", "", {}),
             ("DELETE", "", None), ("POST", "/move", {"parentId": None})]
    for method, rest, body in calls:
        real = await client.request(method, world.path(name, rest), json=body,
                                    headers=auth(world.credential))
        fake = await client.request(method, f"/{world.channel}/folders/{'z' * 25}{rest}",
                                    json=body, headers=auth(world.credential))
        assert (real.status_code, error_id(real)) == (fake.status_code, error_id(fake)) == (
            404, "UNKNOWN_FOLDER"), (method, rest)
        assert real.json()["error"]["message"].replace(world.ids[name], "z" * 25) == (
            fake.json()["error"]["message"])
    # As a move's new parent: 400 UNKNOWN_FOLDER, like a missing parent.
    mine = next(n for n in FOLDERS if world.level(who, n) == M) if any(
        world.level(who, n) == M for n in FOLDERS) else None
    if mine is not None:
        for parent in (world.ids[name], "z" * 25):
            r = await client.post(world.path(mine, "/move"), json={"parentId": parent},
                                  headers=auth(world.credential))
            assert (r.status_code, error_id(r)) == (400, "UNKNOWN_FOLDER")
