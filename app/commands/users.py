"""Creating users: shared by `POST /system/users` and `activity-server user add`."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import asyncpg

from app.domain.errors import ApiError, invalid_parameter, name_exists
from app.domain.ids import user_stream
from app.identity.secrets import hash_password
from app.store import transaction

# Lower case, digits and dashes: a user name doubles as a host label (`alice.example.org`).
USER_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def check_password(password: str, param: str = "password") -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise invalid_parameter(
            param, f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )


async def create_user(
    pool: asyncpg.Pool,
    *,
    user_name: str,
    password: str,
    email: str | None = None,
    admin: bool = False,
    meta: dict[str, Any],
) -> uuid.UUID:
    if not USER_NAME.fullmatch(user_name):
        raise invalid_parameter(
            "userName", "A user name has 3 to 40 lower-case letters, digits or dashes"
        )
    check_password(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    user_id = uuid.uuid4()

    async def command(tx: transaction.Tx) -> None:
        # The name's lock serialises two creations of one name; the unique index backs it up.
        await tx.lock(f"username-{user_name}", user_stream(user_id))
        if await tx.conn.fetchval("SELECT 1 FROM users WHERE user_name = $1", user_name):
            raise name_exists(f"The user name {user_name!r} is taken")
        data: dict[str, Any] = {
            "userName": user_name,
            "passwordHash": password_hash,
            "admin": admin,
            "time": time.time(),
        }
        if email is not None:
            data["email"] = email
        await tx.append(user_stream(user_id), "user.created", data, user_id=user_id)

    try:
        await transaction.run(pool, command, meta=meta)
    except asyncpg.UniqueViolationError:
        raise name_exists(f"The user name {user_name!r} is taken") from None
    return user_id


def operator_refused() -> ApiError:
    return ApiError(401, "INVALID_CREDENTIALS", "The operator key is missing or wrong")
