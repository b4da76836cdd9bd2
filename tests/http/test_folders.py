"""Folders (docs/api.md §3): the tree and its query parameters, create, modify, move, trash, delete
for good, and the records they leave in the log. The pure rules of `app/domain/folders.py` are
in tests/unit/test_folders.py.

Permissions of shared tokens are in `test_permissions_folders.py`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import httpx
import pytest

from app.domain.folders import MAX_DEPTH
from tests.reliability.invariants import rebuild_differences
from tests.support import auth, error_id

# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture
async def channel(client: httpx.AsyncClient, session: str) -> str:
    r = await client.post("/channels", json={"name": "Work"}, headers=auth(session))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def make(
    client: httpx.AsyncClient,
    credential: str,
    channel: str,
    name: str,
    parent: str | None = None,
    **fields: Any,
) -> str:
    path = f"/{channel}/folders" + (f"/{parent}" if parent else "")
    r = await client.post(path, json={"name": name, **fields}, headers=auth(credential))
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"id"}
    return r.json()["id"]


async def tree(
    client: httpx.AsyncClient, credential: str, channel: str, below: str | None = None, **params
) -> list[dict[str, Any]]:
    path = f"/{channel}/folders" + (f"/{below}" if below else "")
    r = await client.get(path, params=params, headers=auth(credential))
    assert r.status_code == 200, r.text
    return r.json()


def names(folders: list[dict[str, Any]]) -> list[Any]:
    """The tree as nested names: `["A", ["A1", "A2"], "B"]`-like pairs of (name, children)."""
    return [(f["name"], names(f["children"])) for f in folders]


def flat(folders: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for f in folders:
        out[f["id"]] = f
        out.update(flat(f["children"]))
    return out


async def records(pool: asyncpg.Pool, prefix: str = "folder.") -> list[tuple[str, dict]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT type, data FROM event_log WHERE type LIKE $1 ORDER BY position", prefix + "%"
        )
    return [(r["type"], r["data"]) for r in rows]


# --- create and read --------------------------------------------------------------------------


async def test_a_folder_is_created_at_the_root_and_read_back_whole(client, session, channel):
    before = time.time()
    folder = await make(client, session, channel, "Projects")
    (shown,) = await tree(client, session, channel)
    assert shown == {
        "id": folder, "channelId": channel, "name": "Projects", "parentId": None,
        "hidden": False, "clientData": {}, "children": [], "trashed": False,
        "created": shown["created"], "modified": shown["created"],
    }
    assert before <= shown["created"] <= time.time()


async def test_children_come_sorted_by_name_under_their_parent(client, session, channel):
    top = await make(client, session, channel, "Top")
    for name in ("b", "C", "a"):
        await make(client, session, channel, name, top)
    await make(client, session, channel, "Another top")
    assert names(await tree(client, session, channel)) == [
        ("Another top", []), ("Top", [("C", []), ("a", []), ("b", [])])]
    child = (await tree(client, session, channel, top))[0]
    assert child["parentId"] == top


async def test_hidden_and_client_data_are_kept(client, session, channel):
    folder = await make(client, session, channel, "Secret", hidden=True,
                        clientData={"color": "red", "gone": None})
    (shown,) = await tree(client, session, channel, includeHidden="true")
    assert (shown["id"], shown["hidden"], shown["clientData"]) == (folder, True, {"color": "red"})


async def test_a_client_chosen_id_is_used_once_per_channel(client, session, channel):
    assert await make(client, session, channel, "Mine", id="my-folder.1") == "my-folder.1"
    r = await client.post(f"/{channel}/folders", json={"name": "Other", "id": "my-folder.1"},
                          headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "ITEM_ID_ALREADY_EXISTS")
    r = await client.post("/channels", json={"name": "Home"}, headers=auth(session))
    home = r.json()["id"]
    assert await make(client, session, home, "Mine", id="my-folder.1") == "my-folder.1"


@pytest.mark.parametrize("bad_id", ["", "has space", "a/b", "x" * 101, 12, None, "é"])
async def test_a_malformed_client_id_is_refused(client, session, channel, bad_id):
    r = await client.post(f"/{channel}/folders", json={"name": "N", "id": bad_id},
                          headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "INVALID_PARAMETERS_FORMAT")
    assert r.json()["error"]["data"] == {"params": ["id"]}


async def test_a_name_is_unique_among_siblings_only(client, session, channel):
    top = await make(client, session, channel, "Top")
    await make(client, session, channel, "Same", top)
    r = await client.post(f"/{channel}/folders/{top}", json={"name": "Same"},
                          headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "ITEM_NAME_ALREADY_EXISTS")
    r = await client.post(f"/{channel}/folders", json={"name": "  Top "}, headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "ITEM_NAME_ALREADY_EXISTS")  # trimmed
    await make(client, session, channel, "Same")  # at the root: another set of siblings
    await make(client, session, channel, "same", top)  # names are case-sensitive


async def test_a_trashed_sibling_still_holds_its_name(client, session, channel):
    folder = await make(client, session, channel, "Old")
    assert (await client.delete(f"/{channel}/folders/{folder}", headers=auth(session))
            ).status_code == 200
    r = await client.post(f"/{channel}/folders", json={"name": "Old"}, headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "ITEM_NAME_ALREADY_EXISTS")


async def test_an_unknown_parent_or_channel_is_404(client, session, channel):
    r = await client.post(f"/{channel}/folders/nope", json={"name": "N"}, headers=auth(session))
    assert (r.status_code, error_id(r)) == (404, "UNKNOWN_FOLDER")
    r = await client.post("/nope/folders", json={"name": "N"}, headers=auth(session))
    assert (r.status_code, error_id(r)) == (404, "UNKNOWN_CHANNEL")
    r = await client.get("/nope/folders", headers=auth(session))
    assert (r.status_code, error_id(r)) == (404, "UNKNOWN_CHANNEL")
    r = await client.get(f"/{channel}/folders/nope", headers=auth(session))
    assert (r.status_code, error_id(r)) == (404, "UNKNOWN_FOLDER")


async def test_a_trashed_channel_has_no_folders_to_show_or_change(client, session, channel):
    folder = await make(client, session, channel, "F")
    assert (await client.delete(f"/channels/{channel}", headers=auth(session))).status_code == 200
    for method, path in (("GET", "/folders"), ("POST", "/folders"), ("PUT", f"/folders/{folder}"),
                         ("DELETE", f"/folders/{folder}")):
        r = await client.request(method, f"/{channel}{path}", json={"name": "x"},
                                 headers=auth(session))
        assert (r.status_code, error_id(r)) == (404, "UNKNOWN_CHANNEL"), path


@pytest.mark.parametrize(
    ("body", "params"),
    [
        ({}, ["name"]),
        ({"name": ""}, ["name"]),
        ({"name": "   "}, ["name"]),
        ({"name": 3}, ["name"]),
        ({"name": "x" * 256}, ["name"]),
        ({"name": "a\x00b"}, ["name"]),
        ({"name": "N", "hidden": "yes"}, ["hidden"]),
        ({"name": "N", "clientData": [1]}, ["clientData"]),
        ({"name": "N", "clientData": {"big": "x" * 70_000}}, ["clientData"]),
        ({"name": "N", "parentId": None}, ["parentId"]),
        ({"name": "N", "trashed": True}, ["trashed"]),
    ],
)
async def test_a_bad_creation_body_is_refused_and_nothing_is_written(
    client, session, channel, pool, body, params
):
    r = await client.post(f"/{channel}/folders", json=body, headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "INVALID_PARAMETERS_FORMAT")
    assert r.json()["error"]["data"]["params"] == params
    assert await tree(client, session, channel, state="all", includeHidden="true") == []
    assert await records(pool) == []


@pytest.mark.parametrize("raw", [b"{", b"[1]", b'"name"', b"\xff"])
async def test_a_body_that_is_no_json_object_is_refused(client, session, channel, raw):
    r = await client.post(f"/{channel}/folders", content=raw,
                          headers={**auth(session), "Content-Type": "application/json"})
    assert (r.status_code, error_id(r)) == (400, "INVALID_REQUEST_STRUCTURE")


async def test_folders_nest_at_most_max_depth_levels(client, session, channel):
    parent = None
    for level in range(MAX_DEPTH):
        parent = await make(client, session, channel, f"L{level}", parent)
    r = await client.post(f"/{channel}/folders/{parent}", json={"name": "too deep"},
                          headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "INVALID_OPERATION")
    # The deepest tree still answers (its JSON nests two containers a level).
    shown = await tree(client, session, channel)
    assert len(flat(shown)) == MAX_DEPTH
    # A move that would go past the limit is refused too.
    other = await make(client, session, channel, "Other")
    await make(client, session, channel, "Child", other)
    r = await client.post(f"/{channel}/folders/{other}/move", json={"parentId": parent},
                          headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "INVALID_OPERATION")


# --- the query parameters of the tree -----------------------------------------------------------


@pytest.fixture
async def shapes(client, session, channel) -> dict[str, str]:
    """A · A/A1 (hidden) · A/A1/A1x · A/A2 (trashed) · A/A2/A2x · B (trashed) · C."""
    ids: dict[str, str] = {}
    ids["A"] = await make(client, session, channel, "A")
    ids["A1"] = await make(client, session, channel, "A1", ids["A"], hidden=True)
    ids["A1x"] = await make(client, session, channel, "A1x", ids["A1"])
    ids["A2"] = await make(client, session, channel, "A2", ids["A"])
    ids["A2x"] = await make(client, session, channel, "A2x", ids["A2"])
    ids["B"] = await make(client, session, channel, "B")
    ids["C"] = await make(client, session, channel, "C")
    for trash in ("A2", "B"):
        r = await client.delete(f"/{channel}/folders/{ids[trash]}", headers=auth(session))
        assert r.status_code == 200, r.text
    return ids


async def test_by_default_hidden_and_trashed_folders_are_left_out_with_their_subtrees(
    client, session, channel, shapes
):
    assert names(await tree(client, session, channel)) == [("A", []), ("C", [])]
    assert names(await tree(client, session, channel, includeHidden="false",
                            state="default")) == [("A", []), ("C", [])]


async def test_include_hidden_shows_hidden_folders(client, session, channel, shapes):
    assert names(await tree(client, session, channel, includeHidden="true")) == [
        ("A", [("A1", [("A1x", [])])]), ("C", [])]


async def test_state_trashed_shows_the_trash_and_the_way_to_it(client, session, channel, shapes):
    shown = await tree(client, session, channel, state="trashed")
    assert names(shown) == [("A", [("A2", [("A2x", [])])]), ("B", [])]
    by_name = {f["name"]: f for f in flat(shown).values()}
    # The way to the trash is shown as it is; what is below a trashed folder is in the trash
    # with it (it goes when the folder is deleted) but keeps its own flag.
    assert {n: f["trashed"] for n, f in by_name.items()} == {
        "A": False, "A2": True, "A2x": False, "B": True}


async def test_state_all_shows_everything(client, session, channel, shapes):
    assert names(await tree(client, session, channel, state="all", includeHidden="1")) == [
        ("A", [("A1", [("A1x", [])]), ("A2", [("A2x", [])])]), ("B", []), ("C", [])]
    assert names(await tree(client, session, channel, state="all")) == [
        ("A", [("A2", [("A2x", [])])]), ("B", []), ("C", [])]


async def test_below_a_folder_answers_its_children_and_inherits_its_state(
    client, session, channel, shapes
):
    assert names(await tree(client, session, channel, shapes["A"], includeHidden="true",
                            state="all")) == [("A1", [("A1x", [])]), ("A2", [("A2x", [])])]
    assert names(await tree(client, session, channel, shapes["A"])) == []
    # Below a hidden (trashed) folder everything is hidden (in the trash).
    assert await tree(client, session, channel, shapes["A1"]) == []
    assert names(await tree(client, session, channel, shapes["A1"], includeHidden="true")) == [
        ("A1x", [])]
    assert await tree(client, session, channel, shapes["A2"]) == []
    assert names(await tree(client, session, channel, shapes["A2"], state="trashed")) == [
        ("A2x", [])]


@pytest.mark.parametrize(
    "params",
    [{"includeHidden": "maybe"}, {"state": "deleted"}, {"state": ""}, {"timeCountBase": "soon"},
     {"timeCountBase": "nan"}, {"timeCountBase": "1e300"}],
)
async def test_bad_query_parameters_are_refused(client, session, channel, params):
    r = await client.get(f"/{channel}/folders", params=params, headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "INVALID_PARAMETERS_FORMAT")
    assert r.json()["error"]["data"]["params"] == list(params)


# --- modify -----------------------------------------------------------------------------------


async def test_put_modifies_and_answers_the_whole_folder(client, session, channel):
    folder = await make(client, session, channel, "Old", clientData={"a": 1, "b": 2})
    child = await make(client, session, channel, "Child", folder)
    (before,) = await tree(client, session, channel)
    r = await client.put(f"/{channel}/folders/{folder}", headers=auth(session), json={
        "name": " New ", "hidden": True, "clientData": {"b": None, "c": 3}})
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["name"] == "New"
    assert after["hidden"] is True
    assert after["clientData"] == {"a": 1, "c": 3}
    assert after["created"] == before["created"]
    assert after["modified"] > before["modified"]
    assert [c["id"] for c in after["children"]] == [child]
    (shown,) = await tree(client, session, channel, includeHidden="true")
    assert shown == after


async def test_put_with_nothing_keeps_everything(client, session, channel):
    folder = await make(client, session, channel, "Same", clientData={"a": 1})
    r = await client.put(f"/{channel}/folders/{folder}", json={}, headers=auth(session))
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["clientData"]) == ("Same", {"a": 1})


async def test_put_refuses_a_sibling_name(client, session, channel):
    await make(client, session, channel, "Taken")
    folder = await make(client, session, channel, "Mine")
    r = await client.put(f"/{channel}/folders/{folder}", json={"name": "Taken"},
                         headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "ITEM_NAME_ALREADY_EXISTS")
    r = await client.put(f"/{channel}/folders/{folder}", json={"name": "Mine"},
                         headers=auth(session))
    assert r.status_code == 200  # its own name is no clash


async def test_put_trashed_false_restores_and_true_trashes(client, session, channel, pool):
    folder = await make(client, session, channel, "F")
    r = await client.delete(f"/{channel}/folders/{folder}", headers=auth(session))
    assert r.json()["trashed"] is True
    r = await client.put(f"/{channel}/folders/{folder}", json={"trashed": False},
                         headers=auth(session))
    assert (r.status_code, r.json()["trashed"]) == (200, False)
    assert [f["id"] for f in await tree(client, session, channel)] == [folder]
    r = await client.put(f"/{channel}/folders/{folder}", json={"trashed": True},
                         headers=auth(session))
    assert (r.status_code, r.json()["trashed"]) == (200, True)
    assert [t for t, _ in await records(pool)] == [
        "folder.created", "folder.trashed", "folder.updated", "folder.trashed"]


@pytest.mark.parametrize(
    ("body", "param"),
    [({"name": ""}, "name"), ({"name": None}, "name"), ({"hidden": 1}, "hidden"),
     ({"clientData": "x"}, "clientData"), ({"trashed": "no"}, "trashed"),
     ({"parentId": None}, "parentId"), ({"id": "other"}, "id"), ({"children": []}, "children")],
)
async def test_put_refuses_bad_fields(client, session, channel, body, param):
    folder = await make(client, session, channel, "F")
    r = await client.put(f"/{channel}/folders/{folder}", json=body, headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "INVALID_PARAMETERS_FORMAT")
    assert r.json()["error"]["data"]["params"] == [param]


async def test_put_on_an_unknown_folder_is_404(client, session, channel):
    r = await client.put(f"/{channel}/folders/nope", json={"name": "x"}, headers=auth(session))
    assert (r.status_code, error_id(r)) == (404, "UNKNOWN_FOLDER")


# --- move -------------------------------------------------------------------------------------


async def test_move_under_another_parent_and_back_to_the_root(client, session, channel):
    a = await make(client, session, channel, "A")
    b = await make(client, session, channel, "B")
    child = await make(client, session, channel, "Child", a)
    grandchild = await make(client, session, channel, "Grandchild", child)
    r = await client.post(f"/{channel}/folders/{child}/move", json={"parentId": b},
                          headers=auth(session))
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["parentId"]) == (child, b)
    assert [c["id"] for c in r.json()["children"]] == [grandchild]
    assert names(await tree(client, session, channel)) == [
        ("A", []), ("B", [("Child", [("Grandchild", [])])])]
    r = await client.post(f"/{channel}/folders/{child}/move", json={"parentId": None},
                          headers=auth(session))
    assert (r.status_code, r.json()["parentId"]) == (200, None)
    assert names(await tree(client, session, channel)) == [
        ("A", []), ("B", []), ("Child", [("Grandchild", [])])]


async def test_a_move_to_where_it_is_changes_nothing(client, session, channel, pool):
    folder = await make(client, session, channel, "F")
    (before,) = await tree(client, session, channel)
    r = await client.post(f"/{channel}/folders/{folder}/move", json={"parentId": None},
                          headers=auth(session))
    assert r.status_code == 200
    assert r.json() == before
    assert [t for t, _ in await records(pool)] == ["folder.created"]


async def test_move_to_an_unknown_parent_is_400_unknown_folder(client, session, channel):
    folder = await make(client, session, channel, "F")
    r = await client.post(f"/{channel}/folders/{folder}/move", json={"parentId": "nope"},
                          headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "UNKNOWN_FOLDER")
    r = await client.post(f"/{channel}/folders/nope/move", json={"parentId": None},
                          headers=auth(session))
    assert (r.status_code, error_id(r)) == (404, "UNKNOWN_FOLDER")


async def test_move_into_itself_or_a_descendant_is_refused(client, session, channel, pool):
    a = await make(client, session, channel, "A")
    child = await make(client, session, channel, "Child", a)
    grandchild = await make(client, session, channel, "Grandchild", child)
    for target in (a, child, grandchild):
        r = await client.post(f"/{channel}/folders/{a}/move", json={"parentId": target},
                              headers=auth(session))
        assert (r.status_code, error_id(r)) == (400, "INVALID_OPERATION"), target
    assert [t for t, _ in await records(pool)] == ["folder.created"] * 3


async def test_move_refuses_a_name_taken_among_the_new_siblings(client, session, channel):
    a = await make(client, session, channel, "A")
    await make(client, session, channel, "Twin", a)
    twin = await make(client, session, channel, "Twin")
    r = await client.post(f"/{channel}/folders/{twin}/move", json={"parentId": a},
                          headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "ITEM_NAME_ALREADY_EXISTS")


@pytest.mark.parametrize("body", [{}, {"parentId": 3}, {"parentId": "a b"},
                                  {"parentId": None, "name": "x"}])
async def test_move_refuses_a_bad_body(client, session, channel, body):
    folder = await make(client, session, channel, "F")
    r = await client.post(f"/{channel}/folders/{folder}/move", json=body, headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "INVALID_PARAMETERS_FORMAT")


# --- trash and delete -------------------------------------------------------------------------


async def test_delete_trashes_first_then_deletes_the_subtree_for_good(
    client, session, channel, pool
):
    a = await make(client, session, channel, "A")
    child = await make(client, session, channel, "Child", a)
    grandchild = await make(client, session, channel, "Grandchild", child)
    keep = await make(client, session, channel, "Keep")
    r = await client.delete(f"/{channel}/folders/{a}", headers=auth(session))
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["trashed"]) == (a, True)
    assert [c["id"] for c in r.json()["children"]] == [child]
    assert [f["id"] for f in await tree(client, session, channel)] == [keep]
    r = await client.delete(f"/{channel}/folders/{a}", headers=auth(session))
    assert r.status_code == 200, r.text
    assert r.json() == {"folderDeletion": {"id": a}}
    assert [f["id"] for f in await tree(client, session, channel, state="all")] == [keep]
    r = await client.delete(f"/{channel}/folders/{a}", headers=auth(session))
    assert (r.status_code, error_id(r)) == (404, "UNKNOWN_FOLDER")
    (deleted,) = [d for t, d in await records(pool) if t == "folder.deleted"]
    assert deleted == {"channelId": channel, "folderIds": [a, child, grandchild],
                       "parentId": None, "mergeEventsWithParent": False,
                       "time": deleted["time"]}


async def test_a_deleted_subfolder_names_its_parent_and_frees_its_name(
    client, session, channel, pool
):
    a = await make(client, session, channel, "A")
    child = await make(client, session, channel, "Child", a)
    for _ in range(2):
        r = await client.delete(f"/{channel}/folders/{child}", headers=auth(session))
        assert r.status_code == 200, r.text
    (deleted,) = [d for t, d in await records(pool) if t == "folder.deleted"]
    assert (deleted["folderIds"], deleted["parentId"]) == ([child], a)
    await make(client, session, channel, "Child", a)
    await make(client, session, channel, "again", a, id=child)  # its id is free again too


async def test_merge_on_a_top_folder_is_an_invalid_operation(client, session, channel):
    a = await make(client, session, channel, "A")
    await client.delete(f"/{channel}/folders/{a}", headers=auth(session))
    r = await client.delete(f"/{channel}/folders/{a}", params={"mergeEventsWithParent": "true"},
                            headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "INVALID_OPERATION")
    r = await client.delete(f"/{channel}/folders/{a}", params={"mergeEventsWithParent": "false"},
                            headers=auth(session))
    assert r.status_code == 200, r.text


async def test_merge_parameter_must_be_a_boolean(client, session, channel):
    a = await make(client, session, channel, "A")
    r = await client.delete(f"/{channel}/folders/{a}", params={"mergeEventsWithParent": "2"},
                            headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "INVALID_PARAMETERS_FORMAT")


async def test_delete_on_an_unknown_folder_is_404(client, session, channel):
    r = await client.delete(f"/{channel}/folders/nope", headers=auth(session))
    assert (r.status_code, error_id(r)) == (404, "UNKNOWN_FOLDER")


async def test_deleting_a_channel_drops_its_folders(client, session, channel, pool):
    await make(client, session, channel, "A")
    r = await client.post("/channels", json={"name": "Other"}, headers=auth(session))
    other = r.json()["id"]
    kept = await make(client, session, other, "B")
    for _ in range(2):
        assert (await client.delete(f"/channels/{channel}", headers=auth(session))
                ).status_code == 200
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT channel_id, folder_id FROM folders")
        assert [(r["channel_id"], r["folder_id"]) for r in rows] == [(other, kept)]


# --- the log ----------------------------------------------------------------------------------


async def test_each_change_records_the_full_new_state(client, session, channel, pool):
    a = await make(client, session, channel, "A", clientData={"k": 1})
    b = await make(client, session, channel, "B", a)
    await client.put(f"/{channel}/folders/{b}", json={"name": "B2"}, headers=auth(session))
    await client.post(f"/{channel}/folders/{b}/move", json={"parentId": None},
                      headers=auth(session))
    await client.delete(f"/{channel}/folders/{b}", headers=auth(session))
    found = await records(pool)
    assert [t for t, _ in found] == [
        "folder.created", "folder.created", "folder.updated", "folder.moved", "folder.trashed"]
    for _, data in found:
        assert set(data) == {"channelId", "folder"}
        assert set(data["folder"]) == {"id", "channelId", "name", "parentId", "hidden",
                                       "clientData", "trashed", "created", "modified"}
    assert found[0][1]["folder"]["clientData"] == {"k": 1}
    assert found[3][1]["folder"]["parentId"] is None
    assert found[3][1]["folder"]["name"] == "B2"
    async with pool.acquire() as conn:
        meta = await conn.fetchval("SELECT meta FROM event_log WHERE type = 'folder.moved'")
        assert meta["actor"]["kind"] == "session"


async def test_rebuilding_gives_back_the_same_folders(client, session, channel, pool, shapes):
    await client.post(f"/{channel}/folders/{shapes['C']}/move", json={"parentId": shapes["A"]},
                      headers=auth(session))
    await client.delete(f"/{channel}/folders/{shapes['B']}", headers=auth(session))
    async with pool.acquire() as conn:
        assert await rebuild_differences(conn) == {}


async def test_concurrent_creations_of_one_name_make_one_folder(client, session, channel):
    answers = await asyncio.gather(*(
        client.post(f"/{channel}/folders", json={"name": "Race"}, headers=auth(session))
        for _ in range(12)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] + [400] * 11
    assert {error_id(r) for r in answers if r.status_code == 400} == {"ITEM_NAME_ALREADY_EXISTS"}
    assert len(await tree(client, session, channel)) == 1


async def test_concurrent_cross_moves_never_make_a_cycle(client, session, channel):
    """A into B and B into A at once: each is fine alone, together they would make a cycle."""
    for _ in range(5):
        a = await make(client, session, channel, f"A{_}")
        b = await make(client, session, channel, f"B{_}")
        answers = await asyncio.gather(
            client.post(f"/{channel}/folders/{a}/move", json={"parentId": b},
                        headers=auth(session)),
            client.post(f"/{channel}/folders/{b}/move", json={"parentId": a},
                        headers=auth(session)))
        assert sorted(r.status_code for r in answers) == [200, 400]
        shown = flat(await tree(client, session, channel))
        assert a in shown and b in shown  # both still reachable from the root
