"""The admin API's account routes: login, logout, user-info, change-password (docs/api.md §4).
The commands are in app/commands/accounts.py, the user-info shape in app/read/accounts.py."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from app.commands import accounts
from app.config import Settings
from app.domain.accounts import MAX_PASSWORD, PROFILE_FIELDS, invalid_credentials
from app.domain.validation import Body
from app.edge.auth import authenticate, requested_user
from app.edge.body import read_json
from app.edge.responses import JSONResponse, json
from app.http.client_address import client_address
from app.identity.password_checks import PasswordChecks
from app.read.accounts import user_info_of


def password_checks(request: Request) -> PasswordChecks:
    return request.app.state.password_checks


async def login(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    body = Body(await read_json(request), allowed={"userName", "password", "appId", "origin"})
    user_name = body.text("userName", required=True, max_len=100)
    password = body.text("password", required=True, max_len=MAX_PASSWORD)
    body.text("appId", max_len=255)
    body.text("origin", max_len=255)
    body.done()
    user_name = user_name.lower()
    # The user named by `userName` or the Host label (§1) must be the one logging in.
    selected = requested_user(request, settings)
    if selected is not None and selected != user_name:
        raise invalid_credentials()
    session_id = await accounts.log_in(
        request.app.state.pool,
        settings,
        password_checks(request),
        user_name=user_name,
        password=password,
        address=client_address(request, settings.trusted_proxies),
    )
    return json({"sessionID": session_id})


async def logout(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    await accounts.log_out(request.app.state.pool, principal)
    return json({})


async def get_user_info(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    async with request.app.state.pool.acquire() as conn:
        return json(await user_info_of(conn, principal.user_id))


async def put_user_info(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    body = Body(await read_json(request), allowed={"userName", *PROFILE_FIELDS})
    name = body.text("userName")
    if name is not None and name != principal.user_name:
        body.fail("userName", "userName is read-only")
    email = body.text("email", nullable=True, max_len=254)
    if isinstance(email, str) and "@" not in email:
        body.fail("email", "email must be an e-mail address")
    body.text("displayName", nullable=True, max_len=255)
    body.text("language", nullable=True, max_len=35)
    body.done()
    changes = {key: body.data[key] for key in PROFILE_FIELDS if body.has(key)}
    return json(await accounts.update_profile(request.app.state.pool, principal, changes))


async def change_password(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    body = Body(await read_json(request), allowed={"oldPassword", "newPassword"})
    old = body.text("oldPassword", required=True, max_len=MAX_PASSWORD)
    new = body.text("newPassword", required=True, max_len=MAX_PASSWORD * 2)
    body.done()
    await accounts.change_password(
        request.app.state.pool, password_checks(request), principal, old=old, new=new
    )
    return json({})


routes = [
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/user-info", get_user_info, methods=["GET"]),
    Route("/user-info", put_user_info, methods=["PUT"]),
    Route("/change-password", change_password, methods=["POST"]),
]
