"""Finding 5 of the security issue, what errors tell: a shared token whose request clashes with
an item outside its grants (an id, a client id, a sibling's name) is refused, as ids and names
are unique, but the answer names only what the request gave and never describes the item that
holds it: not its kind, folder, id or name (docs/api.md §3.5).

The world: a channel with a folder `mine`, granted to the token (`manage`), and `hidden` beside
it at the channel's top, with a child and an event, none of which the token may read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support import auth, error_id

# What a message says when it describes the item that holds an id or a name.
_DESCRIBES_AN_ITEM = re.compile(r"(?i)\b(folders?|events?|exists?)\b")


@dataclass
class World:
    channel: str
    token: dict[str, str]
    hidden: dict[str, str]  # what lies outside the grants: name -> id or client id


@pytest.fixture
async def world(client: httpx.AsyncClient, session: str) -> World:
    owner = auth(session)
    r = await client.post("/channels", json={"name": "Shared"}, headers=owner)
    channel = r.json()["id"]

    async def folder(name: str, folder_id: str, parent: str | None = None) -> None:
        path = f"/{channel}/folders" + (f"/{parent}" if parent else "")
        r = await client.post(path, json={"id": folder_id, "name": name}, headers=owner)
        assert r.status_code == 201, r.text

    await folder("Mine", "mine")
    await folder("Hidden plans", "hidden-plans")
    await folder("Below", "hidden-below", "hidden-plans")
    r = await client.post(f"/{channel}/events", headers=owner, json={
        "folderId": "hidden-below", "clientId": "hidden-client-id", "comment": "secret"})
    assert r.status_code == 201, r.text
    event = r.json()["id"]
    r = await client.post("/tokens", headers=owner, json={"name": "scoped", "permissions": [
        {"channelId": channel, "folderPermissions": [{"folderId": "mine", "type": "manage"}]}]})
    return World(channel, auth(r.json()["token"]), {
        "folder": "hidden-plans", "child": "hidden-below", "event": event,
        "client id": "hidden-client-id", "name": "Hidden plans"})


def tells_nothing_of_the_holder(r: httpx.Response, expected: str, *own: str) -> None:
    """The refusal `expected`, whose message (past the request's own values) describes no item,
    and whose data holds only the request's own values."""
    assert (r.status_code, error_id(r)) == (400, expected), r.text
    error: dict[str, Any] = r.json()["error"]
    message = error["message"]
    for value in own:
        message = message.replace(repr(value), "")
    assert not _DESCRIBES_AN_ITEM.search(message), error["message"]
    assert set(_values(error.get("data"))) <= set(own), error


def _values(data: Any) -> list[Any]:
    if isinstance(data, dict):
        return [v for value in data.values() for v in _values(value)]
    if isinstance(data, list):
        return [v for value in data for v in _values(value)]
    return [] if data is None else [data]


async def test_a_folder_id_clash_outside_the_grants_does_not_reveal_the_folder(
    client: httpx.AsyncClient, world: World
) -> None:
    for taken in (world.hidden["folder"], world.hidden["child"]):
        r = await client.post(f"/{world.channel}/folders/mine", headers=world.token,
                              json={"id": taken, "name": "New"})
        tells_nothing_of_the_holder(r, "ITEM_ID_ALREADY_EXISTS", taken)
    # The same answer as for a clash with a folder the token can read: nothing tells them apart.
    r = await client.post(f"/{world.channel}/folders/mine", headers=world.token,
                          json={"id": "mine", "name": "New"})
    tells_nothing_of_the_holder(r, "ITEM_ID_ALREADY_EXISTS", "mine")


async def test_a_client_id_clash_outside_the_grants_does_not_reveal_the_event(
    client: httpx.AsyncClient, world: World
) -> None:
    taken = world.hidden["client id"]
    event = {"folderId": "mine", "clientId": taken, "time": 1000.0}
    for method, rest, body in (
        ("POST", "/events", event),
        ("POST", "/events/batch", {"events": [event]}),
    ):
        r = await client.request(method, f"/{world.channel}{rest}", headers=world.token,
                                 json=body)
        tells_nothing_of_the_holder(r, "ITEM_ID_ALREADY_EXISTS", taken)
        assert r.json()["error"]["data"] == {"clientIds": [taken]}
    # Taking it over by a change of one of its own events: refused alike.
    r = await client.post(f"/{world.channel}/events", headers=world.token,
                          json={"folderId": "mine", "clientId": "own"})
    own_event = r.json()["id"]
    r = await client.put(f"/{world.channel}/events/{own_event}", headers=world.token,
                         json={"clientId": taken})
    tells_nothing_of_the_holder(r, "ITEM_ID_ALREADY_EXISTS", taken)
    assert world.hidden["event"] not in r.text


async def test_a_folder_name_clash_outside_the_grants_does_not_reveal_the_folder(
    client: httpx.AsyncClient, world: World
) -> None:
    """`mine` is a top folder, like the hidden one: renaming it to the hidden one's name is
    refused (siblings' names are unique) without saying that a folder has the name, or where."""
    name = world.hidden["name"]
    r = await client.put(f"/{world.channel}/folders/mine", headers=world.token,
                         json={"name": name})
    tells_nothing_of_the_holder(r, "ITEM_NAME_ALREADY_EXISTS", name)
    assert world.hidden["folder"] not in r.text
