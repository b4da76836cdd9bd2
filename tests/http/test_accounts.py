"""The admin API (docs/api.md §4 but the web page) and the conventions of §1 every route shares.

One test per answer the contract names: every error id of the admin routes, sessions that
expire when idle, login throttling, user selection, and the headers every answer carries.
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest

from app.logging_setup import RequestIdFilter
from tests.support import OPERATOR_KEY, PASSWORD, auth, create_user, error_id

NEW_PASSWORD = "a brand new passphrase"


def assert_error(r: httpx.Response, status: int, eid: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert error_id(r) == eid, r.text
    assert isinstance(r.json()["error"]["message"], str)


async def login(client: httpx.AsyncClient, name: str = "alice", password: str = PASSWORD,
                **kwargs) -> httpx.Response:
    return await client.post("/login", json={"userName": name, "password": password}, **kwargs)


# --- POST /system/users (operator key) -------------------------------------------------------


async def test_system_users_creates_a_user_with_the_operator_key(client) -> None:
    r = await client.post(
        "/system/users",
        json={"userName": "alice", "password": PASSWORD, "email": "a@example.org",
              "admin": True},
        headers=auth(OPERATOR_KEY),
    )
    assert r.status_code == 201, r.text
    assert r.json()["userName"] == "alice" and r.json()["id"]
    assert (await login(client)).status_code == 200


@pytest.mark.parametrize("key", [None, "", "wrong-key", OPERATOR_KEY + "x", OPERATOR_KEY[:-1]])
async def test_system_users_refuses_a_missing_or_wrong_operator_key(client, key) -> None:
    headers = {} if key is None else auth(key)
    r = await client.post(
        "/system/users", json={"userName": "alice", "password": PASSWORD}, headers=headers
    )
    assert_error(r, 401, "INVALID_CREDENTIALS")
    assert OPERATOR_KEY not in r.text


async def test_system_users_refuses_a_user_session_as_operator_key(client, session) -> None:
    r = await client.post(
        "/system/users", json={"userName": "bob", "password": PASSWORD}, headers=auth(session)
    )
    assert_error(r, 401, "INVALID_CREDENTIALS")


async def test_system_users_is_closed_when_no_operator_key_is_configured(make_client) -> None:
    closed = await make_client(admin_key=None)
    r = await closed.post("/system/users", json={"userName": "bob", "password": PASSWORD})
    assert_error(r, 401, "INVALID_CREDENTIALS")
    r = await closed.post(
        "/system/users", json={"userName": "bob", "password": PASSWORD},
        headers=auth(OPERATOR_KEY),
    )
    assert_error(r, 401, "INVALID_CREDENTIALS")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"password": PASSWORD}, "userName"),
        ({"userName": "Alice Smith", "password": PASSWORD}, "userName"),
        ({"userName": "al", "password": PASSWORD}, "userName"),
        ({"userName": "alice"}, "password"),
        ({"userName": "alice", "password": "short"}, "password"),
        ({"userName": "alice", "password": PASSWORD, "admin": "yes"}, "admin"),
        ({"userName": "alice", "password": PASSWORD, "role": "x"}, "role"),
    ],
)
async def test_system_users_refuses_bad_fields(client, body, param) -> None:
    r = await client.post("/system/users", json=body, headers=auth(OPERATOR_KEY))
    assert_error(r, 400, "INVALID_PARAMETERS_FORMAT")
    assert param in r.json()["error"]["data"]["params"]


async def test_system_users_refuses_a_taken_name(client, session) -> None:
    r = await client.post(
        "/system/users", json={"userName": "alice", "password": PASSWORD},
        headers=auth(OPERATOR_KEY),
    )
    assert_error(r, 400, "ITEM_NAME_ALREADY_EXISTS")


async def test_concurrent_creations_of_one_name_make_one_user(client, pool) -> None:
    answers = await asyncio.gather(*(
        client.post("/system/users", json={"userName": "zed", "password": PASSWORD},
                    headers=auth(OPERATOR_KEY))
        for _ in range(4)
    ))
    assert sorted(r.status_code for r in answers) == [201, 400, 400, 400]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM users WHERE user_name = 'zed'") == 1


# --- POST /login, POST /logout ---------------------------------------------------------------


async def test_login_answers_a_session_id_that_works(client, session) -> None:
    r = await login(client)
    assert r.status_code == 200
    session_id = r.json()["sessionID"]
    assert session_id != session
    assert (await client.get("/user-info", headers=auth(session_id))).status_code == 200


async def test_login_is_case_insensitive_on_the_user_name(client, session) -> None:
    assert (await login(client, "ALICE")).status_code == 200


@pytest.mark.parametrize(
    ("name", "password"), [("alice", "hunter2 is not it"), ("nobody", PASSWORD)]
)
async def test_login_refuses_a_wrong_password_or_unknown_user_alike(
    client, session, name, password
) -> None:
    r = await login(client, name, password)
    assert_error(r, 401, "INVALID_CREDENTIALS")
    assert password not in r.text


@pytest.mark.parametrize(
    "body",
    [{}, {"userName": "alice"}, {"password": PASSWORD}, {"userName": 1, "password": PASSWORD}],
)
async def test_login_refuses_missing_or_mistyped_fields(client, session, body) -> None:
    r = await client.post("/login", json=body)
    assert_error(r, 400, "INVALID_PARAMETERS_FORMAT")


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"'])
async def test_login_refuses_a_body_that_is_no_json_object(client, raw) -> None:
    r = await client.post("/login", content=raw, headers={"content-type": "application/json"})
    assert_error(r, 400, "INVALID_REQUEST_STRUCTURE")


async def test_repeated_failed_logins_are_throttled(make_client, pool) -> None:
    throttled = await make_client(login_max_failures=3, login_window_seconds=600)
    await create_user(throttled, "alice")
    await create_user(throttled, "bob")
    for _ in range(3):
        assert_error(await login(throttled, password="hunter2 is not it"), 401,
                     "INVALID_CREDENTIALS")
    r = await login(throttled, password="hunter2 is not it")
    assert_error(r, 429, "TOO_MANY_REQUESTS")
    assert 1 <= int(r.headers["retry-after"]) <= 600
    assert "server-time" in r.headers
    # The right password waits too, while another user is not affected.
    assert_error(await login(throttled), 429, "TOO_MANY_REQUESTS")
    assert (await login(throttled, "bob")).status_code == 200
    # Once the window has passed, the right password works and clears the count.
    async with pool.acquire() as conn:
        await conn.execute("UPDATE login_failures SET window_start = window_start - 601")
    assert (await login(throttled)).status_code == 200
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM login_failures") == 0


async def test_a_success_resets_the_failure_count(make_client) -> None:
    throttled = await make_client(login_max_failures=2, login_window_seconds=600)
    await create_user(throttled, "alice")
    assert (await login(throttled, password="hunter2 is not it")).status_code == 401
    assert (await login(throttled)).status_code == 200
    assert (await login(throttled, password="hunter2 is not it")).status_code == 401
    assert (await login(throttled)).status_code == 200


async def test_logout_ends_the_session_and_nothing_else(client, session) -> None:
    other = (await login(client)).json()["sessionID"]
    r = await client.post("/logout", headers=auth(session))
    assert r.status_code == 200
    assert_error(await client.get("/user-info", headers=auth(session)), 401,
                 "INVALID_CREDENTIALS")
    assert_error(await client.get("/channels", headers=auth(session)), 401, "INVALID_TOKEN")
    assert_error(await client.post("/logout", headers=auth(session)), 401, "INVALID_CREDENTIALS")
    assert (await client.get("/user-info", headers=auth(other))).status_code == 200


async def test_logout_needs_a_session(client, session) -> None:
    assert_error(await client.post("/logout"), 401, "INVALID_CREDENTIALS")
    token = await _personal_token(client, session)
    assert_error(await client.post("/logout", headers=auth(token)), 401, "INVALID_CREDENTIALS")


async def test_a_session_expires_after_its_idle_time(make_client) -> None:
    short = await make_client(session_idle_seconds=1)
    session = await create_user(short, "alice")
    assert (await short.get("/user-info", headers=auth(session))).status_code == 200
    await asyncio.sleep(1.5)
    assert_error(await short.get("/user-info", headers=auth(session)), 401, "INVALID_CREDENTIALS")
    assert_error(await short.get("/channels", headers=auth(session)), 401, "INVALID_TOKEN")


async def test_using_a_session_keeps_it_alive(client, session, pool) -> None:
    """Idle time counts from the last use, not from the login (30 minutes by default)."""
    from app.identity.secrets import secret_hash

    async def idle_for(seconds: float) -> None:
        async with pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO credential_usage (credential_hash, last_used) VALUES ($1, $2)
                   ON CONFLICT (credential_hash) DO UPDATE SET last_used = EXCLUDED.last_used""",
                secret_hash(session), time.time() - seconds,
            )

    await idle_for(29 * 60)
    assert (await client.get("/user-info", headers=auth(session))).status_code == 200
    await idle_for(29 * 60)  # counted again from the use just made: still alive
    assert (await client.get("/user-info", headers=auth(session))).status_code == 200
    await idle_for(31 * 60)
    assert_error(await client.get("/user-info", headers=auth(session)), 401, "INVALID_CREDENTIALS")


