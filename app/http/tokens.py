"""Data access tokens (docs/api.md §2 "Token", §4): managed by the owner's session only. The
commands are in app/commands/tokens.py, the token shape in app/read/tokens.py."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from app.commands import tokens as commands
from app.domain.errors import invalid_parameter
from app.domain.tokens import SHARED, TOKEN_TYPES
from app.domain.validation import Body
from app.edge.auth import authenticate
from app.edge.body import read_json
from app.edge.responses import JSONResponse, json
from app.identity.permissions import parse_permissions
from app.identity.principal import PERSONAL
from app.read.tokens import list_tokens


async def get_tokens(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    async with request.app.state.pool.acquire() as conn:
        return json(await list_tokens(conn, principal.user_id))


async def post_token(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    body = Body(await read_json(request), allowed={"name", "type", "permissions"})
    name = body.name("name", required=True)
    token_type = body.text("type") or SHARED
    if token_type not in TOKEN_TYPES:
        body.fail("type", "type must be personal or shared")
    permissions: list[dict[str, Any]] = []
    if body.has("permissions"):
        permissions, errors = parse_permissions(body.data["permissions"])
        body.errors.extend(errors)
    body.done()
    if token_type == PERSONAL:
        permissions = []
    token, created = await commands.get_or_create_token(
        request.app.state.pool, principal, name, token_type, permissions,
        refuse_other_type=False,
    )
    return json(token, status=201 if created else 200)


async def get_token_by_name(request: Request) -> JSONResponse:
    """The original API's `GET /tokens/{name}`: get-or-create a personal token for a client."""
    principal = await authenticate(request, session_only=True)
    name = request.path_params["key"]
    if not 1 <= len(name) <= 255 or not name.strip():
        raise invalid_parameter("name", "A token name has 1 to 255 characters")
    token, created = await commands.get_or_create_token(
        request.app.state.pool, principal, name, PERSONAL, [], refuse_other_type=True
    )
    return json(token, status=201 if created else 200)


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
    token = await commands.update_token(
        request.app.state.pool, principal, token_id, name=name, permissions=permissions
    )
    return json(token)


async def revoke_token(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    token_id = request.path_params["key"]
    await commands.revoke_token(request.app.state.pool, principal, token_id)
    return json({"tokenDeletion": {"id": token_id}})


routes = [
    Route("/tokens", get_tokens, methods=["GET"]),
    Route("/tokens", post_token, methods=["POST"]),
    Route("/tokens/{key}", get_token_by_name, methods=["GET"]),
    Route("/tokens/{key}", update_token, methods=["PUT"]),
    Route("/tokens/{key}", revoke_token, methods=["DELETE"]),
]
