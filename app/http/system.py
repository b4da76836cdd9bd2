"""Operator routes, authorised by `ACTIVITY_ADMIN_KEY` (not by any user's credential)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from app.commands.accounts import create_user
from app.domain.accounts import operator_refused
from app.domain.validation import Body
from app.edge.auth import credential_of
from app.edge.body import read_json
from app.edge.responses import JSONResponse, json
from app.identity.principal import meta
from app.identity.secrets import same_secret


def check_operator(request: Request) -> None:
    key = request.app.state.settings.admin_key
    given = credential_of(request)
    if not key or not given or not same_secret(given, key):
        raise operator_refused()


async def create_user_route(request: Request) -> JSONResponse:
    check_operator(request)
    body = Body(await read_json(request), allowed={"userName", "password", "email", "admin"})
    user_name = body.text("userName", required=True, max_len=40)
    password = body.text("password", required=True, max_len=1024)
    email = body.text("email", nullable=True, max_len=254)
    admin = body.boolean("admin")
    body.done()
    user_id = await create_user(
        request.app.state.pool,
        user_name=user_name,
        password=password,
        email=email,
        admin=bool(admin),
        meta=meta(None, actor={"kind": "operator"}),
    )
    return json({"id": str(user_id), "userName": user_name}, status=201)


routes = [Route("/system/users", create_user_route, methods=["POST"])]