# --- user-info, change-password --------------------------------------------------------------


async def test_user_info_reads_and_updates_the_profile(client, session) -> None:
    r = await client.get("/user-info", headers=auth(session))
    assert r.status_code == 200 and r.json() == {"userName": "alice"}
    r = await client.put(
        "/user-info",
        json={"userName": "alice", "email": "a@example.org", "displayName": "Alice",
              "language": "fr"},
        headers=auth(session),
    )
    assert r.status_code == 200
    assert r.json() == {"userName": "alice", "email": "a@example.org", "displayName": "Alice",
                        "language": "fr"}
    r = await client.put("/user-info", json={"language": None}, headers=auth(session))
    assert r.json() == {"userName": "alice", "email": "a@example.org", "displayName": "Alice"}
    assert (await client.get("/user-info", headers=auth(session))).json() == r.json()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"userName": "mallory"}, "userName"),
        ({"email": "not an address"}, "email"),
        ({"displayName": 42}, "displayName"),
        ({"password": "x"}, "password"),
    ],
)
async def test_user_info_refuses_bad_fields(client, session, body, param) -> None:
    r = await client.put("/user-info", json=body, headers=auth(session))
    assert_error(r, 400, "INVALID_PARAMETERS_FORMAT")
    assert param in r.json()["error"]["data"]["params"]


