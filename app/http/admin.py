"""The admin API's account routes: login, logout, user-info, change-password (API.md §4)."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.routing import Route

from app.commands.users import MAX_PASSWORD, MIN_PASSWORD
from app.config import Settings
from app.domain.errors import ApiError
from app.domain.ids import user_stream
from app.domain.validation import Body
from app.edge.auth import authenticate, requested_user
from app.edge.body import read_json
from app.edge.responses import JSONResponse, json
from app.http.client_address import client_address
from app.identity import login_throttle
from app.identity.password_checks import PasswordChecks
from app.identity.principal import SESSION, meta
from app.identity.secrets import new_secret, secret_hash
from app.store import transaction

PROFILE_FIELDS = ("email", "displayName", "language")


def _invalid_credentials() -> ApiError:
    return ApiError(401, "INVALID_CREDENTIALS", "Unknown user name or wrong password")


def password_checks(request: Request) -> PasswordChecks:
    return request.app.state.password_checks


async def login(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    pool: asyncpg.Pool = request.app.state.pool
    body = Body(await read_json(request), allowed={"userName", "password", "appId", "origin"})
    user_name = body.text("userName", required=True, max_len=100)
    password = body.text("password", required=True, max_len=MAX_PASSWORD)
    body.text("appId", max_len=255)
    body.text("origin", max_len=255)
    body.done()
    user_name = user_name.lower()
    # The user named by `userName` or the Host label (§1) must be the one logging in.
    selected = requested_user(request, settings)
    if selected is not None and selected != user_name:
        raise _invalid_credentials()
    address = client_address(request, settings.trusted_proxies)
    async with pool.acquire() as conn:
        # Before the check: a guess over the budget is never checked
        # (app/identity/login_throttle.py).
        reservation = await login_throttle.reserve(conn, settings, user_name, address)
        user = await conn.fetchrow(
            "SELECT user_id, user_name, password_hash FROM users WHERE user_name = $1", user_name
        )
    stored = user["password_hash"] if user else None
    if not await password_checks(request).verify(stored, password):
        raise _invalid_credentials()  # the reservation stays: it counts as a failure
    async with pool.acquire() as conn:
        await login_throttle.succeeded(conn, reservation)

    session_id = new_secret()
    session_hash = secret_hash(session_id)
    user_id = user["user_id"]
    actor = {
        "kind": SESSION,
        "userId": str(user_id),
        "userName": user_name,
        "sessionId": session_hash[:16],
    }

    async def command(tx: transaction.Tx) -> None:
        await tx.append(
            user_stream(user_id),
            "session.started",
            {"sessionHash": session_hash, "time": time.time()},
            user_id=user_id,
        )

    await transaction.run(pool, command, meta=meta(None, actor=actor))
    return json({"sessionID": session_id})


async def logout(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)

    async def command(tx: transaction.Tx) -> None:
        stream = user_stream(principal.user_id)
        await tx.lock(stream)
        # Two logouts racing: the second finds the session gone and appends nothing.
        if await tx.conn.fetchval(
            "SELECT 1 FROM sessions WHERE session_hash = $1", principal.credential_hash
        ):
            await tx.append(
                stream,
                "session.ended",
                {"sessionHash": principal.credential_hash, "time": time.time()},
                user_id=principal.user_id,
            )

    await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json({})


def _user_info(row: asyncpg.Record) -> dict[str, Any]:
    info: dict[str, Any] = {"userName": row["user_name"]}
    for key, column in (("email", "email"), ("displayName", "display_name"),
                        ("language", "language")):
        if row[column] is not None:
            info[key] = row[column]
    return info


async def _load_user(conn: asyncpg.Connection, user_id: Any) -> asyncpg.Record:
    return await conn.fetchrow(
        "SELECT user_name, email, display_name, language, password_hash FROM users "
        "WHERE user_id = $1",
        user_id,
    )


async def get_user_info(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    async with request.app.state.pool.acquire() as conn:
        return json(_user_info(await _load_user(conn, principal.user_id)))


async def put_user_info(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    body = Body(await read_json(request), allowed={"userName", *PROFILE_FIELDS})
    name = body.text("userName")
    if name is not None and name != principal.user_name:
        body.fail("userName", "userName is read-only")
    email = body.text("email", nullable=True, max_len=254)
    if isinstance(email, str) and "@" not in email:
        body.fail("email", "email must be an e-mail address")
    body.text("displayName", nullable=True, max_len=255)
    body.text("language", nullable=True, max_len=35)
    body.done()
    changes = {key: body.data[key] for key in PROFILE_FIELDS if body.has(key)}

    async def command(tx: transaction.Tx) -> dict[str, Any]:
        stream = user_stream(principal.user_id)
        if changes:
            await tx.lock(stream)
            await tx.append(
                stream, "user.updated", {**changes, "time": time.time()},
                user_id=principal.user_id,
            )
        return _user_info(await _load_user(tx.conn, principal.user_id))

    info = await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json(info)


async def change_password(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    body = Body(await read_json(request), allowed={"oldPassword", "newPassword"})
    old = body.text("oldPassword", required=True, max_len=MAX_PASSWORD)
    new = body.text("newPassword", required=True, max_len=MAX_PASSWORD * 2)
    body.done()
    if not MIN_PASSWORD <= len(new) <= MAX_PASSWORD or new == old:
        raise ApiError(
            400,
            "INVALID_NEW_PASSWORD",
            f"The new password must differ from the old one and have {MIN_PASSWORD} to "
            f"{MAX_PASSWORD} characters",
        )
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as conn:
        stored = (await _load_user(conn, principal.user_id))["password_hash"]
    checks = password_checks(request)
    if not await checks.verify(stored, old):
        raise ApiError(400, "WRONG_PASSWORD", "The old password is wrong")
    new_hash = await checks.hash(new)

    async def command(tx: transaction.Tx) -> None:
        stream = user_stream(principal.user_id)
        await tx.lock(stream)
        current = await tx.conn.fetchval(
            "SELECT password_hash FROM users WHERE user_id = $1", principal.user_id
        )
        if current != stored:  # changed by a concurrent request since we checked the old one
            raise ApiError(400, "WRONG_PASSWORD", "The old password is wrong")
        # The user's other sessions end with it (projections/accounts.py), their streams too
        # (app/realtime/fanout.py): whoever else held one no longer knows the password.
        await tx.append(
            stream,
            "user.password_changed",
            {"passwordHash": new_hash, "keptSession": principal.credential_hash,
             "time": time.time()},
            user_id=principal.user_id,
        )

    await transaction.run(pool, command, meta=meta(principal))
    return json({})


routes = [
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/user-info", get_user_info, methods=["GET"]),
    Route("/user-info", put_user_info, methods=["PUT"]),
    Route("/change-password", change_password, methods=["POST"]),
]
