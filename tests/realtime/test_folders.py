"""Event and folder changes routed by folder (docs/api.md §7): a `folder` subscription gets the
changes of that folder and its descendants only; a folder-scoped shared token gets only what
lies in its granted subtrees (never a mark without folder, never another folder), on both
transports; trashing and deleting events, and deleting a folder tree for good, are routed by
where the item was.

Every scenario writes the changes a subscriber must not get BEFORE the last one it must get:
once that last one has arrived, anything routed wrongly would have arrived before it.

The channel's tree:  A ── A1 ── A11      B      (and marks without folder, at the root)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.realtime.clients import WAIT, SseStream, ws_change, ws_connect, ws_subscribe
from tests.realtime.support import create_token, log_ids
from tests.support import auth, make_channel


@dataclass
class Tree:
    channel: str
    A: str
    A1: str
    A11: str
    B: str


async def _post(rest: httpx.AsyncClient, credential: str, path: str, body: dict[str, Any],
                status: int = 201) -> dict[str, Any]:
    r = await rest.post(path, json=body, headers=auth(credential))
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture
async def tree(rest, alice) -> Tree:
    channel = await make_channel(rest, alice, "Work")

    async def folder(name: str, parent: str | None = None) -> str:
        path = f"/{channel}/folders" + (f"/{parent}" if parent else "")
        return (await _post(rest, alice, path, {"name": name}))["id"]

    a = await folder("A")
    a1 = await folder("A1", a)
    a11 = await folder("A11", a1)
    b = await folder("B")
    return Tree(channel, a, a1, a11, b)


class Writer:
    """Writes through REST with alice's session; remembers the log id of each change."""

    def __init__(self, rest: httpx.AsyncClient, session: str, channel: str, pool) -> None:
        self.rest, self.session, self.channel, self.pool = rest, session, channel, pool

    async def last_id(self) -> str:
        return (await log_ids(self.pool, prefix=""))[-1]

    async def event(self, folder: str | None, **fields: Any) -> str:
        body = {"time": time.time(), "folderId": folder, **fields}
        return (await _post(self.rest, self.session, f"/{self.channel}/events", body))["id"]

    async def update_event(self, event: str, **fields: Any) -> None:
        r = await self.rest.put(f"/{self.channel}/events/{event}", json=fields,
                                headers=auth(self.session))
        assert r.status_code == 200, r.text

    async def delete_event(self, event: str) -> None:
        r = await self.rest.delete(f"/{self.channel}/events/{event}", headers=auth(self.session))
        assert r.status_code == 200, r.text

    async def folder(self, name: str, parent: str | None) -> str:
        path = f"/{self.channel}/folders" + (f"/{parent}" if parent else "")
        return (await _post(self.rest, self.session, path, {"name": name}))["id"]

    async def delete_folder(self, folder: str, **params: str) -> int:
        r = await self.rest.delete(f"/{self.channel}/folders/{folder}", params=params,
                                   headers=auth(self.session))
        if r.status_code == 202:  # deleting for good is an activity: wait for its end
            location = r.headers["location"]
            async with asyncio.timeout(WAIT):
                while r.status_code == 202 or r.json().get("state") not in (
                        "completed", "failed", "cancelled"):
                    await asyncio.sleep(0.1)
                    r = await self.rest.get(location, headers=auth(self.session))
            assert r.json()["state"] == "completed", r.text
            return 200
        assert r.status_code == 200, r.text
        return r.status_code

    async def types_and_ids_since(self, start: str) -> list[tuple[str, str]]:
        """The log's event and folder records after `start`: [(type, id)] in the log's order."""
        tx_id, position = start.split(".")
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT type, tx_id::text || '.' || position AS id FROM event_log
                   WHERE (type LIKE 'event.%' OR type LIKE 'folder.%')
                     AND (tx_id, position) > ($1::text::xid8, $2::bigint)
                   ORDER BY tx_id, position""",
                tx_id,
                int(position),
            )
        return [(r["type"], r["id"]) for r in rows]


@pytest.fixture
def writer(rest, alice, tree, pool) -> Writer:
    return Writer(rest, alice, tree.channel, pool)


class Subscribers:
    """One SSE stream and one WebSocket subscription per name, all from `since` on; reads the
    data changes (activity progress of a tree deletion is not what these tests look at)."""

    def __init__(self, rest: httpx.AsyncClient, ws_url: str, stack: AsyncExitStack) -> None:
        self.rest, self.ws_url, self.stack = rest, ws_url, stack
        self.sse: dict[str, SseStream] = {}
        self.ws: dict[str, Any] = {}

    async def open(self, name: str, credential: str, since: str, **filt: Any) -> None:
        params = {k: v for k, v in filt.items()}
        self.sse[name] = await self.stack.enter_async_context(SseStream(
            self.rest, "/stream", params=params,
            headers={**auth(credential), "Last-Event-ID": since}))
        ws = await self.stack.enter_async_context(await ws_connect(self.ws_url + "/ws",
                                                                   credential))
        await ws_subscribe(ws, since=since, **filt)
        self.ws[name] = ws

    async def received(self, name: str, count: int) -> tuple[list[tuple[str, str]], list]:
        """The first `count` data changes on each transport: [(type, id)] (the same on both,
        or the test fails) and the SSE messages."""
        sse: list[dict[str, Any]] = []
        ws: list[dict[str, Any]] = []
        async with asyncio.timeout(WAIT):
            while len(sse) < count:
                frame = await self.sse[name].change()
                assert frame.event != "close", frame.data
                if not frame.event.startswith("activity."):
                    sse.append(frame.data)
            while len(ws) < count:
                message = await ws_change(self.ws[name])
                assert message.get("op") != "error", message
                if not message["type"].startswith("activity."):
                    ws.append(message)
        pairs = [(m["type"], m["id"]) for m in sse]
        assert [(m["type"], m["id"]) for m in ws] == pairs, name
        assert [{k: v for k, v in m.items() if k != "subscription"} for m in ws] == sse
        return pairs, sse


@pytest.fixture
async def subscribers(rest, server) -> AsyncIterator[Subscribers]:
    async with AsyncExitStack() as stack:
        yield Subscribers(rest, server.ws_url, stack)


def only(written: list[tuple[str, str]], ids: set[str]) -> list[tuple[str, str]]:
    return [(t, i) for t, i in written if i in ids]


async def test_a_folder_subscription_gets_its_subtree_only(rest, alice, tree, writer,
                                                           subscribers):
    start = await writer.last_id()
    await subscribers.open("A", alice, start, channel=tree.channel, folder=tree.A)
    await subscribers.open("A1", alice, start, channel=tree.channel, folder=tree.A1)
    await subscribers.open("A1+B", alice, start, channel=tree.channel, folder=[tree.A1, tree.B])
    await subscribers.open("all", alice, start, channel=tree.channel)

    marks = {}
    marks["root"] = await writer.event(None)
    marks["B"] = await writer.event(tree.B)
    marks["A11"] = await writer.event(tree.A11)
    marks["A1"] = await writer.event(tree.A1, duration=60)
    await writer.update_event(marks["B"], comment="not for A")
    await writer.folder("B2", tree.B)
    await writer.folder("A12", tree.A1)
    marks["A"] = await writer.event(tree.A, tags=["last"])
    written = await writer.types_and_ids_since(start)
    assert len(written) == 8

    ids = {log_id for _type, log_id in written}
    b_side = {written[i][1] for i in (1, 4, 5)}  # B's event, its update, B's new folder
    a_side = {written[i][1] for i in (2, 3, 6, 7)}  # A11, A1, A1's new folder, A
    a1_side = {written[i][1] for i in (2, 3, 6)}
    got, sse = await subscribers.received("A", 4)
    assert got == only(written, a_side)
    assert [m["data"].get("folderId") or m["data"]["parentId"] for m in sse] == [
        tree.A11, tree.A1, tree.A1, tree.A]
    assert (await subscribers.received("A1", 3))[0] == only(written, a1_side)
    assert (await subscribers.received("A1+B", 6))[0] == only(written, a1_side | b_side)
    assert (await subscribers.received("all", 8))[0] == only(written, ids)


async def test_a_folder_scoped_token_gets_its_granted_subtrees_only(rest, alice, tree, writer,
                                                                    subscribers):
    on_a1 = (await create_token(rest, alice, "A1 app", {tree.channel: tree.A1}))["token"]
    r = await rest.post("/tokens", headers=auth(alice), json={"name": "A11 and B app",
        "permissions": [{"channelId": tree.channel, "folderPermissions": [
            {"folderId": tree.A11, "type": "read-only"},
            {"folderId": tree.B, "type": "events-write"}]}]})
    assert r.status_code == 201, r.text
    on_a11_and_b = r.json()["token"]
    start = await writer.last_id()
    # With no filter: everything the token may read (its own activities included).
    await subscribers.open("A1", on_a1, start)
    await subscribers.open("A11+B", on_a11_and_b, start)
    # A folder filter narrows a token's view further.
    await subscribers.open("A1 in A11", on_a1, start, channel=tree.channel, folder=tree.A11)

    await writer.event(None)  # a mark without folder: only a grant on the whole channel
    await writer.event(tree.A)
    b_event = await writer.event(tree.B)
    a11_event = await writer.event(tree.A11)
    await writer.event(tree.A1)
    await writer.update_event(b_event, comment="B")
    await writer.update_event(a11_event, folderId=tree.A1)  # moves out of A11, into A1
    await writer.folder("A13", tree.A1)
    await writer.event(tree.A11, tags=["last"])
    written = await writer.types_and_ids_since(start)
    assert len(written) == 9
    pick = lambda *positions: only(written, {written[i][1] for i in positions})  # noqa: E731

    assert (await subscribers.received("A1", 5))[0] == pick(3, 4, 6, 7, 8)
    assert (await subscribers.received("A11+B", 4))[0] == pick(2, 3, 5, 8)
    assert (await subscribers.received("A1 in A11", 2))[0] == pick(3, 8)


async def test_trashed_and_deleted_events_are_routed_by_their_folder(rest, alice, tree, writer,
                                                                     subscribers):
    token = (await create_token(rest, alice, "A app", {tree.channel: tree.A}))["token"]
    in_a1 = await writer.event(tree.A1)
    in_b = await writer.event(tree.B)
    at_root = await writer.event(None)
    start = await writer.last_id()
    await subscribers.open("token", token, start)
    await subscribers.open("folder A", alice, start, channel=tree.channel, folder=tree.A)
    await subscribers.open("all", alice, start, channel=tree.channel)

    for event in (at_root, in_b, in_a1):
        await writer.delete_event(event)  # trash
        await writer.delete_event(event)  # delete for good
    written = await writer.types_and_ids_since(start)
    assert [t for t, _i in written] == ["event.trashed", "event.deleted"] * 3

    for name in ("token", "folder A"):
        got, sse = await subscribers.received(name, 2)
        assert got == written[4:], name
        assert sse[1]["data"] == {"channelId": tree.channel, "eventId": in_a1,
                                  "folderId": tree.A1, "time": sse[1]["data"]["time"]}
    got, sse = await subscribers.received("all", 6)
    assert got == written
    assert [m["data"].get("eventId") or m["data"]["id"] for m in sse] == [
        at_root, at_root, in_b, in_b, in_a1, in_a1]


async def test_a_folder_deleted_for_good_reaches_its_subtree_and_ancestors(rest, alice, tree,
                                                                          writer, subscribers):
    on_a = (await create_token(rest, alice, "A app", {tree.channel: tree.A}))["token"]
    on_b = (await create_token(rest, alice, "B app", {tree.channel: tree.B}))["token"]
    await writer.event(tree.A11)
    start = await writer.last_id()
    await subscribers.open("token A", on_a, start)
    await subscribers.open("token B", on_b, start)
    await subscribers.open("folder A", alice, start, channel=tree.channel, folder=tree.A)
    await subscribers.open("folder A11", alice, start, channel=tree.channel, folder=tree.A11)
    await subscribers.open("folder B", alice, start, channel=tree.channel, folder=tree.B)

    await writer.delete_folder(tree.A1)  # trash A1 (A11 stays as it is)
    await writer.delete_folder(tree.A1, mergeEventsWithParent="false")  # A1 and A11 for good
    await writer.event(tree.B, tags=["last"])
    written = await writer.types_and_ids_since(start)
    assert [t for t, _i in written] == ["folder.trashed", "folder.deleted", "event.created"]

    for name in ("token A", "folder A"):
        got, sse = await subscribers.received(name, 2)
        assert got == written[:2], name
        deleted = sse[1]["data"]
        assert sorted(deleted["folderIds"]) == sorted([tree.A1, tree.A11])
        assert deleted["parentId"] == tree.A
    # A subscription to a folder inside the deleted tree learns that its folder is gone.
    got, sse = await subscribers.received("folder A11", 1)
    assert got == written[1:2]
    for name in ("token B", "folder B"):
        assert (await subscribers.received(name, 1))[0] == written[2:], name