async def test_user_info_needs_a_session(client, session) -> None:
    assert_error(await client.get("/user-info"), 401, "INVALID_CREDENTIALS")
    assert_error(await client.get("/user-info", headers=auth("no-such-session")), 401,
                 "INVALID_CREDENTIALS")
    token = await _personal_token(client, session)
    assert_error(await client.get("/user-info", headers=auth(token)), 401, "INVALID_CREDENTIALS")
    assert_error(await client.put("/user-info", json={}, headers=auth(token)), 401,
                 "INVALID_CREDENTIALS")


async def test_change_password(client, session, pool) -> None:
    r = await client.post("/change-password", json={"oldPassword": PASSWORD,
                                                    "newPassword": NEW_PASSWORD},
                          headers=auth(session))
    assert r.status_code == 200, r.text
    assert_error(await login(client), 401, "INVALID_CREDENTIALS")
    assert (await login(client, password=NEW_PASSWORD)).status_code == 200
    async with pool.acquire() as conn:
        stored = await conn.fetchval("SELECT password_hash FROM users")
        logged = await conn.fetchval("SELECT data::text || meta::text FROM event_log "
                                     "WHERE type = 'user.password_changed'")
    assert stored.startswith("$argon2")
    assert NEW_PASSWORD not in logged and PASSWORD not in logged


async def test_change_password_refuses_a_wrong_old_password(client, session) -> None:
    r = await client.post("/change-password", json={"oldPassword": "not the password",
                                                    "newPassword": NEW_PASSWORD},
                          headers=auth(session))
    assert_error(r, 400, "WRONG_PASSWORD")
    assert (await login(client)).status_code == 200


