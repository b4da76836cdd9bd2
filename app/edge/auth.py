"""Who is calling, for which user (docs/api.md §1, "which user" and "credentials"): the credential
of a request (the `Authorization` header or the `auth` parameter), checked by
app/identity/credentials.py.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from app.config import Settings
from app.domain.errors import ApiError
from app.identity.credentials import lookup
from app.identity.principal import Principal


def credential_of(conn: HTTPConnection) -> str | None:
    """The credential from `Authorization` (a leading `Bearer ` ignored), else `auth`."""
    raw = conn.headers.get("authorization") or conn.query_params.get("auth") or ""
    raw = raw.strip()
    if raw[:7].lower() == "bearer ":
        raw = raw[7:].strip()
    return raw or None


def requested_user(conn: HTTPConnection, settings: Settings) -> str | None:
    """The user a request names: `userName`, else the first `Host` label under the domain."""
    named = conn.query_params.get("userName")
    if named:
        return named.lower()
    if settings.domain:
        host = (conn.headers.get("host") or "").split(":")[0].lower().rstrip(".")
        suffix = "." + settings.domain
        if host.endswith(suffix):
            label = host[: -len(suffix)]
            if label and "." not in label:
                return label
    return None


async def authenticate(conn: HTTPConnection, *, session_only: bool = False) -> Principal:
    """The caller, or 401: `INVALID_CREDENTIALS` on admin routes, `INVALID_TOKEN` on data ones."""
    error_id = "INVALID_CREDENTIALS" if session_only else "INVALID_TOKEN"
    settings: Settings = conn.app.state.settings
    credential = credential_of(conn)
    if credential is None:
        raise ApiError(401, error_id, "Credentials are missing")
    principal = await lookup(conn.app.state.pool, credential, settings)
    if principal is None:
        raise ApiError(401, error_id, "The credentials are unknown, revoked or expired")
    if session_only and not principal.is_session:
        raise ApiError(401, error_id, "This route needs a personal session, not a token")
    named = requested_user(conn, settings)
    if named is not None and named != principal.user_name:
        raise ApiError(401, error_id, "The credentials do not belong to the named user")
    return principal
