"""The credential matrix: every route, and both subscription transports, against every kind of
credential (none, wrong, expired session, revoked token, another user's token, each permission
level). Routes come from the application's router, so a new route is in the matrix at once.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from app.http import openapi
from app.identity.secrets import secret_hash
from app.main import create_app
from tests.support import auth, create_user

# Routes anyone may call (the operator routes take the operator key, checked separately).
PUBLIC = {("get", "/health"), ("get", "/ready"), ("get", "/openapi.json"), ("get", "/"),
          ("get", "/static/{name}"), ("post", "/login")}
OPERATOR = re.compile(r"^/system/")
SUBSCRIPTIONS = {("get", "/stream"), ("get", "/ws"),
                 # Plex's notification streams: tests/compat/test_plex_notifications.py.
                 ("get", "/compat/plex/:/eventsource/notifications"),
                 ("get", "/compat/plex/:/websockets/notifications")}
# Admin API: a session only, whatever a token's rights (docs/api.md §4).
SESSION_ONLY = {
    ("post", "/logout"), ("get", "/user-info"), ("put", "/user-info"),
    ("post", "/change-password"), ("post", "/channels"), ("put", "/channels/{channel_id}"),
    ("delete", "/channels/{channel_id}"), ("get", "/tokens"), ("post", "/tokens"),
    ("get", "/tokens/{key}"), ("put", "/tokens/{key}"), ("delete", "/tokens/{key}"),
}
READ, WRITE, MANAGE = "read-only", "events-write", "manage"
LEVELS = [READ, WRITE, MANAGE]


def required_level(method: str, path: str) -> str | None:
    """The least token level a channel-scoped route needs (docs/api.md §2 Token), None elsewhere."""
    if not path.startswith("/{channel}/"):
        return None
    rest = path[len("/{channel}/"):]
    if rest.startswith("folders"):
        return READ if method == "get" else MANAGE
    if rest.startswith("events"):
        reads = method == "get" and not re.match(r"^events/(start|stop|record)$", rest)
        return READ if reads else WRITE
    return READ  # export


ROUTES = sorted(openapi.routed(create_app()) - SUBSCRIPTIONS)


@dataclass
class World:
    alice: str
    bob: str
    channel: str
    folder: str
    event: str
    tokens: dict[str, dict[str, Any]]


@pytest.fixture
async def world(client: httpx.AsyncClient, pool: asyncpg.Pool) -> World:
    alice = await create_user(client, "alice")
    bob = await create_user(client, "bob")
    r = await client.post("/channels", json={"name": "Work"}, headers=auth(alice))
    channel = r.json()["id"]
    tokens: dict[str, dict[str, Any]] = {}
    for level in LEVELS:
        r = await client.post("/tokens", headers=auth(alice), json={
            "name": level, "permissions": [
                {"channelId": channel, "folderPermissions": [{"folderId": None, "type": level}]}
            ]})
        assert r.status_code == 201, r.text
        tokens[level] = r.json()
    r = await client.post("/tokens", headers=auth(alice), json={"name": "gone", "permissions": []})
    tokens["revoked"] = r.json()
    r = await client.delete(f"/tokens/{tokens['revoked']['id']}", headers=auth(alice))
    assert r.status_code == 200, r.text
    r = await client.post("/tokens", headers=auth(bob), json={"name": "bob", "type": "personal"})
    tokens["bob"] = r.json()
    # A session of alice's that has been idle longer than the idle limit.
    r = await client.post("/login", json={"userName": "alice", "password": "correct horse battery"})
    expired = r.json()["sessionID"]
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO credential_usage (credential_hash, last_used) VALUES ($1, $2)
               ON CONFLICT (credential_hash) DO UPDATE SET last_used = EXCLUDED.last_used""",
            secret_hash(expired), time.time() - 24 * 3600,
        )
    tokens["expired"] = {"token": expired}
    folder = event = "missing"
    r = await client.post(f"/{channel}/folders", json={"name": "Projects"}, headers=auth(alice))
    if r.status_code == 201:
        folder = r.json()["id"]
        r = await client.post(f"/{channel}/events", json={"folderId": folder, "duration": 60,
                                                           "time": time.time() - 3600},
                              headers=auth(alice))
        if r.status_code == 201:
            event = r.json()["id"]
    return World(alice, bob, channel, folder, event, tokens)


def concrete(path: str, world: World) -> str:
    values = {"channel": world.channel, "channel_id": world.channel, "folder": world.folder,
              "event": world.event, "fileName": "missing.txt", "key": "missing",
              "activity": "00000000-0000-0000-0000-000000000000", "entry": "missing"}
    return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), "missing"), path)


def bad_credentials(world: World) -> dict[str, dict[str, str]]:
    return {
        "none": {},
        "wrong": auth("not-a-credential-at-all"),
        "expired session": auth(world.tokens["expired"]["token"]),
        "revoked token": auth(world.tokens["revoked"]["token"]),
    }


async def call(client: httpx.AsyncClient, method: str, path: str,
               headers: dict[str, str], params: dict[str, str] | None = None) -> httpx.Response:
    return await client.request(method, path, headers=headers, params=params, json={})


def refused(r: httpx.Response, status: set[int], ids: set[str], what: str) -> str | None:
    """None when the answer is the expected refusal, else what went wrong."""
    if r.status_code in status and r.json().get("error", {}).get("id") in ids:
        return None
    return f"{what}: {r.status_code} {r.text[:200]}"


def assert_refused(r: httpx.Response, status: set[int], ids: set[str], what: str) -> None:
    problem = refused(r, status, ids, what)
    assert problem is None, problem