@pytest.mark.parametrize("new", ["short", PASSWORD, "x" * 1025])
async def test_change_password_refuses_an_invalid_new_password(client, session, new) -> None:
    r = await client.post("/change-password", json={"oldPassword": PASSWORD, "newPassword": new},
                          headers=auth(session))
    assert_error(r, 400, "INVALID_NEW_PASSWORD")
    assert (await login(client)).status_code == 200


@pytest.mark.parametrize("body", [{}, {"oldPassword": PASSWORD}, {"newPassword": NEW_PASSWORD}])
async def test_change_password_refuses_missing_fields(client, session, body) -> None:
    r = await client.post("/change-password", json=body, headers=auth(session))
    assert_error(r, 400, "INVALID_PARAMETERS_FORMAT")


async def test_change_password_needs_a_session(client, session) -> None:
    token = await _personal_token(client, session)
    body = {"oldPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    assert_error(await client.post("/change-password", json=body), 401, "INVALID_CREDENTIALS")
    assert_error(await client.post("/change-password", json=body, headers=auth(token)), 401,
                 "INVALID_CREDENTIALS")


# --- channels --------------------------------------------------------------------------------


async def test_channel_lifecycle(client, session) -> None:
    r = await client.post("/channels", json={"name": "Work", "clientData": {"a": 1, "b": 2}},
                          headers=auth(session))
    assert r.status_code == 201
    channel_id = r.json()["id"]
    r = await client.get("/channels", headers=auth(session))
    (channel,) = r.json()
    assert channel["id"] == channel_id and channel["name"] == "Work"
    assert channel["enforceNoEventsOverlap"] is True and channel["trashed"] is False
    assert channel["clientData"] == {"a": 1, "b": 2}

    r = await client.put(f"/channels/{channel_id}",
                         json={"name": "Job", "enforceNoEventsOverlap": False,
                               "clientData": {"a": None, "c": 3}},
                         headers=auth(session))
    assert r.status_code == 200
    assert r.json()["name"] == "Job" and r.json()["enforceNoEventsOverlap"] is False
    assert r.json()["clientData"] == {"b": 2, "c": 3}
    assert r.json()["modified"] >= channel["modified"]

    r = await client.delete(f"/channels/{channel_id}", headers=auth(session))
    assert r.status_code == 200
    assert (await client.get("/channels", headers=auth(session))).json() == []
    trashed = (await client.get("/channels?state=trashed", headers=auth(session))).json()
    assert [c["id"] for c in trashed] == [channel_id] and trashed[0]["trashed"] is True

    r = await client.delete(f"/channels/{channel_id}", headers=auth(session))
    assert r.status_code == 200
    assert (await client.get("/channels?state=all", headers=auth(session))).json() == []
    assert_error(await client.delete(f"/channels/{channel_id}", headers=auth(session)), 404,
                 "UNKNOWN_CHANNEL")


async def test_a_client_chosen_channel_id(client, session) -> None:
    r = await client.post("/channels", json={"id": "work", "name": "Work"}, headers=auth(session))
    assert r.status_code == 201 and r.json() == {"id": "work"}
    r = await client.post("/channels", json={"id": "work", "name": "Other"},
                          headers=auth(session))
    assert_error(r, 400, "ITEM_ID_ALREADY_EXISTS")


async def test_channel_names_are_unique_per_user(client, session) -> None:
    assert (await client.post("/channels", json={"name": "Work"},
                              headers=auth(session))).status_code == 201
    assert_error(await client.post("/channels", json={"name": "Work"}, headers=auth(session)),
                 400, "ITEM_NAME_ALREADY_EXISTS")
    other = (await client.post("/channels", json={"name": "Home"},
                               headers=auth(session))).json()["id"]
    assert_error(await client.put(f"/channels/{other}", json={"name": "Work"},
                                  headers=auth(session)), 400, "ITEM_NAME_ALREADY_EXISTS")
    bob = await create_user(client, "bob")
    assert (await client.post("/channels", json={"name": "Work"},
                              headers=auth(bob))).status_code == 201


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "name"),
        ({"name": "  "}, "name"),
        ({"name": 3}, "name"),
        ({"name": "X", "id": "tokens"}, "id"),
        ({"name": "X", "id": ".."}, "id"),
        ({"name": "X", "id": "has space"}, "id"),
        ({"name": "X", "enforceNoEventsOverlap": "no"}, "enforceNoEventsOverlap"),
        ({"name": "X", "clientData": [1]}, "clientData"),
        ({"name": "X", "colour": "red"}, "colour"),
    ],
)
async def test_channel_creation_refuses_bad_fields(client, session, body, param) -> None:
    r = await client.post("/channels", json=body, headers=auth(session))
    assert_error(r, 400, "INVALID_PARAMETERS_FORMAT")
    assert param in r.json()["error"]["data"]["params"]
    assert (await client.get("/channels?state=all", headers=auth(session))).json() == []


