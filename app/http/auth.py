"""Who is calling, for which user, with which rights (API.md §1, "which user" and "credentials").

A credential is a session id (admin API and, with full rights, the data API) or a data access
token. Both are looked up by their SHA-256, then the token is compared in constant time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from starlette.requests import HTTPConnection

from app.config import Settings
from app.domain.errors import ApiError
from app.identity.permissions import Access
from app.identity.secrets import same_secret, secret_hash
from app.logging_setup import request_id

SESSION = "session"
TOKEN = "token"
PERSONAL = "personal"  # the token type with the user's full rights


@dataclass(frozen=True)
class Principal:
    user_id: UUID
    user_name: str
    admin: bool
    kind: str  # SESSION or TOKEN
    credential_hash: str
    access: Access
    token_id: str | None = None
    token_type: str | None = None  # `personal` or `shared`, for a token
    # When a session ends unless it is used again (None for a token): its open streams are
    # closed then (app/realtime/session_expiry.py).
    expires: float | None = None

    @property
    def is_session(self) -> bool:
        return self.kind == SESSION

    @property
    def is_shared_token(self) -> bool:
        """A token that is not the user's own personal one: a third party's, bounded by its
        grants (any type but `personal`, so that an unknown type is never trusted)."""
        return self.kind != SESSION and self.token_type != PERSONAL

    def actor(self) -> dict[str, Any]:
        """Who did it, as `meta.actor` of the records they cause (never the secret itself)."""
        actor: dict[str, Any] = {
            "kind": self.kind,
            "userId": str(self.user_id),
            "userName": self.user_name,
        }
        if self.token_id is not None:
            actor["tokenId"] = self.token_id
        else:
            actor["sessionId"] = self.credential_hash[:16]
        return actor


def meta(principal: Principal | None, **extra: Any) -> dict[str, Any]:
    """The `meta` of the records a request appends: the actor and the request id."""
    m: dict[str, Any] = {"requestId": request_id.get()}
    if principal is not None:
        m["actor"] = principal.actor()
    m.update(extra)
    return m


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


def session_expiry(created: float, last_used: float, settings: Settings) -> float:
    """When a session ends unless it is used again: idle for `session_idle_seconds`, and in
    any case `session_max_seconds` after the login (however busy, a stolen session dies)."""
    return min(last_used + settings.session_idle_seconds, created + settings.session_max_seconds)


async def session_expiries(
    conn: asyncpg.Connection, session_hashes: list[str], settings: Settings
) -> dict[str, float]:
    """`session_expiry` of each session that still exists (an ended one is absent)."""
    rows = await conn.fetch(
        """SELECT s.session_hash, s.created, coalesce(cu.last_used, s.created) AS last_used
           FROM sessions s
           LEFT JOIN credential_usage cu ON cu.credential_hash = s.session_hash
           WHERE s.session_hash = ANY($1::text[])""",
        session_hashes,
    )
    return {
        r["session_hash"]: session_expiry(r["created"], r["last_used"], settings) for r in rows
    }


async def _lookup(pool: asyncpg.Pool, credential: str, settings: Settings) -> Principal | None:
    digest = secret_hash(credential)
    now = time.time()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT 'session' AS kind, u.user_id, u.user_name, u.admin, NULL AS token,
                      NULL AS token_id, NULL AS type, NULL::jsonb AS permissions,
                      coalesce(cu.last_used, s.created) AS last_used, s.created
               FROM sessions s JOIN users u USING (user_id)
               LEFT JOIN credential_usage cu ON cu.credential_hash = s.session_hash
               WHERE s.session_hash = $1
               UNION ALL
               SELECT 'token', u.user_id, u.user_name, u.admin, t.token, t.token_id, t.type,
                      t.permissions, coalesce(cu.last_used, 0), NULL
               FROM tokens t JOIN users u USING (user_id)
               LEFT JOIN credential_usage cu ON cu.credential_hash = t.token_hash
               WHERE t.token_hash = $1""",
            digest,
        )
        if row is None:
            return None
        if row["kind"] == SESSION:
            if session_expiry(row["created"], row["last_used"], settings) <= now:
                return None
            access = Access(full=True)
        else:
            if not same_secret(row["token"], credential):
                return None
            full = row["type"] == PERSONAL
            access = Access(full=True) if full else Access.from_permissions(row["permissions"])
        # Recording use at most every few seconds keeps reads from turning into writes.
        last_used = row["last_used"]
        if now - last_used > min(60.0, settings.session_idle_seconds / 10):
            await conn.execute(
                """INSERT INTO credential_usage (credential_hash, last_used) VALUES ($1, $2)
                   ON CONFLICT (credential_hash) DO UPDATE SET last_used = EXCLUDED.last_used""",
                digest,
                now,
            )
            last_used = now
    session = row["kind"] == SESSION
    expires = session_expiry(row["created"], last_used, settings) if session else None
    return Principal(
        user_id=row["user_id"],
        user_name=row["user_name"],
        admin=row["admin"],
        kind=row["kind"],
        credential_hash=digest,
        access=access,
        token_id=row["token_id"],
        token_type=row["type"],
        expires=expires,
    )


async def authenticate(conn: HTTPConnection, *, session_only: bool = False) -> Principal:
    """The caller, or 401: `INVALID_CREDENTIALS` on admin routes, `INVALID_TOKEN` on data ones."""
    error_id = "INVALID_CREDENTIALS" if session_only else "INVALID_TOKEN"
    settings: Settings = conn.app.state.settings
    credential = credential_of(conn)
    if credential is None:
        raise ApiError(401, error_id, "Credentials are missing")
    principal = await _lookup(conn.app.state.pool, credential, settings)
    if principal is None:
        raise ApiError(401, error_id, "The credentials are unknown, revoked or expired")
    if session_only and not principal.is_session:
        raise ApiError(401, error_id, "This route needs a personal session, not a token")
    named = requested_user(conn, settings)
    if named is not None and named != principal.user_name:
        raise ApiError(401, error_id, "The credentials do not belong to the named user")
    return principal
