"""Events of a channel over HTTP (docs/api.md §3): the query, record, start, stop, running, modify,
trash and delete for good; the GET forms of start, stop and record. Each route parses the
request, then calls a command (app/commands/events.py) or a read (app/read/events.py). Batches
are app/commands/event_batch.py's (run as activities); attachments, app/http/attachments.py's.

Reading needs `read-only` over the event's folder, changing needs `events-write` (the commands
check it again under the channel's lock). A folder the credential cannot read answers 400
`UNKNOWN_FOLDER` as a parameter and an event it cannot read 404 `UNKNOWN_EVENT`, exactly like
ones that do not exist.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.routing import Route

from app.commands.events import delete_event, record_event, stop_running, update_event
from app.domain.errors import ApiError, invalid_operation, unknown
from app.domain.events import (
    CREATE_FIELDS,
    START_FIELDS,
    TYPE_FILTER,
    UPDATE_FIELDS,
    read_fields,
)
from app.domain.folders import STATES
from app.domain.validation import MISSING, Body, Query, ascii_float
from app.edge.auth import authenticate
from app.edge.body import read_json
from app.edge.responses import JSONResponse, json
from app.http.uploads import is_multipart, read_event_upload
from app.identity.folder_access import require_anywhere
from app.identity.permissions import EVENTS_WRITE, READ
from app.identity.principal import Principal, meta
from app.read.channel_access import channel_for
from app.read.events import (
    EventQuery,
    event_at,
    query_events,
    query_folders,
    readable_folders,
    running_periods,
)
from app.store import transaction

DAY = 24 * 60 * 60
DEFAULT_LIMIT = 20
MAX_LIMIT = 100_000
# Query parameters of every route (docs/api.md §1), not fields of the GET forms' events.
_CONVENTION_PARAMS = {"auth", "userName"}


# --- the routes ----------------------------------------------------------------------------


async def precheck(
    request: Request, level: int = READ, *, lazy: bool = False
) -> tuple[Principal, str]:
    """The credential, and a channel it can see where it holds `level` somewhere: checked
    before the body is read.

    `lazy`, for a change whose command checks the channel again under its lock: only what the
    credential's grants tell, without a query; wrap the reading of the body in
    `channel_before_body` so that a body's faults still come after UNKNOWN_CHANNEL. (One round
    trip less on every write.)"""
    principal = await authenticate(request)
    channel_id = request.path_params["channel"]
    if lazy:
        if not principal.access.can_see_channel(channel_id):
            raise unknown("UNKNOWN_CHANNEL", "channel", channel_id)
    else:
        async with request.app.state.pool.acquire() as conn:
            await channel_for(conn, principal, channel_id)
    require_anywhere(principal, channel_id, level)
    return principal, channel_id


@contextlib.asynccontextmanager
async def channel_before_body(
    request: Request, principal: Principal, channel_id: str
) -> AsyncIterator[None]:
    """Reading a body after a lazy `precheck`: a fault in it answers UNKNOWN_CHANNEL instead
    when the channel does not exist for the credential."""
    try:
        yield
    except ApiError:
        async with request.app.state.pool.acquire() as conn:
            await channel_for(conn, principal, channel_id)
        raise


def _body(data: Any, allowed: tuple[str, ...], *, update: bool = False) -> dict[str, Any]:
    body = Body(data, allowed=allowed)
    fields = read_fields(body, allowed, update=update)
    body.done()
    return fields


async def _run(request: Request, principal: Principal, command: Any) -> Any:
    return await transaction.run(request.app.state.pool, command, meta=meta(principal))


async def create(request: Request) -> JSONResponse:
    principal, channel_id = await precheck(request, EVENTS_WRITE, lazy=not is_multipart(request))
    if is_multipart(request):
        async with read_event_upload(request) as upload:
            if upload.event is MISSING:
                raise ApiError(400, "INVALID_REQUEST_STRUCTURE",
                               "A multipart create needs a part named 'event' with the event")
            fields = _record_fields(upload.event)

            async def with_files(tx: transaction.Tx) -> dict[str, Any]:
                return await record_event(
                    tx, principal, channel_id, fields, kind=_kind(fields), files=upload
                )

            return json(await _run(request, principal, with_files), status=201)
    async with channel_before_body(request, principal, channel_id):
        fields = _record_fields(await read_json(request))
    return await _record(request, principal, channel_id, fields)


def _record_fields(data: Any) -> dict[str, Any]:
    fields = _body(data, CREATE_FIELDS)
    if "duration" in fields and fields["duration"] is None:
        raise invalid_operation(
            "A recorded period needs a duration; start a running one with /events/start"
        )
    return fields


def _kind(fields: dict[str, Any]) -> str:
    return "period" if "duration" in fields else "mark"


async def _record(
    request: Request, principal: Principal, channel_id: str, fields: dict[str, Any]
) -> JSONResponse:
    async def command(tx: transaction.Tx) -> dict[str, Any]:
        return await record_event(tx, principal, channel_id, fields, kind=_kind(fields))

    return json(await _run(request, principal, command), status=201)


async def _start(
    request: Request, principal: Principal, channel_id: str, fields: dict[str, Any]
) -> JSONResponse:
    async def command(tx: transaction.Tx) -> dict[str, Any]:
        return await record_event(tx, principal, channel_id, fields, kind="running")

    return json(await _run(request, principal, command), status=201)


async def _stop(
    request: Request, principal: Principal, channel_id: str, fields: dict[str, Any]
) -> JSONResponse:
    async def command(tx: transaction.Tx) -> dict[str, Any]:
        return await stop_running(tx, principal, channel_id, fields)

    return json(await _run(request, principal, command))


def _stop_fields(data: Any) -> dict[str, Any]:
    body = Body(data, allowed=("time", "id"))
    fields = {"time": body.time("time"), "id": body.identity("id")}
    body.done()
    return {k: v for k, v in fields.items() if v is not None}


async def start(request: Request) -> JSONResponse:
    principal, channel_id = await precheck(request, EVENTS_WRITE, lazy=True)
    async with channel_before_body(request, principal, channel_id):
        fields = _body(await read_json(request), START_FIELDS)
    return await _start(request, principal, channel_id, fields)


async def stop(request: Request) -> JSONResponse:
    principal, channel_id = await precheck(request, EVENTS_WRITE, lazy=True)
    async with channel_before_body(request, principal, channel_id):
        fields = _stop_fields(await read_json(request))
    return await _stop(request, principal, channel_id, fields)


def _query_body(request: Request) -> dict[str, Any]:
    """The GET forms' query parameters as the JSON body the POST forms take: numbers where
    numbers go, `tags` comma-separated, `value` with `valueType` (read as JSON when it is JSON:
    `3.5`, `true`, `null`, `"text"`, else as the text itself)."""
    data: dict[str, Any] = {}
    for key, raw in request.query_params.multi_items():
        if key in _CONVENTION_PARAMS:
            continue
        if key in ("time", "duration"):
            try:
                data[key] = ascii_float(raw)
            except ValueError:
                data[key] = raw  # refused, by name, by the body's reader
        elif key == "tags":
            data.setdefault("tags", []).extend(t for t in raw.split(",") if t.strip())
        elif key in ("value", "valueType"):
            continue
        else:
            data[key] = raw
    params = request.query_params
    if "valueType" in params or "value" in params:
        raw_value = params.get("value")
        try:
            value = orjson.loads(raw_value) if raw_value is not None else None
        except orjson.JSONDecodeError:
            value = raw_value
        data["value"] = {"type": params.get("valueType"), "value": value}
    return data


async def start_get(request: Request) -> JSONResponse:
    principal, channel_id = await precheck(request, EVENTS_WRITE)
    return await _start(request, principal, channel_id, _body(_query_body(request), START_FIELDS))


async def stop_get(request: Request) -> JSONResponse:
    principal, channel_id = await precheck(request, EVENTS_WRITE)
    return await _stop(request, principal, channel_id, _stop_fields(_query_body(request)))


async def record_get(request: Request) -> JSONResponse:
    principal, channel_id = await precheck(request, EVENTS_WRITE)
    return await _record(request, principal, channel_id, _record_fields(_query_body(request)))


async def running(request: Request) -> JSONResponse:
    principal, channel_id = await precheck(request)
    async with request.app.state.pool.acquire() as conn:
        events = await running_periods(conn, principal.user_id, channel_id)
        visible = await readable_folders(conn, principal, channel_id)
    if visible is not None:
        events = [e for e in events if e["folderId"] in visible]
    return json(events)


async def update(request: Request) -> JSONResponse:
    principal, channel_id = await precheck(request, EVENTS_WRITE)
    event_id = request.path_params["event"]
    async with request.app.state.pool.acquire() as conn:
        await event_at(conn, principal, channel_id, event_id, EVENTS_WRITE)
    fields = _body(await read_json(request), UPDATE_FIELDS, update=True)

    async def command(tx: transaction.Tx) -> dict[str, Any]:
        return await update_event(tx, principal, channel_id, event_id, fields)

    return json(await _run(request, principal, command))


async def delete(request: Request) -> JSONResponse:
    principal, channel_id = await precheck(request, EVENTS_WRITE)
    event_id = request.path_params["event"]

    async def command(tx: transaction.Tx) -> dict[str, Any]:
        return await delete_event(tx, principal, channel_id, event_id)

    return json(await _run(request, principal, command))


async def get_event(request: Request) -> JSONResponse:
    principal, channel_id = await precheck(request)
    async with request.app.state.pool.acquire() as conn:
        event = await event_at(conn, principal, channel_id, request.path_params["event"], READ)
    return json(event)


async def list_events(request: Request) -> JSONResponse:
    principal, channel_id = await precheck(request, lazy=True)
    async with channel_before_body(request, principal, channel_id):
        query = _event_query(request)
    async with request.app.state.pool.acquire() as conn:
        if query.folders:  # onlyFolders: the channel first, then the folders in it
            await channel_for(conn, principal, channel_id)
        folders = await query_folders(conn, principal, channel_id, query.folders or [])
        events = await query_events(
            conn,
            principal.user_id,
            channel_id,
            dataclasses.replace(query, folders=folders, live_channel_only=True),
        )
        if not events and not query.folders:  # an empty channel, or none: which one?
            await channel_for(conn, principal, channel_id)
    return json(events)


def _event_query(request: Request) -> EventQuery:
    """The query parameters of `GET /{channel}/events`, checked, with their defaults
    (`folders` holds `onlyFolders` as given; the caller expands them)."""
    q = Query(request.query_params)
    only = q.many("onlyFolders")
    from_time = q.number("fromTime")
    to_time = q.number("toTime")
    state = q.text("state", choices=STATES, default=None)
    ascending = q.boolean("sortAscending")
    skip = q.integer("skip", default=0)
    limit = q.integer("limit", default=None, minimum=0, maximum=MAX_LIMIT)
    types = q.many("types")
    for value in types:
        if not TYPE_FILTER.fullmatch(value):
            q.fail("types", "each of 'types' must be '{type}:{unit}' or '{type}:*'")
            break
    tags = q.many("tags")
    modified_since = q.number("modifiedSince")
    q.done()

    now = time.time()
    if modified_since is None:
        if to_time is None:
            if from_time is None and limit is None:
                limit = DEFAULT_LIMIT
            to_time = now
        elif from_time is None:
            from_time = to_time - DAY
    return EventQuery(
        folders=only,
        from_time=from_time,
        to_time=to_time,
        state=state or ("all" if modified_since is not None else "default"),
        ascending=ascending,
        skip=skip,
        limit=MAX_LIMIT if limit is None else limit,
        types=tuple(t for t in types if not t.endswith(":*")),
        type_prefixes=tuple(t[:-1] for t in types if t.endswith(":*")),
        tags=tuple(tags),
        modified_since=modified_since,
        now=now,
    )


# Channel-scoped, after every fixed first segment; the fixed event paths come before
# `/{channel}/events/{event}` (attachments' routes come after these).
routes = [
    Route("/{channel}/events", list_events, methods=["GET"]),
    Route("/{channel}/events", create, methods=["POST"]),
    Route("/{channel}/events/start", start, methods=["POST"]),
    Route("/{channel}/events/start", start_get, methods=["GET"]),
    Route("/{channel}/events/stop", stop, methods=["POST"]),
    Route("/{channel}/events/stop", stop_get, methods=["GET"]),
    Route("/{channel}/events/record", record_get, methods=["GET"]),
    Route("/{channel}/events/running", running, methods=["GET"]),
    Route("/{channel}/events/{event}", get_event, methods=["GET"]),
    Route("/{channel}/events/{event}", update, methods=["PUT"]),
    Route("/{channel}/events/{event}", delete, methods=["DELETE"]),
]