async def test_channel_routes_answer_unknown_channel(client, session) -> None:
    assert_error(await client.put("/channels/nope", json={"name": "X"}, headers=auth(session)),
                 404, "UNKNOWN_CHANNEL")
    assert_error(await client.delete("/channels/nope", headers=auth(session)), 404,
                 "UNKNOWN_CHANNEL")


async def test_another_users_channel_is_unknown(client, session) -> None:
    channel_id = (await client.post("/channels", json={"name": "Work"},
                                    headers=auth(session))).json()["id"]
    bob = await create_user(client, "bob")
    assert_error(await client.put(f"/channels/{channel_id}", json={"name": "Mine"},
                                  headers=auth(bob)), 404, "UNKNOWN_CHANNEL")
    assert_error(await client.delete(f"/channels/{channel_id}", headers=auth(bob)), 404,
                 "UNKNOWN_CHANNEL")
    assert (await client.get("/channels", headers=auth(bob))).json() == []


async def test_channels_are_changed_with_a_session_only(client, session) -> None:
    channel_id = (await client.post("/channels", json={"name": "Work"},
                                    headers=auth(session))).json()["id"]
    token = await _personal_token(client, session)
    assert (await client.get("/channels", headers=auth(token))).status_code == 200
    for r in (
        await client.post("/channels", json={"name": "X"}, headers=auth(token)),
        await client.put(f"/channels/{channel_id}", json={"name": "X"}, headers=auth(token)),
        await client.delete(f"/channels/{channel_id}", headers=auth(token)),
    ):
        assert_error(r, 401, "INVALID_CREDENTIALS")
    assert_error(await client.get("/channels"), 401, "INVALID_TOKEN")


@pytest.mark.parametrize("query", ["state=gone", "timeCountBase=soon"])
async def test_channel_list_refuses_bad_query_parameters(client, session, query) -> None:
    r = await client.get(f"/channels?{query}", headers=auth(session))
    assert_error(r, 400, "INVALID_PARAMETERS_FORMAT")


# --- tokens ----------------------------------------------------------------------------------


async def _personal_token(client: httpx.AsyncClient, session: str) -> str:
    r = await client.post("/tokens", json={"name": "personal", "type": "personal"},
                          headers=auth(session))
    assert r.status_code in (200, 201), r.text
    return r.json()["token"]


def _read_only(channel_id: str) -> list[dict]:
    return [{"channelId": channel_id,
             "folderPermissions": [{"folderId": None, "type": "read-only"}]}]


async def test_post_tokens_gets_or_creates_by_name(client, session) -> None:
    channel_id = (await client.post("/channels", json={"name": "Work"},
                                    headers=auth(session))).json()["id"]
    r = await client.post("/tokens", json={"name": "app", "permissions": _read_only(channel_id)},
                          headers=auth(session))
    assert r.status_code == 201
    token = r.json()
    assert token["name"] == "app" and token["type"] == "shared"
    assert token["permissions"] == _read_only(channel_id)
    assert token["id"] != token["token"] and "lastUsed" not in token
    r = await client.post("/tokens", json={"name": "app"}, headers=auth(session))
    assert r.status_code == 200 and r.json() == token
    assert (await client.get("/channels", headers=auth(token["token"]))).status_code == 200
    listed = (await client.get("/tokens", headers=auth(session))).json()
    assert [t["id"] for t in listed] == [token["id"]] and "lastUsed" in listed[0]


