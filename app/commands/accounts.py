"""Account commands: create a user (`POST /system/users`, `activity-server user add`), log in
and out, change the profile, change the password. Each appends to the user's stream
(projections/accounts.py keeps `users` and `sessions`)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg

from app.config import Settings
from app.domain.accounts import (
    SESSION_ENDED,
    SESSION_STARTED,
    USER_CREATED,
    USER_PASSWORD_CHANGED,
    USER_UPDATED,
    check_new_password,
    check_password,
    check_user_name,
    invalid_credentials,
    user_name_taken,
    wrong_password,
)
from app.domain.ids import user_stream
from app.identity import login_throttle
from app.identity.password_checks import PasswordChecks
from app.identity.principal import SESSION, Principal, meta
from app.identity.secrets import hash_password, new_secret, secret_hash
from app.read import accounts as read
from app.store import transaction


async def create_user(
    pool: asyncpg.Pool,
    *,
    user_name: str,
    password: str,
    email: str | None = None,
    admin: bool = False,
    meta: dict[str, Any],
) -> uuid.UUID:
    check_user_name(user_name)
    check_password(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    user_id = uuid.uuid4()

    async def command(tx: transaction.Tx) -> None:
        # The name's lock serialises two creations of one name; the unique index backs it up.
        await tx.lock(f"username-{user_name}", user_stream(user_id))
        if await read.user_name_in_use(tx.conn, user_name):
            raise user_name_taken(user_name)
        data: dict[str, Any] = {
            "userName": user_name,
            "passwordHash": password_hash,
            "admin": admin,
            "time": time.time(),
        }
        if email is not None:
            data["email"] = email
        await tx.append(user_stream(user_id), USER_CREATED, data, user_id=user_id)

    try:
        await transaction.run(pool, command, meta=meta)
    except asyncpg.UniqueViolationError:
        raise user_name_taken(user_name) from None
    return user_id


async def log_in(
    pool: asyncpg.Pool,
    settings: Settings,
    checks: PasswordChecks,
    *,
    user_name: str,
    password: str,
    address: str | None,
) -> str:
    """A new session for the user, if the password is theirs: its secret (`sessionID`)."""
    async with pool.acquire() as conn:
        # Before the check: a guess over the budget is never checked
        # (app/identity/login_throttle.py).
        reservation = await login_throttle.reserve(conn, settings, user_name, address)
        user = await read.login_candidate(conn, user_name)
    stored = user["password_hash"] if user else None
    if not await checks.verify(stored, password):
        raise invalid_credentials()  # the reservation stays: it counts as a failure
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
            SESSION_STARTED,
            {"sessionHash": session_hash, "time": time.time()},
            user_id=user_id,
        )

    await transaction.run(pool, command, meta=meta(None, actor=actor))
    return session_id


async def log_out(pool: asyncpg.Pool, principal: Principal) -> None:
    """Ends the caller's session."""

    async def command(tx: transaction.Tx) -> None:
        stream = user_stream(principal.user_id)
        await tx.lock(stream)
        # Two logouts racing: the second finds the session gone and appends nothing.
        if await read.session_exists(tx.conn, principal.credential_hash):
            await tx.append(
                stream,
                SESSION_ENDED,
                {"sessionHash": principal.credential_hash, "time": time.time()},
                user_id=principal.user_id,
            )

    await transaction.run(pool, command, meta=meta(principal))


async def update_profile(
    pool: asyncpg.Pool, principal: Principal, changes: dict[str, Any]
) -> dict[str, Any]:
    """Sets the profile fields in `changes` (app/domain/accounts.py `PROFILE_FIELDS`; nothing
    is appended when it is empty); gives back the user info as it now is."""

    async def command(tx: transaction.Tx) -> dict[str, Any]:
        stream = user_stream(principal.user_id)
        if changes:
            await tx.lock(stream)
            await tx.append(
                stream, USER_UPDATED, {**changes, "time": time.time()},
                user_id=principal.user_id,
            )
        return await read.user_info_of(tx.conn, principal.user_id)

    return await transaction.run(pool, command, meta=meta(principal))


async def change_password(
    pool: asyncpg.Pool,
    settings: Settings,
    checks: PasswordChecks,
    principal: Principal,
    *,
    old: str,
    new: str,
    address: str | None,
) -> None:
    """The old password is a guess like a login's: it takes a unit of the same budgets before
    it is checked (docs/api.md §4.4), so a stolen session cannot try passwords faster than the
    login form allows."""
    check_new_password(old, new)
    async with pool.acquire() as conn:
        reservation = await login_throttle.reserve(
            conn, settings, principal.user_name, address
        )
        stored = await read.password_hash_of(conn, principal.user_id)
    if not await checks.verify(stored, old):
        raise wrong_password()  # the reservation stays: it counts as a failure
    async with pool.acquire() as conn:
        await login_throttle.succeeded(conn, reservation)
    new_hash = await checks.hash(new)

    async def command(tx: transaction.Tx) -> None:
        stream = user_stream(principal.user_id)
        await tx.lock(stream)
        current = await read.password_hash_of(tx.conn, principal.user_id)
        if current != stored:  # changed by a concurrent request since we checked the old one
            raise wrong_password()
        # The user's other sessions end with it (projections/accounts.py), their streams too
        # (app/realtime/fanout.py): whoever else held one no longer knows the password.
        await tx.append(
            stream,
            USER_PASSWORD_CHANGED,
            {"passwordHash": new_hash, "keptSession": principal.credential_hash,
             "time": time.time()},
            user_id=principal.user_id,
        )

    await transaction.run(pool, command, meta=meta(principal))
