"""The HTTP side of activities (docs/api.md §5): start one from a route and answer per `Prefer`.

A route calls `start_and_answer(request, principal, decide)`; `decide` runs in the write
transaction (app/commands/activities.py `start`) and returns a `Spec` to start an activity, or
a plain answer (a Response, or a value answered as JSON 200). Then:

- `Idempotency-Key`: the same key in the same key space within 24 hours answers with the
  activity the first request started (as that request would answer now) instead of starting
  another (the key spaces: app/commands/activities.py);
- `Prefer: respond-async` answers 202 at once; otherwise the request waits for the activity's
  end, at most `Prefer: wait=N` seconds (default `activity_wait_seconds`), and answers as the
  operation would (its result's code and payload, or its error), else 202 with the activity;
- every answer carries `X-Activity` (and the same value as Plex's `X-Plex-Activity`) and
  `Location`; a 202 carries `Retry-After`; an answer that honoured a preference says so in
  `Preference-Applied`.

The process's hub (`app.state.activities`, app/activities/service.py) wakes the runner after a
start and wakes a waiting request when its activity's final record commits here.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response

from app.background import wait_until_set
from app.commands import activities as activity_commands
from app.commands.activities import Decide, Started
from app.domain import activities as activity
from app.domain.errors import ApiError, invalid_parameter
from app.edge.responses import json
from app.identity.principal import Principal
from app.read.activities import load_activity

MAX_WAIT = 300.0
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_WAIT = re.compile(r"^wait\s*=\s*(\d+(?:\.\d+)?)$", re.IGNORECASE)


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


async def start_and_answer(
    request: Request, principal: Principal | None, decide: Decide
) -> Response:
    """Runs `decide` as a write; if it returns a Spec, starts that activity and answers per
    `Prefer` (see the module's docstring); else answers what it returned."""
    prefer = parse_prefer(request)
    outcome = await activity_commands.start(
        request.app.state.pool,
        principal,
        decide,
        key=idempotency_key(request),
        fingerprint=f"{request.method} {request.url.path}",
        pause=request.app.state.settings.activity_step_pause,
    )
    if isinstance(outcome, Response):
        return outcome
    if not isinstance(outcome, Started):
        return json(outcome)
    hub = getattr(request.app.state, "activities", None)
    if outcome.new and hub is not None:
        hub.wake()
    return await answer(request, outcome.activity_id, prefer)


async def answer(request: Request, activity_id: UUID, prefer: Prefer) -> Response:
    """The answer to a request that started (or, by its key, found) an activity."""
    settings = request.app.state.settings
    applied: list[str] = []
    state: dict[str, Any] | None
    if prefer.respond_async:
        applied.append("respond-async")
        state = await _load(request, activity_id)
    else:
        wait = settings.activity_wait_seconds if prefer.wait is None else prefer.wait
        if prefer.wait is not None:
            applied.append(f"wait={prefer.wait:g}")
        state = await wait_for_end(request, activity_id, wait)
    if state is None:  # purged since (an old idempotency key): nothing left to say
        raise ApiError(404, "UNKNOWN_ACTIVITY", f"Unknown activity {str(activity_id)!r}")
    # `X-Plex-Activity` too: Plex clients tie an answer to its activity by it (app/compat/plex.py).
    headers = {"X-Activity": str(activity_id), "X-Plex-Activity": str(activity_id),
               "Location": f"/activities/{activity_id}"}
    if applied:
        headers["Preference-Applied"] = ", ".join(applied)
    return final_answer(state, headers)


def final_answer(state: dict[str, Any], headers: dict[str, str]) -> Response:
    """As the operation answers once done; 202 with the activity while it is not."""
    if state["state"] == activity.COMPLETED:
        result = state.get("result") or {}
        return json(result.get("payload", {}), status=int(result.get("code", 200)),
                    headers=headers)
    if state["state"] == activity.FAILED:
        error = dict(state.get("error") or {})
        status = int(error.pop("code", 500))
        return json({"error": error}, status=status, headers=headers)
    if state["state"] == activity.CANCELLED:
        body = {"error": {"id": "ACTIVITY_CANCELLED",
                          "message": "The activity was cancelled; nothing of it was kept",
                          "data": {"activity": state}}}
        return json(body, status=409, headers=headers)
    return json(state, status=202, headers={**headers, "Retry-After": "1"})


async def _load(request: Request, activity_id: UUID) -> dict[str, Any] | None:
    async with request.app.state.pool.acquire() as conn:
        return await load_activity(conn, activity_id)


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
            state = await _load(request, activity_id)
            remaining = deadline - time.monotonic()
            if state is None or state["state"] in activity.FINAL or remaining <= 0:
                return state
            await wait_until_set(event, min(remaining, 0.25))
            event.clear()
    finally:
        if hub is not None:
            hub.forget(activity_id, event)