async def test_tokens_are_listed_by_name(client, session) -> None:
    for name in ("zeta", "alpha", "mid"):
        await client.post("/tokens", json={"name": name}, headers=auth(session))
    names = [t["name"] for t in (await client.get("/tokens", headers=auth(session))).json()]
    assert names == ["alpha", "mid", "zeta"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x", "type": "root"}, "type"),
        ({"name": "x", "permissions": "all"}, "permissions"),
        ({"name": "x", "secret": "mine"}, "secret"),
    ],
)
async def test_post_tokens_refuses_bad_fields(client, session, body, param) -> None:
    r = await client.post("/tokens", json=body, headers=auth(session))
    assert_error(r, 400, "INVALID_PARAMETERS_FORMAT")
    assert any(param in p for p in r.json()["error"]["data"]["params"])


async def test_a_token_for_an_unknown_channel_is_refused(client, session) -> None:
    r = await client.post("/tokens", json={"name": "app", "permissions": _read_only("nope")},
                          headers=auth(session))
    assert_error(r, 404, "UNKNOWN_CHANNEL")
    assert (await client.get("/tokens", headers=auth(session))).json() == []


async def test_get_token_by_name_is_a_personal_get_or_create(client, session) -> None:
    r = await client.get("/tokens/my-client", headers=auth(session))
    assert r.status_code == 201
    token = r.json()
    assert token["type"] == "personal" and token["name"] == "my-client"
    r = await client.get("/tokens/my-client", headers=auth(session))
    assert r.status_code == 200 and r.json()["token"] == token["token"]


async def test_get_token_by_name_held_by_a_shared_token_is_refused(client, session) -> None:
    await client.post("/tokens", json={"name": "app"}, headers=auth(session))
    assert_error(await client.get("/tokens/app", headers=auth(session)), 400,
                 "ITEM_NAME_ALREADY_EXISTS")


async def test_modify_a_token(client, session) -> None:
    one = (await client.post("/channels", json={"name": "One"}, headers=auth(session))).json()
    two = (await client.post("/channels", json={"name": "Two"}, headers=auth(session))).json()
    token = (await client.post("/tokens", json={"name": "app",
                                                "permissions": _read_only(one["id"])},
                               headers=auth(session))).json()
    r = await client.put(f"/tokens/{token['id']}",
                         json={"name": "renamed", "permissions": _read_only(two["id"])},
                         headers=auth(session))
    assert r.status_code == 200
    assert r.json()["name"] == "renamed" and r.json()["permissions"] == _read_only(two["id"])
    assert r.json()["token"] == token["token"]
    seen = (await client.get("/channels", headers=auth(token["token"]))).json()
    assert [c["id"] for c in seen] == [two["id"]]


async def test_modify_token_errors(client, session) -> None:
    first = (await client.post("/tokens", json={"name": "first"}, headers=auth(session))).json()
    await client.post("/tokens", json={"name": "second"}, headers=auth(session))
    assert_error(await client.put("/tokens/nope", json={"name": "x"}, headers=auth(session)),
                 404, "UNKNOWN_TOKEN")
    assert_error(await client.put(f"/tokens/{first['id']}", json={"name": "second"},
                                  headers=auth(session)), 400, "ITEM_NAME_ALREADY_EXISTS")
    assert_error(await client.put(f"/tokens/{first['id']}", json={"type": "personal"},
                                  headers=auth(session)), 400, "INVALID_PARAMETERS_FORMAT")
    assert_error(await client.put(f"/tokens/{first['id']}",
                                  json={"permissions": _read_only("nope")},
                                  headers=auth(session)), 404, "UNKNOWN_CHANNEL")


async def test_revoke_a_token(client, session) -> None:
    token = (await client.post("/tokens", json={"name": "app"}, headers=auth(session))).json()
    assert (await client.get("/channels", headers=auth(token["token"]))).status_code == 200
    r = await client.delete(f"/tokens/{token['id']}", headers=auth(session))
    assert r.status_code == 200
    assert_error(await client.get("/channels", headers=auth(token["token"])), 401,
                 "INVALID_TOKEN")
    assert (await client.get("/tokens", headers=auth(session))).json() == []
    assert_error(await client.delete(f"/tokens/{token['id']}", headers=auth(session)), 404,
                 "UNKNOWN_TOKEN")


