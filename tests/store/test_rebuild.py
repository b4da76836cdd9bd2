"""Rebuild equality: a mixed workload through HTTP, then every read model replayed from the log
must equal the live one row for row (docs/architecture.md: nothing writes a read model but a
projection, and projections depend on the record alone)."""

from __future__ import annotations

import importlib.util
import time

import asyncpg
import httpx
import orjson

import projections
from projections.rebuild import rebuild
from tests.support import OPERATOR_KEY, PASSWORD, auth, create_user

# The data API's events arrived after this test was written: exercised when their routes exist.
HAS_EVENTS = importlib.util.find_spec("app.http.events") is not None


async def read_models(conn: asyncpg.Connection) -> dict[str, list[bytes]]:
    """Every read model as a sorted list of its rows (each row as canonical JSON)."""
    return {
        table: sorted(
            orjson.dumps(r["row"], option=orjson.OPT_SORT_KEYS)
            for r in await conn.fetch(f"SELECT to_jsonb(t) AS row FROM {table} t")
        )
        for table in projections.tables()
    }


async def ok(response: httpx.Response, *statuses: int) -> dict:
    assert response.status_code in (statuses or (200, 201)), response.text
    return response.json() if response.content else {}


async def _accounts_and_channels(client: httpx.AsyncClient) -> tuple[str, str, str]:
    alice = await create_user(client, "alice")
    bob = await create_user(client, "bob", admin=True)
    await ok(await client.post("/system/users", json={
        "userName": "carol", "password": PASSWORD, "email": "c@example.org"},
        headers=auth(OPERATOR_KEY)))
    extra = (await ok(await client.post(
        "/login", json={"userName": "bob", "password": PASSWORD})))["sessionID"]
    await ok(await client.post("/logout", headers=auth(extra)))
    await ok(await client.put("/user-info", json={"displayName": "Alice", "language": "en"},
                              headers=auth(alice)))
    await ok(await client.put("/user-info", json={"language": None}, headers=auth(alice)))
    await ok(await client.post("/change-password", json={
        "oldPassword": PASSWORD, "newPassword": "another long password"}, headers=auth(alice)))

    work = (await ok(await client.post("/channels", json={
        "name": "Work", "clientData": {"colour": "blue", "n": 1}}, headers=auth(alice))))["id"]
    await ok(await client.post("/channels", json={
        "id": "home", "name": "Home", "enforceNoEventsOverlap": False}, headers=auth(alice)))
    temp = (await ok(await client.post("/channels", json={"name": "Temp"},
                                       headers=auth(alice))))["id"]
    await ok(await client.put(f"/channels/{work}", json={
        "name": "Job", "clientData": {"colour": None, "m": [1, 2]}}, headers=auth(alice)))
    await ok(await client.delete(f"/channels/{temp}", headers=auth(alice)))
    await ok(await client.delete(f"/channels/{temp}", headers=auth(alice)), 200, 202)
    await ok(await client.post("/channels", json={"name": "Bob's"}, headers=auth(bob)))
    return alice, bob, work


async def _tokens(client: httpx.AsyncClient, alice: str, work: str) -> None:
    grant = [{"channelId": work, "folderPermissions": [{"folderId": None, "type": "manage"}]}]
    shared = await ok(await client.post("/tokens", json={"name": "app", "permissions": grant},
                                        headers=auth(alice)))
    await ok(await client.get("/tokens/cli", headers=auth(alice)))
    doomed = await ok(await client.post("/tokens", json={"name": "doomed"}, headers=auth(alice)))
    await ok(await client.put(f"/tokens/{shared['id']}", json={"name": "app2"},
                              headers=auth(alice)))
    await ok(await client.delete(f"/tokens/{doomed['id']}", headers=auth(alice)))
    await ok(await client.get("/channels", headers=auth(shared["token"])))


