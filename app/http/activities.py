"""Activities over HTTP (API.md §5): list, get, cancel, the export's download, and the two
routes whose only job is to start one (`POST /{channel}/export`, `POST /system/rebuild`).

Who sees what is app/identity/activity_visibility.py (a shared token: those it started; the user's
sessions and personal tokens: all the user's; an admin user's session: everyone's). An activity
the caller may not see answers 404 `UNKNOWN_ACTIVITY` to a read and to its download, 403
`FORBIDDEN` to a cancel (API.md §5).
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from app.activities import export, state
from app.activities.respond import start_and_answer
from app.activities.state import COLUMNS, Spec, from_row
from app.domain.errors import ApiError, invalid_operation, invalid_parameter, unknown
from app.domain.ids import uuid_id
from app.domain.validation import Query
from app.edge.auth import authenticate
from app.edge.body import read_json
from app.edge.responses import JSONResponse, json
from app.http.system import check_operator
from app.identity.activity_visibility import may_see_row, sql_conditions
from app.identity.principal import Principal, meta
from app.read.channel_access import channel_for
from app.store import transaction
from app.store.transaction import Tx

MAX_LIMIT = 1000


def unknown_activity(activity_id: str) -> ApiError:
    return unknown("UNKNOWN_ACTIVITY", "activity", activity_id)


def _uuid(text: str) -> UUID | None:
    return uuid_id(text)


async def _find(
    request: Request, principal: Principal, hidden: ApiError | None = None
) -> tuple[dict[str, Any], UUID | None]:
    """The activity of the path and its owner; 404 if it does not exist, `hidden` (else that
    404) if the caller may not see it."""
    raw = request.path_params["activity"]
    activity_id = _uuid(raw)
    if activity_id is None:
        raise unknown_activity(raw)
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM activities WHERE activity_id = $1", activity_id
        )
    if row is None:
        raise unknown_activity(raw)
    if not may_see_row(principal, row):
        raise hidden or unknown_activity(raw)
    return from_row(row), row["user_id"]


async def list_activities(request: Request) -> JSONResponse:
    """Newest first; `state` (comma list), `type`, `limit` (default 100), `before` (an
    activity id: those created before it)."""
    principal = await authenticate(request)
    query = Query(request.query_params)
    states = query.many("state")
    for value in states:
        if value not in state.STATES:
            query.fail("state", f"state must be among {', '.join(state.STATES)}")
            break
    activity_type = query.text("type")
    limit = query.integer("limit", default=100, minimum=1, maximum=MAX_LIMIT)
    before = query.text("before")
    query.done()
    conditions = ["(completed_at IS NULL OR completed_at > $1)"]
    retention = request.app.state.settings.activity_retention_days * 86400
    args: list[Any] = [time.time() - retention]
    conditions += sql_conditions(principal, args)
    if states:
        args.append(states)
        conditions.append(f"state = ANY(${len(args)})")
    if activity_type:
        args.append(activity_type)
        conditions.append(f"type = ${len(args)}")
    if before is not None:
        before_id = _uuid(before)
        if before_id is None:
            raise invalid_parameter("before", "before must be an activity id")
        args.append(before_id)
        n = len(args)
        conditions.append(
            f"(created_at, activity_id) < (SELECT created_at, activity_id FROM activities "
            f"WHERE activity_id = ${n})"
        )
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM activities WHERE {' AND '.join(conditions)} "
            f"ORDER BY created_at DESC, activity_id DESC LIMIT {limit}",
            *args,
        )
    # The rule checks each row as well: a list never shows what a read of it would refuse.
    return json([from_row(r) for r in rows if may_see_row(principal, r)])


async def get_activity(request: Request) -> JSONResponse:
    principal = await authenticate(request)
    activity, _owner = await _find(request, principal)
    return json(activity)


async def cancel_activity(request: Request) -> JSONResponse:
    """Records the cancel request, then answers the activity: `cancelling` while the work
    runs (it stops at its next safe point), `cancelled` for one that had not started. Asking
    again answers the current state; 409 once it completed or failed, or if not cancellable."""
    principal = await authenticate(request)
    activity, owner = await _find(request, principal)
    activity_id = UUID(activity["id"])

    async def command(tx: Tx) -> dict[str, Any]:
        await tx.lock(state.stream(activity_id))
        current = await state.load(tx.conn, activity_id)
        if current is None:
            raise unknown_activity(str(activity_id))
        if current["state"] in (state.CANCELLED, state.CANCELLING):
            return current
        if current["state"] in (state.COMPLETED, state.FAILED):
            raise invalid_operation(f"The activity has already {current['state']}",
                                    data={"state": current["state"]}, status=409)
        if not current["cancellable"]:
            raise invalid_operation("This activity cannot be cancelled", status=409)
        now = time.time()
        current["cancelRequested"] = True
        unclaimed = await tx.conn.fetchval(
            "DELETE FROM activity_runs WHERE activity_id = $1 AND lease_owner IS NULL "
            "RETURNING true",
            activity_id,
        )
        current["state"] = state.CANCELLING
        await state.append_state(tx, state.CANCEL_REQUESTED, current, user_id=owner)
        if unclaimed:  # no worker has it: it ends here
            current["state"] = state.CANCELLED
            current["completedAt"] = now
            await state.append_state(tx, state.FINAL_RECORDS[state.CANCELLED], current,
                                     user_id=owner)
        return current

    result = await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json(result)


async def download(request: Request) -> Response:
    """The file of a completed export (`result.payload.download`)."""
    principal = await authenticate(request)
    activity, _owner = await _find(request, principal)
    path = export.path_of(request.app.state.settings, activity["id"])
    if (
        activity["type"] != "channel.export"
        or activity["state"] != state.COMPLETED
        or not path.is_file()
    ):
        raise ApiError(404, "UNKNOWN_RESOURCE", "This activity has no file to download")
    channel_id = (activity.get("context") or {}).get("channelId") or "channel"
    return FileResponse(path, media_type="application/x-ndjson",
                        filename=f"{channel_id}-export.jsonl")


async def export_channel(request: Request) -> Response:
    """Starts `channel.export`; once done, answers 200 with the download's link and counts."""
    principal = await authenticate(request)
    channel_id = request.path_params["channel"]
    async with request.app.state.pool.acquire() as conn:
        channel = await channel_for(conn, principal, channel_id)
    export.check_access(principal, channel_id)

    async def command(tx: Tx) -> Spec:
        return Spec(
            type="channel.export",
            title=f"Export channel {channel['name']!r}",
            # The page size of the process that starts it (whichever process runs it).
            params={"channelId": channel_id,
                    "page": request.app.state.settings.activity_export_page},
            context={"channelId": channel_id},
        )

    return await start_and_answer(request, principal, command)


