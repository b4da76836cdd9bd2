"""Data access tokens (API.md §2 "Token", §4): managed by the owner's session only."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.routing import Route

from app.domain.errors import ApiError, invalid_parameter, name_exists, unknown
from app.domain.ids import new_id, user_stream
from app.domain.validation import Body
from app.edge.auth import authenticate
from app.edge.body import read_json
from app.edge.responses import JSONResponse, json
from app.identity.permissions import parse_permissions
from app.identity.principal import Principal, meta
from app.identity.secrets import new_secret, secret_hash
from app.store import transaction

TOKEN_TYPES = ("personal", "shared")
_COLUMNS = """t.token_id, t.token, t.name, t.type, t.permissions, t.created, t.modified,
              cu.last_used"""
_FROM = """tokens t LEFT JOIN credential_usage cu ON cu.credential_hash = t.token_hash"""


def token_json(row: asyncpg.Record) -> dict[str, Any]:
    token = {
        "id": row["token_id"],
        "token": row["token"],
        "name": row["name"],
        "type": row["type"],
        "permissions": row["permissions"],
        "created": row["created"],
        "modified": row["modified"],
    }
    if row["last_used"] is not None:
        token["lastUsed"] = row["last_used"]
    return token


async def _by(conn: asyncpg.Connection, user_id: Any, column: str, value: str) -> Any:
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE t.user_id = $1 AND t.{column} = $2",
        user_id,
        value,
    )


async def _check_channels(conn: asyncpg.Connection, user_id: Any, permissions: list) -> None:
    wanted = {p["channelId"] for p in permissions}
    found = {
        r["channel_id"]
        for r in await conn.fetch(
            "SELECT channel_id FROM channels WHERE user_id = $1 AND channel_id = ANY($2)",
            user_id,
            list(wanted),
        )
    }
    if missing := sorted(wanted - found):
        raise unknown("UNKNOWN_CHANNEL", "channel", missing[0])


async def _get_or_create(
    request: Request,
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
        existing = await _by(tx.conn, principal.user_id, "name", name)
        if existing is not None:
            if refuse_other_type and existing["type"] != token_type:
                raise name_exists(f"A {existing['type']} token is named {name!r}")
            return token_json(existing), False
        await _check_channels(tx.conn, principal.user_id, permissions)
        secret = new_secret()
        token_id = new_id()
        await tx.append(
            stream,
            "token.created",
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
        return token_json(await _by(tx.conn, principal.user_id, "token_id", token_id)), True

    return await transaction.run(request.app.state.pool, command, meta=meta(principal))


async def list_tokens(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE t.user_id = $1 ORDER BY t.name",
            principal.user_id,
        )
    return json([token_json(r) for r in rows])


async def post_token(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    body = Body(await read_json(request), allowed={"name", "type", "permissions"})
    name = body.name("name", required=True)
    token_type = body.text("type") or "shared"
    if token_type not in TOKEN_TYPES:
        body.fail("type", "type must be personal or shared")
    permissions: list[dict[str, Any]] = []
    if body.has("permissions"):
        permissions, errors = parse_permissions(body.data["permissions"])
        body.errors.extend(errors)
    body.done()
    if token_type == "personal":
        permissions = []
    token, created = await _get_or_create(
        request, principal, name, token_type, permissions, refuse_other_type=False
    )
    return json(token, status=201 if created else 200)


async def get_token_by_name(request: Request) -> JSONResponse:
    """The original API's `GET /tokens/{name}`: get-or-create a personal token for a client."""
    principal = await authenticate(request, session_only=True)
    name = request.path_params["key"]
    if not 1 <= len(name) <= 255 or not name.strip():
        raise invalid_parameter("name", "A token name has 1 to 255 characters")
    token, created = await _get_or_create(
        request, principal, name, "personal", [], refuse_other_type=True
    )
    return json(token, status=201 if created else 200)


def _unknown_token(token_id: str) -> ApiError:
    return unknown("UNKNOWN_TOKEN", "token", token_id)


async def update_token(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    token_id = request.path_params["key"]
    body = Body(await read_json(request), allowed={"name", "permissions"})
    name = body.name("name")
    permissions = None
    if body.has("permissions"):
        permissions, errors = parse_permissions(body.data["permissions"])
        body.errors.extend(errors)
    body.done()

    async def command(tx: transaction.Tx) -> dict[str, Any]:
        stream = user_stream(principal.user_id)
        await tx.lock(stream)
        row = await _by(tx.conn, principal.user_id, "token_id", token_id)
        if row is None:
            raise _unknown_token(token_id)
        change: dict[str, Any] = {"tokenId": token_id, "time": time.time()}
        if name is not None and name != row["name"]:
            if await _by(tx.conn, principal.user_id, "name", name):
                raise name_exists(f"A token is named {name!r}")
            change["name"] = name
        if permissions is not None and row["type"] == "shared":
            await _check_channels(tx.conn, principal.user_id, permissions)
            change["permissions"] = permissions
        await tx.append(stream, "token.updated", change, user_id=principal.user_id)
        return token_json(await _by(tx.conn, principal.user_id, "token_id", token_id))

    token = await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json(token)


async def revoke_token(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    token_id = request.path_params["key"]

    async def command(tx: transaction.Tx) -> None:
        stream = user_stream(principal.user_id)
        await tx.lock(stream)
        if await _by(tx.conn, principal.user_id, "token_id", token_id) is None:
            raise _unknown_token(token_id)
        await tx.append(
            stream,
            "token.revoked",
            {"tokenId": token_id, "time": time.time()},
            user_id=principal.user_id,
        )

    await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json({"tokenDeletion": {"id": token_id}})


routes = [
    Route("/tokens", list_tokens, methods=["GET"]),
    Route("/tokens", post_token, methods=["POST"]),
    Route("/tokens/{key}", get_token_by_name, methods=["GET"]),
    Route("/tokens/{key}", update_token, methods=["PUT"]),
    Route("/tokens/{key}", revoke_token, methods=["DELETE"]),
]