async def _folders(client: httpx.AsyncClient, alice: str, work: str) -> dict[str, str]:
    async def folder(body: dict, parent: str = "") -> str:
        path = f"/{work}/folders" + (f"/{parent}" if parent else "")
        return (await ok(await client.post(path, json=body, headers=auth(alice))))["id"]

    projects = await folder({"name": "Projects", "clientData": {"k": "v"}})
    a = await folder({"name": "A"}, projects)
    b = await folder({"id": "b", "name": "B", "hidden": True}, projects)
    gone = await folder({"name": "Gone"}, a)
    await ok(await client.put(f"/{work}/folders/{b}", json={"name": "Bee", "hidden": False},
                              headers=auth(alice)))
    await ok(await client.post(f"/{work}/folders/{b}/move", json={"parentId": None},
                               headers=auth(alice)))
    await ok(await client.delete(f"/{work}/folders/{gone}", headers=auth(alice)))
    await ok(await client.delete(f"/{work}/folders/{gone}", headers=auth(alice)), 200, 202)
    return {"projects": projects, "a": a, "b": b}


async def _events(client: httpx.AsyncClient, alice: str, work: str,
                  folders: dict[str, str]) -> None:
    now = time.time()
    base = f"/{work}/events"
    await ok(await client.post(base, json={
        "folderId": folders["a"], "time": now - 7200, "duration": 600, "comment": "first",
        "tags": ["x"], "clientData": {"a": 1}}, headers=auth(alice)))
    mark = await ok(await client.post(base, json={
        "time": now - 3600, "value": {"type": "mass:kg", "value": 70.5}}, headers=auth(alice)))
    await ok(await client.post(f"{base}/start", json={"folderId": folders["b"],
                                                      "time": now - 1800},
                               headers=auth(alice)))
    await ok(await client.post(f"{base}/start", json={"folderId": folders["projects"],
                                                      "time": now - 900},
                               headers=auth(alice)))
    await ok(await client.post(f"{base}/stop", json={"time": now - 60}, headers=auth(alice)))
    await ok(await client.put(f"{base}/{mark['id']}", json={"comment": "edited",
                                                           "tags": ["y"]},
                              headers=auth(alice)))
    doomed = await ok(await client.post(base, json={"time": now - 30}, headers=auth(alice)))
    await ok(await client.delete(f"{base}/{doomed['id']}", headers=auth(alice)))
    await ok(await client.delete(f"{base}/{doomed['id']}", headers=auth(alice)))
    trashed = await ok(await client.post(base, json={"time": now - 20}, headers=auth(alice)))
    await ok(await client.delete(f"{base}/{trashed['id']}", headers=auth(alice)))
    # A folder with events, deleted for good with its events merged into its parent.
    await ok(await client.delete(f"/{work}/folders/{folders['a']}", headers=auth(alice)))
    await ok(await client.delete(
        f"/{work}/folders/{folders['a']}?mergeEventsWithParent=true", headers=auth(alice)),
        200, 202)


async def test_rebuilt_read_models_equal_the_live_ones(client, pool: asyncpg.Pool) -> None:
    alice, _bob, work = await _accounts_and_channels(client)
    await _tokens(client, alice, work)
    folders = await _folders(client, alice, work)
    if HAS_EVENTS:
        await _events(client, alice, work, folders)

    async with pool.acquire() as conn:
        live = await read_models(conn)
        for table in ("users", "sessions", "channels", "tokens", "folders"):
            assert live[table], f"the workload left {table} empty: it proves nothing there"
        if HAS_EVENTS:
            assert live["events"]
        records = await conn.fetchval("SELECT count(*) FROM event_log")
        indexes = await _indexes(conn)
        assert await rebuild(conn) == records
        rebuilt = await read_models(conn)
        # The indexes a rebuild drops while replaying are all back, as they were defined.
        assert await _indexes(conn) == indexes
        assert set(projections.registry.deferred_indexes()) <= set(indexes)

    for table in projections.tables():
        assert rebuilt[table] == live[table], f"{table} differs after rebuild"


async def _indexes(conn: asyncpg.Connection) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY($1::text[])",
        projections.tables(),
    )
    return {row["indexname"]: row["indexdef"] for row in rows}


async def test_rebuild_empties_what_the_log_does_not_hold(pool: asyncpg.Pool, client) -> None:
    """A row no record explains (written behind the projections' back) does not survive."""
    await create_user(client, "alice")
    async with pool.acquire() as conn:
        live = await read_models(conn)
        await conn.execute(
            "INSERT INTO sessions (session_hash, user_id, created) "
            "SELECT 'forged', user_id, 0 FROM users LIMIT 1"
        )
        assert await read_models(conn) != live
        await rebuild(conn)
        assert await read_models(conn) == live