async def events_batch(request: Request) -> Response:
    """`POST /{channel}/events/batch` as an activity (`events.batch`): the body is checked
    first (its faults answer 400 at once, no activity), then the whole batch runs in the
    transaction that ends the activity (app/commands/event_batch.py `record_batch`: all or nothing).
    Once done, answers 200 `{addedEvents, stoppedId?}`, or the batch's refusal."""
    from app.activities.operations import batch_spec
    from app.commands.event_batch import read_batch
    from app.http.events import precheck
    from app.identity.permissions import EVENTS_WRITE

    principal, channel_id = await precheck(request, EVENTS_WRITE)
    events = read_batch(await read_json(request))

    async def command(tx: Tx) -> Spec:
        return batch_spec(channel_id, events)

    return await start_and_answer(request, principal, command)


async def rebuild(request: Request) -> Response:
    """Operator: rebuilds every read model from the log (`projections.rebuild`, not
    cancellable: it is one transaction)."""
    check_operator(request)

    async def command(tx: Tx) -> Spec:
        return Spec(
            type="projections.rebuild",
            title="Rebuild every read model from the log",
            params={},
            cancellable=False,
        )

    return await start_and_answer(request, None, command)


routes = [
    Route("/activities", list_activities, methods=["GET"]),
    Route("/activities/{activity}", get_activity, methods=["GET"]),
    Route("/activities/{activity}", cancel_activity, methods=["DELETE"]),
    Route("/activities/{activity}/download", download, methods=["GET"]),
    Route("/system/rebuild", rebuild, methods=["POST"]),
]

# Channel-scoped: after every fixed first segment in the application's route list.
channel_routes = [
    Route("/{channel}/export", export_channel, methods=["POST"]),
    Route("/{channel}/events/batch", events_batch, methods=["POST"]),
]
