"""Reading the account read models (`users`, `sessions`; written by projections/accounts.py):
the user-info shape (docs/api.md §4), what a login and a password change check, the profile the
compat dialects show."""

from __future__ import annotations

from typing import Any

import asyncpg

from app.domain.accounts import PROFILE_COLUMNS


def user_info(row: asyncpg.Record) -> dict[str, Any]:
    """`GET /user-info`: the user name, and each profile field that is set."""
    info: dict[str, Any] = {"userName": row["user_name"]}
    for key, column in PROFILE_COLUMNS.items():
        if row[column] is not None:
            info[key] = row[column]
    return info


async def load_user(conn: asyncpg.Connection, user_id: Any) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT user_name, email, display_name, language, password_hash FROM users "
        "WHERE user_id = $1",
        user_id,
    )


async def user_info_of(conn: asyncpg.Connection, user_id: Any) -> dict[str, Any]:
    return user_info(await load_user(conn, user_id))


async def login_candidate(conn: asyncpg.Connection, user_name: str) -> asyncpg.Record | None:
    """The user a login names: id, name and password hash (None if there is none)."""
    return await conn.fetchrow(
        "SELECT user_id, user_name, password_hash FROM users WHERE user_name = $1", user_name
    )


async def password_hash_of(conn: asyncpg.Connection, user_id: Any) -> str | None:
    return await conn.fetchval("SELECT password_hash FROM users WHERE user_id = $1", user_id)


async def user_name_in_use(conn: asyncpg.Connection, user_name: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM users WHERE user_name = $1", user_name))


async def session_exists(conn: asyncpg.Connection, session_hash: str) -> bool:
    return bool(
        await conn.fetchval("SELECT 1 FROM sessions WHERE session_hash = $1", session_hash)
    )


async def user_profile(pool: asyncpg.Pool, user_id: Any) -> dict[str, Any]:
    """The owner as the compat dialects name them: `user_name`, `email`, `display_name` (all
    None for a user that is not there)."""
    async with pool.acquire() as conn:
        row = await load_user(conn, user_id)
    if row is None:
        return {"user_name": None, "email": None, "display_name": None}
    return {key: row[key] for key in ("user_name", "email", "display_name")}
