"""Activities over HTTP (docs/api.md §5): list, get, cancel, the export's download, and the two
routes whose only job is to start one (`POST /{channel}/export`, `POST /system/rebuild`).

Who sees what is app/identity/activity_visibility.py (a shared token: those it started; the user's
sessions and personal tokens: all the user's; an admin user's session: everyone's). An activity
the caller may not see answers 404 `UNKNOWN_ACTIVITY` to a read and to its download, 403
`FORBIDDEN` to a cancel (docs/api.md §5).
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from app.commands import activities as activity_commands
from app.commands.activities import Decide
from app.commands.event_batch import read_batch
from app.domain import activities as activity
from app.domain.activities import Spec, batch_spec
from app.domain.errors import ApiError, invalid_parameter
from app.domain.ids import uuid_id
from app.domain.validation import Query
from app.edge.auth import authenticate
from app.edge.body import read_json
from app.edge.responses import JSONResponse, json
from app.http.activity_answers import start_and_answer
from app.http.events import precheck
from app.http.system import check_operator
from app.identity.permissions import EVENTS_WRITE
from app.read import activities as activities_read
from app.read.channel_access import channel_for
from app.store.exports import export_path
from app.store.transaction import Tx

MAX_LIMIT = 1000


async def list_activities(request: Request) -> JSONResponse:
    """Newest first; `state` (comma list), `type`, `limit` (default 100), `before` (an
    activity id: those created before it)."""
    principal = await authenticate(request)
    query = Query(request.query_params)
    states = query.many("state")
    for value in states:
        if value not in activity.STATES:
            query.fail("state", f"state must be among {', '.join(activity.STATES)}")
            break
    activity_type = query.text("type")
    limit = query.integer("limit", default=100, minimum=1, maximum=MAX_LIMIT)
    before = query.text("before")
    query.done()
    before_id = None
    if before is not None:
        before_id = uuid_id(before)
        if before_id is None:
            raise invalid_parameter("before", "before must be an activity id")
    since = activity.retention_start(request.app.state.settings.activity_retention_days,
                                     time.time())
    async with request.app.state.pool.acquire() as conn:
        found = await activities_read.list_activities(
            conn, principal, since=since, states=states,
            activity_type=activity_type, before=before_id, limit=limit,
        )
    return json(found)


async def get_activity(request: Request) -> JSONResponse:
    principal = await authenticate(request)
    async with request.app.state.pool.acquire() as conn:
        found, _owner = await activities_read.find_visible(
            conn, principal, request.path_params["activity"]
        )
    return json(found)


async def cancel_activity(request: Request) -> JSONResponse:
    """Records the cancel request (app/commands/activities.py `cancel`), then answers the
    activity: `cancelling` while the work runs, `cancelled` for one that had not started."""
    principal = await authenticate(request)
    result = await activity_commands.cancel(
        request.app.state.pool, principal, request.path_params["activity"]
    )
    return json(result)


async def download(request: Request) -> Response:
    """The file of a completed export (`result.payload.download`)."""
    principal = await authenticate(request)
    async with request.app.state.pool.acquire() as conn:
        found, _owner = await activities_read.find_visible(
            conn, principal, request.path_params["activity"]
        )
    path = export_path(request.app.state.settings, found["id"])
    if (
        found["type"] != activity.CHANNEL_EXPORT
        or found["state"] != activity.COMPLETED
        or not path.is_file()
    ):
        raise ApiError(404, "UNKNOWN_RESOURCE", "This activity has no file to download")
    channel_id = (found.get("context") or {}).get("channelId") or "channel"
    return FileResponse(path, media_type="application/x-ndjson",
                        filename=f"{channel_id}-export.jsonl")


async def export_channel(request: Request) -> Response:
    """Starts `channel.export`; once done, answers 200 with the download's link and counts."""
    principal = await authenticate(request)
    channel_id = request.path_params["channel"]
    async with request.app.state.pool.acquire() as conn:
        channel = await channel_for(conn, principal, channel_id)
    activity_commands.check_export_access(principal, channel_id)
    # The page size of the process that starts it (whichever process runs it).
    spec = activity.export_spec(channel_id, channel["name"],
                                request.app.state.settings.activity_export_page)
    return await start_and_answer(request, principal, _starting(spec))


async def events_batch(request: Request) -> Response:
    """`POST /{channel}/events/batch` as an activity (`events.batch`): the body is checked
    first (its faults answer 400 at once, no activity), then the whole batch runs in the
    transaction that ends the activity (app/commands/event_batch.py `record_batch`: all or nothing).
    Once done, answers 200 `{addedEvents, stoppedId?}`, or the batch's refusal."""
    principal, channel_id = await precheck(request, EVENTS_WRITE)
    events = read_batch(await read_json(request))
    return await start_and_answer(request, principal, _starting(batch_spec(channel_id, events)))


async def rebuild(request: Request) -> Response:
    """Operator: rebuilds every read model from the log (`projections.rebuild`, not
    cancellable: it is one transaction)."""
    check_operator(request)
    return await start_and_answer(request, None, _starting(activity.rebuild_spec()))


def _starting(spec: Spec) -> Decide:
    """A start whose decision was made before the transaction: always this activity."""

    async def decide(tx: Tx) -> Spec:
        return spec

    return decide


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
