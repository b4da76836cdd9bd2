"""Read models of user accounts: `users` and `sessions`."""

from __future__ import annotations

import asyncpg

from app.domain.accounts import (
    PROFILE_COLUMNS,
    SESSION_ENDED,
    SESSION_STARTED,
    USER_CREATED,
    USER_PASSWORD_CHANGED,
    USER_UPDATED,
)
from app.store.log import LogRecord
from projections.registry import handles, read_models

read_models("users", "sessions")


@handles(USER_CREATED)
async def user_created(conn: asyncpg.Connection, record: LogRecord) -> None:
    d = record.data
    await conn.execute(
        """INSERT INTO users (user_id, user_name, password_hash, email, display_name, language,
                              admin, created, modified)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)""",
        record.user_id,
        d["userName"],
        d["passwordHash"],
        d.get("email"),
        d.get("displayName"),
        d.get("language"),
        bool(d.get("admin", False)),
        d["time"],
    )


@handles(USER_UPDATED)
async def user_updated(conn: asyncpg.Connection, record: LogRecord) -> None:
    d = record.data
    changes = [(col, d[key]) for key, col in PROFILE_COLUMNS.items() if key in d]
    sets = ", ".join(f"{col} = ${i + 2}" for i, (col, _) in enumerate(changes))
    args = [value for _, value in changes]
    await conn.execute(
        f"UPDATE users SET {sets + ', ' if sets else ''}modified = ${len(args) + 2} "
        "WHERE user_id = $1",
        record.user_id,
        *args,
        d["time"],
    )


@handles(USER_PASSWORD_CHANGED)
async def password_changed(conn: asyncpg.Connection, record: LogRecord) -> None:
    d = record.data
    await conn.execute(
        "UPDATE users SET password_hash = $2, modified = $3 WHERE user_id = $1",
        record.user_id,
        d["passwordHash"],
        d["time"],
    )
    # Every session but the one that changed it ends (records from before this rule say
    # nothing of it and end none: a rebuild gives back what was).
    if "keptSession" in d:
        await conn.execute(
            "DELETE FROM sessions WHERE user_id = $1 AND session_hash <> $2",
            record.user_id,
            d["keptSession"],
        )


@handles(SESSION_STARTED)
async def session_started(conn: asyncpg.Connection, record: LogRecord) -> None:
    await conn.execute(
        "INSERT INTO sessions (session_hash, user_id, created) VALUES ($1, $2, $3)",
        record.data["sessionHash"],
        record.user_id,
        record.data["time"],
    )


@handles(SESSION_ENDED)
async def session_ended(conn: asyncpg.Connection, record: LogRecord) -> None:
    await conn.execute("DELETE FROM sessions WHERE session_hash = $1", record.data["sessionHash"])
