"""The HTTP side of activities (API.md §5): start one from a route and answer per `Prefer`.

A route calls `start_and_answer(request, principal, command)`. The command runs in the write
transaction like any other (lock, read, decide) and returns either a `Spec` (start this
activity: it is created in that same transaction, so it exists exactly when the decision
commits) or a plain answer (nothing long to do, e.g. a first DELETE that only trashes). Then:

- `Idempotency-Key`: the same key in the same key space within 24 hours answers with the
  activity the first request started (as that request would answer now) instead of starting
  another. The key spaces follow who sees which activities (`visibility.key_space`): one per
  user for the user's sessions and personal tokens, one per shared token; a replay never
  answers an activity the caller may not see;
- `Prefer: respond-async` answers 202 at once; otherwise the request waits for the activity's
  end, at most `Prefer: wait=N` seconds (default `activity_wait_seconds`), and answers as the
  operation would (its result's code and payload, or its error), else 202 with the activity;
- every answer carries `X-Activity` (and the same value as Plex's `X-Plex-Activity`) and
  `Location`; a 202 carries `Retry-After`; an answer that honoured a preference says so in
  `Preference-Applied`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from app.activities import state
from app.activities.state import Spec
from app.domain.errors import ApiError, invalid_parameter
from app.edge.responses import json
from app.identity import activity_visibility as visibility
from app.identity.principal import Principal, meta
from app.logging_setup import request_id
from app.store import transaction
from app.store.transaction import Tx

IDEMPOTENCY_SECONDS = 24 * 3600
MAX_WAIT = 300.0
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_WAIT = re.compile(r"^wait\s*=\s*(\d+(?:\.\d+)?)$", re.IGNORECASE)

Command = Callable[[Tx], Awaitable[Spec | Response]]


@dataclass(frozen=True)
class Prefer:
    respond_async: bool = False
    wait: float | None = None  # None: the default wait


def parse_prefer(request: Request) -> Prefer:
    """`Prefer: respond-async`, `Prefer: wait=N` (several, comma-separated); unknown
    preferences are ignored, as RFC 7240 asks."""
    respond_async = False
    wait: float | None = None
    for header in request.headers.getlist("prefer"):
        for part in header.split(","):
            token = part.split(";")[0].strip()
            if token.lower() == "respond-async":
                respond_async = True
            elif match := _WAIT.match(token):
                wait = min(float(match.group(1)), MAX_WAIT)
    return Prefer(respond_async, wait)


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip().strip('"')
    if not _KEY.match(key):
        raise invalid_parameter("Idempotency-Key", "Idempotency-Key must be 1 to 255 visible "
                                "ASCII characters")
    return key


class _AlreadyStarted(Exception):
    def __init__(self, activity_id: UUID) -> None:
        self.activity_id = activity_id


def runner_info(principal: Principal | None, pause: float = 0.0) -> dict[str, Any]:
    """Who the work acts for (kept with the work's input, never shown), and the drill's pause
    at each safe point (`activity_step_pause` of the process that started it, so that whichever
    process runs the work pauses alike)."""
    extra = {"pause": pause} if pause > 0 else {}
    if principal is None:
        return {"actor": {"kind": "operator"}, "requestId": request_id.get(), **extra}
    return {
        **extra,
        "userId": str(principal.user_id),
        "userName": principal.user_name,
        "admin": principal.admin,
        "kind": principal.kind,
        "tokenId": principal.token_id,
        "actor": principal.actor(),
        "requestId": request_id.get(),
    }


def started_by(principal: Principal | None) -> dict[str, Any]:
    if principal is None:
        return {"userName": None, "tokenId": None, "operator": True}
    return {"userName": principal.user_name, "tokenId": principal.token_id}


def _key_conflict() -> ApiError:
    return ApiError(409, "INVALID_OPERATION", "This Idempotency-Key was used for another request",
                    data={"param": "Idempotency-Key"})


async def _find_key(
    conn: asyncpg.Connection, principal: Principal | None, key: str, fingerprint: str
) -> UUID | None:
    """The activity the key started in the caller's key space, if any. One the caller may not
    see is a conflict, never an answer: the key spaces already keep them apart, and this keeps
    the rule exact whatever a row says."""
    row = await conn.fetchrow(
        "SELECT k.fingerprint, k.activity_id, a.activity_id IS NOT NULL AS kept, a.user_id, "
        "a.started_by "
        "FROM idempotency_keys k LEFT JOIN activities a ON a.activity_id = k.activity_id "
        "WHERE k.owner = $1 AND k.key = $2 AND k.created > $3",
        visibility.key_space(principal),
        key,
        time.time() - IDEMPOTENCY_SECONDS,
    )
    if row is None:
        return None
    if row["fingerprint"] != fingerprint:
        raise _key_conflict()
    if principal is not None and row["kept"] and not visibility.may_see_row(principal, row):
        raise _key_conflict()
    return row["activity_id"]


async def start_and_answer(
    request: Request, principal: Principal | None, command: Command
) -> Response:
    """Runs `command` as a write; if it returns a Spec, starts that activity and answers per
    `Prefer` (see the module's docstring); else answers what it returned."""
    pool: asyncpg.Pool = request.app.state.pool
    prefer = parse_prefer(request)
    key = idempotency_key(request)
    owner = visibility.key_space(principal)
    fingerprint = f"{request.method} {request.url.path}"
    if key is not None:
        async with pool.acquire() as conn:
            existing = await _find_key(conn, principal, key, fingerprint)
        if existing is not None:
            return await answer(request, existing, prefer)

    async def wrapped(tx: Tx) -> UUID | Response:
        outcome = await command(tx)
        if not isinstance(outcome, Spec):
            return outcome
        if key is not None:
            await tx.lock(f"idempotency-{owner}-{key}")
            found = await _find_key(tx.conn, principal, key, fingerprint)
            if found is not None:
                raise _AlreadyStarted(found)
        activity_id = await state.create(
            tx,
            outcome,
            user_id=principal.user_id if principal is not None else None,
            started_by=started_by(principal),
            runner=runner_info(principal, request.app.state.settings.activity_step_pause),
        )
        if key is not None:
            # An expired row of the same key is replaced: the key is free again after 24 h.
            await tx.conn.execute(
                """INSERT INTO idempotency_keys (owner, key, fingerprint, activity_id, created)
                   VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (owner, key) DO UPDATE
                   SET fingerprint = EXCLUDED.fingerprint, activity_id = EXCLUDED.activity_id,
                       created = EXCLUDED.created""",
                owner, key, fingerprint, activity_id, time.time(),
            )
        return activity_id

    try:
        outcome = await transaction.run(pool, wrapped, meta=meta(principal) if principal
                                        else meta(None, actor={"kind": "operator"}))
    except _AlreadyStarted as exc:
        return await answer(request, exc.activity_id, prefer)
    if isinstance(outcome, Response):
        return outcome
    hub = getattr(request.app.state, "activities", None)
    if hub is not None:
        hub.wake()
    return await answer(request, outcome, prefer)


async def answer(request: Request, activity_id: UUID, prefer: Prefer) -> Response:
    """The answer to a request that started (or, by its key, found) an activity."""
    settings = request.app.state.settings
    applied: list[str] = []
    activity: dict[str, Any] | None
    if prefer.respond_async:
        applied.append("respond-async")
        activity = await _load(request, activity_id)
    else:
        wait = settings.activity_wait_seconds if prefer.wait is None else prefer.wait
        if prefer.wait is not None:
            applied.append(f"wait={prefer.wait:g}")
        activity = await wait_for_end(request, activity_id, wait)
    if activity is None:  # purged since (an old idempotency key): nothing left to say
        raise ApiError(404, "UNKNOWN_ACTIVITY", f"Unknown activity {str(activity_id)!r}")
    # `X-Plex-Activity` too: Plex clients tie an answer to its activity by it (app/compat/plex.py).
    headers = {"X-Activity": str(activity_id), "X-Plex-Activity": str(activity_id),
               "Location": f"/activities/{activity_id}"}
    if applied:
        headers["Preference-Applied"] = ", ".join(applied)
    return final_answer(activity, headers)


def final_answer(activity: dict[str, Any], headers: dict[str, str]) -> Response:
    """As the operation answers once done; 202 with the activity while it is not."""
    if activity["state"] == state.COMPLETED:
        result = activity.get("result") or {}
        return json(result.get("payload", {}), status=int(result.get("code", 200)),
                    headers=headers)
    if activity["state"] == state.FAILED:
        error = dict(activity.get("error") or {})
        status = int(error.pop("code", 500))
        return json({"error": error}, status=status, headers=headers)
    if activity["state"] == state.CANCELLED:
        body = {"error": {"id": "ACTIVITY_CANCELLED",
                          "message": "The activity was cancelled; nothing of it was kept",
                          "data": {"activity": activity}}}
        return json(body, status=409, headers=headers)
    return json(activity, status=202, headers={**headers, "Retry-After": "1"})


async def _load(request: Request, activity_id: UUID) -> dict[str, Any] | None:
    async with request.app.state.pool.acquire() as conn:
        return await state.load(conn, activity_id)


async def wait_for_end(
    request: Request, activity_id: UUID, seconds: float
) -> dict[str, Any] | None:
    """The activity once final, or as it is after `seconds`. Woken early by a local commit of
    its final record; polls for one committed by another process."""
    hub = getattr(request.app.state, "activities", None)
    deadline = time.monotonic() + seconds
    event = hub.waiter(activity_id) if hub is not None else asyncio.Event()
    try:
        while True:
            activity = await _load(request, activity_id)
            remaining = deadline - time.monotonic()
            if activity is None or activity["state"] in state.FINAL or remaining <= 0:
                return activity
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 0.25))
            event.clear()
    finally:
        if hub is not None:
            hub.forget(activity_id, event)
