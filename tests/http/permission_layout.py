"""The permission tables' world, shared by the folder and event tables
(tests/http/test_permissions_folders.py, tests/http/test_permissions_events.py): a channel with
A · A/A1 · A/A1/A1x · B · B/B1, the grants each kind of credential holds, and the level over each
folder that follows from them, written out by hand."""

from __future__ import annotations

import httpx

from tests.support import auth

FOLDERS = ["A", "A1", "A1x", "B", "B1"]
PARENTS = {"A": None, "A1": "A", "A1x": "A1", "B": None, "B1": "B"}
N, R, W, M = 0, 1, 2, 3  # none, read-only, events-write, manage
TYPES = {R: "read-only", W: "events-write", M: "manage"}

# credential -> its grants on the channel [(folder or None for the root, level)].
GRANTS: dict[str, list[tuple[str | None, int]]] = {
    "root read-only": [(None, R)],
    "root events-write": [(None, W)],
    "root manage": [(None, M)],
    "A read-only": [("A", R)],
    "A events-write": [("A", W)],
    "A manage": [("A", M)],
    "root read-only, A manage": [(None, R), ("A", M)],
    "A read-only, A1 manage": [("A", R), ("A1", M)],
    "A1 read-only, A manage": [("A1", R), ("A", M)],
    "A events-write and A manage": [("A", W), ("A", M)],
    "A1 manage, B1 read-only": [("A1", M), ("B1", R)],
}

# credential -> level over [root, A, A1, A1x, B, B1], written out by hand.
LEVELS: dict[str, list[int]] = {
    "session": [M, M, M, M, M, M],
    "personal": [M, M, M, M, M, M],
    "root read-only": [R, R, R, R, R, R],
    "root events-write": [W, W, W, W, W, W],
    "root manage": [M, M, M, M, M, M],
    "A read-only": [N, R, R, R, N, N],
    "A events-write": [N, W, W, W, N, N],
    "A manage": [N, M, M, M, N, N],
    "root read-only, A manage": [R, M, M, M, R, R],
    "A read-only, A1 manage": [N, R, M, M, N, N],
    "A1 read-only, A manage": [N, M, M, M, N, N],
    "A events-write and A manage": [N, M, M, M, N, N],
    "A1 manage, B1 read-only": [N, N, M, M, N, R],
    "other channel only": [N, N, N, N, N, N],
}


async def _token(client: httpx.AsyncClient, session: str, permissions: list, kind: str) -> str:
    r = await client.post("/tokens", headers=auth(session), json={
        "name": f"token {kind}", "type": kind, "permissions": permissions})
    assert r.status_code == 201, r.text
    return r.json()["token"]


async def grant_world(
    client: httpx.AsyncClient, session: str, who: str
) -> tuple[str, dict[str, str], str]:
    """The channel, its folders' ids by name, and the credential `who` (a key of LEVELS)."""
    r = await client.post("/channels", json={"name": "Work"}, headers=auth(session))
    channel = r.json()["id"]
    r = await client.post("/channels", json={"name": "Elsewhere"}, headers=auth(session))
    elsewhere = r.json()["id"]
    ids: dict[str, str] = {}
    for name in FOLDERS:
        parent = PARENTS[name]
        path = f"/{channel}/folders" + (f"/{ids[parent]}" if parent else "")
        r = await client.post(path, json={"name": name}, headers=auth(session))
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    if who == "session":
        credential = session
    elif who == "personal":
        credential = await _token(client, session, [], "personal")
    elif who == "other channel only":
        credential = await _token(client, session, [{"channelId": elsewhere, "folderPermissions": [
            {"folderId": None, "type": "manage"}]}], "shared")
    else:
        credential = await _token(client, session, [{"channelId": channel, "folderPermissions": [
            {"folderId": ids[f] if f else None, "type": TYPES[level]}
            for f, level in GRANTS[who]]}], "shared")
    return channel, ids, credential
