"""Read model of data access tokens (`tokens`). A revoked token is deleted from it."""

from __future__ import annotations

import asyncpg

from app.domain.tokens import TOKEN_CREATED, TOKEN_REVOKED, TOKEN_UPDATED
from app.store.log import LogRecord
from projections.registry import handles, read_models

read_models("tokens")


@handles(TOKEN_CREATED)
async def token_created(conn: asyncpg.Connection, record: LogRecord) -> None:
    d = record.data
    await conn.execute(
        """INSERT INTO tokens (user_id, token_id, token, token_hash, name, type, permissions,
                               created, modified)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)""",
        record.user_id,
        d["tokenId"],
        d["token"],
        d["tokenHash"],
        d["name"],
        d["type"],
        d["permissions"],
        d["time"],
    )


@handles(TOKEN_UPDATED)
async def token_updated(conn: asyncpg.Connection, record: LogRecord) -> None:
    d = record.data
    await conn.execute(
        """UPDATE tokens SET name = coalesce($3, name),
                             permissions = coalesce($4::jsonb, permissions),
                             modified = $5
           WHERE user_id = $1 AND token_id = $2""",
        record.user_id,
        d["tokenId"],
        d.get("name"),
        d.get("permissions"),
        d["time"],
    )


@handles(TOKEN_REVOKED)
async def token_revoked(conn: asyncpg.Connection, record: LogRecord) -> None:
    await conn.execute(
        "DELETE FROM tokens WHERE user_id = $1 AND token_id = $2",
        record.user_id,
        record.data["tokenId"],
    )
