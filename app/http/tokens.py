"""Data access tokens (docs/api.md §2 "Token", §4): managed by the owner's session only. The
commands are in app/commands/tokens.py, the token shape in app/read/tokens.py."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from app.commands import tokens as commands
from app.domain import body_types as declare
from app.domain.body_types import BodyType
from app.domain.errors import invalid_parameter
from app.domain.tokens import SHARED, TOKEN_TYPES
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


def _token_type_problem(token_type: Any) -> str | None:
    """Absent or empty: `shared`. Also refuses a `type` already refused as no string."""
    return None if token_type in ("", *TOKEN_TYPES) else "type must be personal or shared"


PERMISSIONS = declare.own(
    parse_permissions, {"type": "array", "items": declare.component("Permission")},
    description="a shared token's grants (a personal token has them all)")


class NewToken(BodyType):
    """`POST /tokens`."""

    name: str = declare.name(required=True)
    type: str | None = declare.text(check=_token_type_problem,
                                    schema={"enum": list(TOKEN_TYPES)},
                                    description="shared when absent")
    permissions: list[dict[str, Any]] | None = PERMISSIONS


class TokenChanges(BodyType):
    """`PUT /tokens/{key}`: what is absent stays."""

    name: str | None = declare.name()
    permissions: list[dict[str, Any]] | None = PERMISSIONS


async def post_token(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    new = NewToken.read(await read_json(request))
    token_type = new.type or SHARED
    permissions = [] if token_type == PERSONAL else new.permissions or []
    token, created = await commands.get_or_create_token(
        request.app.state.pool, principal, new.name, token_type, permissions,
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
    changes = TokenChanges.read(await read_json(request))
    token = await commands.update_token(
        request.app.state.pool, principal, token_id, name=changes.name,
        permissions=changes.permissions,
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
