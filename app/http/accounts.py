"""The admin API's account routes: login, logout, user-info, change-password (docs/api.md §4).
The commands are in app/commands/accounts.py, the user-info shape in app/read/accounts.py."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from app.commands import accounts
from app.config import Settings
from app.domain import body_types as declare
from app.domain.accounts import MAX_PASSWORD, PROFILE_FIELDS, invalid_credentials
from app.domain.body_types import BodyType
from app.edge.auth import authenticate, requested_user
from app.edge.body import read_json
from app.edge.responses import JSONResponse, json
from app.http.client_address import client_address
from app.identity.password_checks import PasswordChecks
from app.read.accounts import user_info_of


def password_checks(request: Request) -> PasswordChecks:
    return request.app.state.password_checks


class Login(BodyType):
    """`POST /login`."""

    userName: str = declare.text(required=True, max_len=100)
    password: str = declare.text(required=True, max_len=MAX_PASSWORD)
    appId: str | None = declare.text(max_len=255)
    origin: str | None = declare.text(max_len=255)


def _email_problem(email: Any) -> str | None:
    if isinstance(email, str) and "@" not in email:
        return "email must be an e-mail address"
    return None


class ProfileChanges(BodyType):
    """`PUT /user-info`: the profile fields (`PROFILE_FIELDS`) given change, the others stay;
    `userName` may be sent back unchanged."""

    userName: str | None = declare.text(description="read-only: the session's own user name")
    email: str | None = declare.text(nullable=True, max_len=254, check=_email_problem,
                                     schema={"pattern": "@"})
    displayName: str | None = declare.text(nullable=True, max_len=255)
    language: str | None = declare.text(nullable=True, max_len=35)


class PasswordChange(BodyType):
    """`POST /change-password` (the new password's rules: app/domain/accounts.py)."""

    oldPassword: str = declare.text(required=True, max_len=MAX_PASSWORD)
    newPassword: str = declare.text(required=True, max_len=MAX_PASSWORD * 2)


async def login(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    given = Login.read(await read_json(request))
    user_name = given.userName.lower()
    # The user named by `userName` or the Host label (§1) must be the one logging in.
    selected = requested_user(request, settings)
    if selected is not None and selected != user_name:
        raise invalid_credentials()
    session_id = await accounts.log_in(
        request.app.state.pool,
        settings,
        password_checks(request),
        user_name=user_name,
        password=given.password,
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
    profile = ProfileChanges.read(
        await read_json(request),
        userName=lambda name: None if name == principal.user_name else "userName is read-only",
    )
    changes = {k: v for k, v in profile.given_values().items() if k in PROFILE_FIELDS}
    return json(await accounts.update_profile(request.app.state.pool, principal, changes))


async def change_password(request: Request) -> JSONResponse:
    principal = await authenticate(request, session_only=True)
    passwords = PasswordChange.read(await read_json(request))
    settings: Settings = request.app.state.settings
    await accounts.change_password(
        request.app.state.pool, settings, password_checks(request), principal,
        old=passwords.oldPassword, new=passwords.newPassword,
        address=client_address(request, settings.trusted_proxies),
    )
    return json({})


routes = [
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/user-info", get_user_info, methods=["GET"]),
    Route("/user-info", put_user_info, methods=["PUT"]),
    Route("/change-password", change_password, methods=["POST"]),
]