async def test_another_users_token_is_unknown(client, session) -> None:
    token = (await client.post("/tokens", json={"name": "app"}, headers=auth(session))).json()
    bob = await create_user(client, "bob")
    assert_error(await client.put(f"/tokens/{token['id']}", json={"name": "x"},
                                  headers=auth(bob)), 404, "UNKNOWN_TOKEN")
    assert_error(await client.delete(f"/tokens/{token['id']}", headers=auth(bob)), 404,
                 "UNKNOWN_TOKEN")
    assert (await client.get("/tokens", headers=auth(bob))).json() == []


async def test_tokens_are_managed_with_a_session_only(client, session) -> None:
    token = await _personal_token(client, session)
    for r in (
        await client.get("/tokens", headers=auth(token)),
        await client.post("/tokens", json={"name": "x"}, headers=auth(token)),
        await client.get("/tokens/x", headers=auth(token)),
        await client.put("/tokens/x", json={}, headers=auth(token)),
        await client.delete("/tokens/x", headers=auth(token)),
        await client.get("/tokens"),
    ):
        assert_error(r, 401, "INVALID_CREDENTIALS")


# --- which user (§1) -------------------------------------------------------------------------


async def test_user_name_query_parameter_selects_the_user(client, session) -> None:
    await create_user(client, "bob")
    assert (await client.get("/user-info?userName=alice", headers=auth(session))).status_code \
        == 200
    assert_error(await client.get("/user-info?userName=bob", headers=auth(session)), 401,
                 "INVALID_CREDENTIALS")
    assert_error(await client.get("/channels?userName=bob", headers=auth(session)), 401,
                 "INVALID_TOKEN")
    token = await _personal_token(client, session)
    assert_error(await client.get("/channels?userName=bob", headers=auth(token)), 401,
                 "INVALID_TOKEN")
    assert (await client.get("/channels?userName=ALICE", headers=auth(token))).status_code == 200


async def test_host_label_selects_the_user_under_the_domain(make_client) -> None:
    hosted = await make_client(domain="example.org")
    alice = await create_user(hosted, "alice")
    await create_user(hosted, "bob")

    async def user_info(host: str, query: str = "") -> httpx.Response:
        return await hosted.get(f"/user-info{query}", headers={**auth(alice), "Host": host})

    assert (await user_info("alice.example.org")).status_code == 200
    assert (await user_info("ALICE.Example.org:8000")).status_code == 200
    assert_error(await user_info("bob.example.org"), 401, "INVALID_CREDENTIALS")
    # Not under the domain (or deeper than one label): the credential decides.
    assert (await user_info("bob.example.com")).status_code == 200
    assert (await user_info("x.bob.example.org")).status_code == 200
    assert (await user_info("example.org")).status_code == 200
    # userName comes first.
    assert (await user_info("bob.example.org", "?userName=alice")).status_code == 200
    assert_error(await user_info("alice.example.org", "?userName=bob"), 401,
                 "INVALID_CREDENTIALS")
    r = await hosted.get("/channels", headers={**auth(alice), "Host": "bob.example.org"})
    assert_error(r, 401, "INVALID_TOKEN")


async def test_login_refuses_a_user_name_other_than_the_one_selected(make_client) -> None:
    hosted = await make_client(domain="example.org")
    await create_user(hosted, "alice")
    await create_user(hosted, "bob")
    r = await login(hosted, headers={"Host": "bob.example.org"})
    assert_error(r, 401, "INVALID_CREDENTIALS")
    r = await hosted.post("/login?userName=bob",
                          json={"userName": "alice", "password": PASSWORD})
    assert_error(r, 401, "INVALID_CREDENTIALS")
    assert (await login(hosted, headers={"Host": "alice.example.org"})).status_code == 200


async def test_credentials_in_the_auth_query_parameter_and_with_bearer(client, session) -> None:
    assert (await client.get(f"/user-info?auth={session}")).status_code == 200
    r = await client.get("/user-info", headers={"Authorization": f"Bearer {session}"})
    assert r.status_code == 200


# --- what every answer carries (§1) ----------------------------------------------------------


