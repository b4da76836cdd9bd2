"""Credentials: a session id or a data access token, looked up by its SHA-256, and the
lifetimes of sessions (idle and absolute)."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import asyncpg

from app.config import Settings
from app.identity.permissions import Access
from app.identity.principal import PERSONAL, SESSION, Principal
from app.identity.secrets import same_secret, secret_hash


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


async def lookup(pool: asyncpg.Pool, credential: str, settings: Settings) -> Principal | None:
    """The principal a credential stands for, or None when it is unknown, revoked or expired.
    Sessions and tokens are found by the SHA-256 of the credential; a token is then compared
    in constant time."""
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
            access = token_access(row["type"], row["permissions"])
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


def token_access(token_type: str, permissions: Any) -> Access:
    """A personal token holds the user's full rights; any other type only its grants."""
    return Access(full=True) if token_type == PERSONAL else Access.from_permissions(permissions)


async def acting_for(conn: asyncpg.Connection, who: dict[str, Any]) -> Principal | None:
    """Who an activity's work acts for (the `_runner` part of its params, written when a request
    started it), with the rights the credential has now: a token revoked since
    the request fails the work; a token's changed permissions apply. None for the operator."""
    if not who.get("userId"):
        return None
    user_id = UUID(who["userId"])
    access = Access(full=True)
    token_type = None
    if who.get("kind") != SESSION:
        row = await conn.fetchrow(
            "SELECT type, permissions FROM tokens WHERE user_id = $1 AND token_id = $2",
            user_id,
            who.get("tokenId"),
        )
        if row is None:
            return None
        token_type = row["type"]
        access = token_access(token_type, row["permissions"])
    actor = who.get("actor") or {}
    return Principal(
        user_id=user_id,
        user_name=who.get("userName") or "",
        admin=bool(who.get("admin")),
        kind=who.get("kind") or SESSION,
        credential_hash=actor.get("sessionId") or "",
        access=access,
        token_id=who.get("tokenId"),
        token_type=token_type,
    )
