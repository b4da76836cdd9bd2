"""Token commands (docs/api.md §4): create (or get the one of that name), update, revoke. Managed by
the owner's session only (the routes check it); each appends to the user's stream."""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from app.domain.errors import name_exists, unknown
from app.domain.ids import new_id, user_stream
from app.domain.tokens import SHARED, TOKEN_CREATED, TOKEN_REVOKED, TOKEN_UPDATED, unknown_token
from app.identity.principal import Principal, meta
from app.identity.secrets import new_secret, secret_hash
from app.read import tokens as read
from app.store import transaction


async def _check_channels(conn: asyncpg.Connection, user_id: Any, permissions: list) -> None:
    wanted = {p["channelId"] for p in permissions}
    if missing := sorted(wanted - await read.owned_channel_ids(conn, user_id, wanted)):
        raise unknown("UNKNOWN_CHANNEL", "channel", missing[0])


async def get_or_create_token(
    pool: asyncpg.Pool,
    principal: Principal,
    name: str,
    token_type: str,
    permissions: list[dict[str, Any]],
    *,
    refuse_other_type: bool,
) -> tuple[dict[str, Any], bool]:
    """(token, created). The token of that name if it exists, else a new one."""

    async def command(tx: transaction.Tx) -> tuple[dict[str, Any], bool]:
        stream = user_stream(principal.user_id)
        await tx.lock(stream)
        existing = await read.token_by_name(tx.conn, principal.user_id, name)
        if existing is not None:
            if refuse_other_type and existing["type"] != token_type:
                raise name_exists(f"A {existing['type']} token is named {name!r}")
            return read.token_json(existing), False
        await _check_channels(tx.conn, principal.user_id, permissions)
        secret = new_secret()
        token_id = new_id()
        await tx.append(
            stream,
            TOKEN_CREATED,
            {
                "tokenId": token_id,
                "token": secret,
                "tokenHash": secret_hash(secret),
                "name": name,
                "type": token_type,
                "permissions": permissions,
                "time": time.time(),
            },
            user_id=principal.user_id,
        )
        created = await read.token_by_id(tx.conn, principal.user_id, token_id)
        return read.token_json(created), True

    return await transaction.run(pool, command, meta=meta(principal))


async def update_token(
    pool: asyncpg.Pool,
    principal: Principal,
    token_id: str,
    *,
    name: str | None,
    permissions: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """Renames the token and, for a shared one, replaces its grants (None: unchanged); gives
    back the token as it now is."""

    async def command(tx: transaction.Tx) -> dict[str, Any]:
        stream = user_stream(principal.user_id)
        await tx.lock(stream)
        row = await read.token_by_id(tx.conn, principal.user_id, token_id)
        if row is None:
            raise unknown_token(token_id)
        change: dict[str, Any] = {"tokenId": token_id, "time": time.time()}
        if name is not None and name != row["name"]:
            if await read.token_by_name(tx.conn, principal.user_id, name):
                raise name_exists(f"A token is named {name!r}")
            change["name"] = name
        if permissions is not None and row["type"] == SHARED:
            await _check_channels(tx.conn, principal.user_id, permissions)
            change["permissions"] = permissions
        await tx.append(stream, TOKEN_UPDATED, change, user_id=principal.user_id)
        return read.token_json(await read.token_by_id(tx.conn, principal.user_id, token_id))

    return await transaction.run(pool, command, meta=meta(principal))


async def revoke_token(pool: asyncpg.Pool, principal: Principal, token_id: str) -> None:

    async def command(tx: transaction.Tx) -> None:
        stream = user_stream(principal.user_id)
        await tx.lock(stream)
        if await read.token_by_id(tx.conn, principal.user_id, token_id) is None:
            raise unknown_token(token_id)
        await tx.append(
            stream,
            TOKEN_REVOKED,
            {"tokenId": token_id, "time": time.time()},
            user_id=principal.user_id,
        )

    await transaction.run(pool, command, meta=meta(principal))