# Each test walks every route and reports every failure at once (one user setup per test:
# password hashing makes a per-route setup slow).


async def test_bad_credentials_are_refused(client, world: World) -> None:
    failures = []
    for method, path in ROUTES:
        if (method, path) in PUBLIC:
            continue
        target = concrete(path, world)
        for kind, headers in bad_credentials(world).items():
            r = await call(client, method, target, headers)
            failures.append(refused(r, {401}, {"INVALID_TOKEN", "INVALID_CREDENTIALS"},
                                    f"{kind}: {method.upper()} {path}"))
        if OPERATOR.match(path):  # a user's session is no operator key
            r = await call(client, method, target, auth(world.alice))
            failures.append(refused(r, {401, 403}, {"INVALID_CREDENTIALS", "FORBIDDEN"},
                                    f"session on {method.upper()} {path}"))
    assert not [f for f in failures if f], [f for f in failures if f]


async def test_another_users_credential_sees_nothing(client, world: World) -> None:
    failures = []
    bob_token = world.tokens["bob"]["token"]
    for method, path in ROUTES:
        if (method, path) in PUBLIC or OPERATOR.match(path):
            continue
        target = concrete(path, world)
        for credential in (bob_token, world.bob):
            # Naming alice with bob's credential: refused outright.
            r = await call(client, method, target, auth(credential), params={"userName": "alice"})
            failures.append(refused(r, {401}, {"INVALID_TOKEN", "INVALID_CREDENTIALS"},
                                    f"bob as alice: {method.upper()} {path}"))
            # Bob's own scope: alice's channel does not exist for him.
            r = await call(client, method, target, auth(credential))
            scoped = path.startswith(("/{channel}/", "/channels/"))
            if (scoped and r.status_code not in (401, 404)) or (
                r.status_code < 400 and world.channel in r.text
            ):
                failures.append(f"bob: {method.upper()} {path}: {r.status_code} {r.text[:200]}")
    assert not [f for f in failures if f], [f for f in failures if f]


async def test_tokens_cannot_use_the_admin_api(client, world: World) -> None:
    failures = []
    for method, path in ROUTES:
        if (method, path) not in SESSION_ONLY:
            continue
        for level in LEVELS:
            r = await call(client, method, concrete(path, world),
                           auth(world.tokens[level]["token"]))
            failures.append(refused(r, {401, 403}, {"INVALID_CREDENTIALS", "FORBIDDEN"},
                                    f"{level} token: {method.upper()} {path}"))
    assert not [f for f in failures if f], [f for f in failures if f]


async def test_each_permission_level(client, world: World) -> None:
    if world.event == "missing":
        pytest.skip("the data API routes are not all there yet")
    failures = []
    for method, path in ROUTES:
        level_needed = required_level(method, path)
        if level_needed is None:
            continue
        needed = LEVELS.index(level_needed)
        target = concrete(path, world)
        for index, level in enumerate(LEVELS):
            r = await call(client, method, target, auth(world.tokens[level]["token"]))
            what = f"{level} token: {method.upper()} {path} -> {r.status_code} {r.text[:200]}"
            if index < needed:
                if r.status_code != 403 or r.json()["error"]["id"] != "FORBIDDEN":
                    failures.append(what)
            elif r.status_code in (401, 403):
                failures.append(what)
    assert not failures, failures


@pytest.mark.parametrize("kind", ["none", "wrong", "expired session", "revoked token"])
async def test_event_source_refuses_bad_credentials(client, world: World, kind: str) -> None:
    headers = bad_credentials(world)[kind]
    r = await client.get("/stream", headers=headers)
    assert_refused(r, {401}, {"INVALID_TOKEN"}, f"/stream with {kind}")
    if headers:
        r = await client.get("/stream", params={"auth": headers["Authorization"]})
        assert_refused(r, {401}, {"INVALID_TOKEN"}, f"/stream?auth= with {kind}")


async def test_event_source_hides_other_users_channels(client, world: World) -> None:
    r = await client.get("/stream", params={"channel": world.channel},
                         headers=auth(world.tokens["bob"]["token"]))
    assert r.status_code in (403, 404), r.text
    r = await client.get("/stream", params={"userName": "alice"},
                         headers=auth(world.tokens["bob"]["token"]))
    assert_refused(r, {401}, {"INVALID_TOKEN"}, "bob as alice on /stream")


async def _ws_refusal(url: str, headers: dict[str, str], params: dict[str, str]) -> tuple:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.ws_connect(
        url + "/ws", headers=headers, params=params
    ) as ws:
        first = await ws.receive(timeout=30)
        closing = await ws.receive(timeout=30)
        return first, closing, ws.close_code


async def test_websocket_refuses_bad_credentials(start_server, world: World) -> None:
    import orjson

    server = start_server()
    credentials = bad_credentials(world)
    credentials["bob as alice"] = auth(world.tokens["bob"]["token"])
    for kind, headers in credentials.items():
        params = {"userName": "alice"} if kind == "bob as alice" else {}
        for how in ("header", "query"):
            if how == "query" and not headers:
                continue
            given = headers if how == "header" else {}
            if how == "query":
                params = {**params, "auth": headers["Authorization"]}
            first, _closing, code = await _ws_refusal(server.url, given, params)
            message = orjson.loads(first.data)
            assert message["op"] == "error", (kind, how, message)
            assert message["error"]["id"] == "INVALID_TOKEN", (kind, how, message)
            assert code == 4401, (kind, how, code)