async def test_server_time_on_every_answer_errors_included(make_client, session) -> None:
    small = await make_client(max_body_bytes=100)
    answers = [
        await small.get("/health"),
        await small.get("/user-info", headers=auth(session)),
        await small.get("/user-info"),
        await small.get("/no/such/route/anywhere"),
        await small.patch("/channels"),
        await small.post("/login", content=b"{"),
        await small.post("/channels", content=b"x" * 200, headers=auth(session)),
        await small.options("/channels", headers={"Origin": "https://app.example",
                                                  "Access-Control-Request-Method": "POST"}),
    ]
    assert [r.status_code for r in answers] == [200, 200, 401, 404, 405, 400, 413, 200]
    now = time.time()
    for r in answers:
        server_time = float(r.headers["server-time"])
        assert abs(server_time - now) < 600, r.headers
        assert r.headers["x-request-id"]


async def test_unknown_routes_and_methods_answer_json(client, session) -> None:
    assert_error(await client.get("/no/such/route/anywhere"), 404, "UNKNOWN_RESOURCE")
    r = await client.delete("/login")
    assert_error(r, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in r.headers.get("allow", "")
    assert_error(await client.patch("/channels", headers=auth(session)), 405,
                 "METHOD_NOT_ALLOWED")
    assert_error(await client.put("/tokens", headers=auth(session)), 405, "METHOD_NOT_ALLOWED")


async def test_cors_allows_any_origin_and_exposes_the_headers(make_client, session) -> None:
    small = await make_client(max_body_bytes=100)
    origin = {"Origin": "https://app.example"}
    r = await small.options("/channels", headers={**origin,
                                                  "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers":
                                                      "authorization, content-type"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] in ("*", "https://app.example")
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    for r in (
        await small.get("/channels", headers={**origin, **auth(session)}),
        await small.get("/channels", headers=origin),  # an error
        await small.post("/channels", content=b"x" * 200, headers={**origin, **auth(session)}),
    ):
        assert r.headers["access-control-allow-origin"] in ("*", "https://app.example")
        exposed = {h.strip().lower() for h in
                   r.headers["access-control-expose-headers"].split(",")}
        assert {"server-time", "x-activity", "location"} <= exposed, r.status_code


async def test_a_body_over_the_limit_is_413(make_client, session) -> None:
    small = await make_client(max_body_bytes=1000)
    big = {"name": "x" * 2000}
    assert_error(await small.post("/channels", json=big, headers=auth(session)), 413,
                 "REQUEST_TOO_LARGE")

    async def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(10):
            yield b" " * 300

    r = await small.post("/channels", content=chunks(),
                         headers={**auth(session), "content-type": "application/json"})
    assert_error(r, 413, "REQUEST_TOO_LARGE")
    assert (await small.get("/channels", headers=auth(session))).json() == []
    assert (await small.post("/channels", json={"name": "ok"},
                             headers=auth(session))).status_code == 201


async def test_the_auth_query_parameter_is_redacted_in_the_logs(client, session, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    # As `app.logging_setup.configure` does for the server's handler: each line gets its request id.
    caplog.handler.addFilter(RequestIdFilter())
    r = await client.get(f"/channels?auth={session}&state=all")
    assert r.status_code == 200
    await login(client, headers={"X-Request-Id": "login-req-1"})
    await login(client, password="hunter3 is not it")
    lines = [record for record in caplog.records if record.name == "app.access"]
    # Everything the server logged (the test client's own httpx lines are not the server's).
    text = "\n".join(rec.getMessage() for rec in caplog.records if rec.name != "httpx")
    assert session not in text
    assert PASSWORD not in text and "hunter3 is not it" not in text
    assert any("/channels?auth=***&state=all" in rec.getMessage() for rec in lines)
    # Each access line carries the request id of its request.
    by_id = {rec.request_id: rec.getMessage() for rec in lines}
    assert r.headers["x-request-id"] in by_id
    assert "/login" in by_id["login-req-1"]


async def test_health_and_ready(client) -> None:
    r = await client.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = await client.get("/ready")
    assert r.status_code == 200 and r.json() == {"status": "ready"}
