"""What the four dialects share: the credential a dialect's client sends, the read of the
`activities` read model under the rules of `GET /activities`, the feed's caller, and time formats.

Nothing here keeps state of its own: every dialect answers from the same read models as the
native routes (`activities`, `user_feed` through app/read/feed.py), and every change goes
through the native code (the cancel command of `DELETE /activities/{id}`,
app/commands/activities.py; the feed's text edit and soft delete of app/commands/feed.py).
"""

from __future__ import annotations

import functools
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from app.domain.activities import retention_start
from app.domain.errors import ApiError
from app.edge.auth import authenticate
from app.identity.feed_access import check_feed_access
from app.identity.principal import Principal
from app.read import activities as activities_read

Handler = Callable[[Request], Awaitable[Response]]

def credential_scope(scope: Scope, *header_names: str, query_name: str | None = None) -> Scope:
    """The connection's scope as the native routes expect it: the dialect's credential (the
    first of `header_names` present, else the `query_name` query parameter) moved to
    `Authorization`. Works for a WebSocket's scope as for a request's.

    Without either, the scope is given back as it is, so `Authorization` and `auth` still work."""
    headers = Headers(scope=scope)
    value = next((headers[n] for n in header_names if headers.get(n)), None)
    if value is None and query_name is not None:
        value = QueryParams(scope.get("query_string", b"")).get(query_name) or None
    if value is None:
        return scope
    return {**scope, "headers": [
        (k, v) for k, v in scope["headers"] if k != b"authorization"
    ] + [(b"authorization", value.strip().encode("latin-1", "replace"))]}


def with_credential(request: Request, *header_names: str, query_name: str | None = None
                    ) -> Request:
    """The request with the dialect's credential moved to `Authorization` (`credential_scope`)."""
    scope = credential_scope(request.scope, *header_names, query_name=query_name)
    return request if scope is request.scope else Request(scope, request.receive)


def renders_errors(render: Callable[[ApiError], Response]) -> Callable[[Handler], Handler]:
    """Answers a route's `ApiError` in the dialect's own error shape (`render`)."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return render(exc)

        return wrapped

    return decorate


# --- activities ---------------------------------------------------------------------------------


async def visible_activities(
    request: Request,
    principal: Principal,
    conditions: list[str],
    args: list[Any],
    order: str,
    limit: int,
) -> list[asyncpg.Record]:
    """Rows of `activities` (as `a`) matching `conditions` (their arguments from `$2`), in
    `order`, that the caller may see under the rule of `GET /activities` and its retention
    (app/read/activities.py): at most `limit`."""
    since = retention_start(request.app.state.settings.activity_retention_days, time.time())
    async with request.app.state.pool.acquire() as conn:
        return await activities_read.visible_activities(
            conn, principal, since=since, conditions=conditions, args=args, order=order,
            limit=limit,
        )


def user_number(user_id: uuid.UUID | None) -> int:
    """A stable integer for a user, where a dialect wants one (Plex `userID`): the first 48
    bits of the user's UUID (exact in JavaScript numbers too); 0 for the operator."""
    return 0 if user_id is None else int(user_id.hex[:12], 16)


def activity_number(activity_id: str) -> int:
    """A stable positive 63-bit integer for an activity (Acronis `id`): its UUID's top bits."""
    return uuid.UUID(activity_id).int >> 65


# --- the feed -----------------------------------------------------------------------------------


async def feed_principal(request: Request) -> Principal:
    """The caller of a feed dialect: the feed's own rule (a session or a personal token,
    app/identity/feed_access.py)."""
    return check_feed_access(await authenticate(request))


# --- time ---------------------------------------------------------------------------------------


def rfc3339(seconds: float | None) -> str | None:
    """Seconds since the epoch as RFC 3339 in UTC with microseconds (`...T11:34:03.290396Z`)."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds").replace(
        "+00:00", "Z"
    )


def micros(seconds: float) -> int:
    """Seconds as whole microseconds, rounded as `rfc3339` (datetime) rounds them: whole
    seconds apart, then the fraction (the time filters compare to the microsecond shown)."""
    whole = math.floor(seconds)
    return whole * 1_000_000 + round((seconds - whole) * 1_000_000)
