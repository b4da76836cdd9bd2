"""Events of a channel (API.md §3): the query, record, start, stop, running, modify, trash and
delete for good; the GET forms of start, stop and record. Batches are app/events_batch.py's (run
as activities); attachments, app/http/attachments.py's.

Reading needs `read-only` over the event's folder, changing needs `events-write` (over the old
and the new folder when an event moves; a root grant for a mark without folder). A folder the
credential cannot read answers 400 `UNKNOWN_FOLDER` as a parameter and an event it cannot read
404 `UNKNOWN_EVENT`, exactly like ones that do not exist.

Every change locks the channel's stream, then reads and decides (app/events.py): the period
rules hold under any concurrency because two changes of one channel never decide at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
from starlette.requests import Request
from starlette.routing import Route

from app import transaction
from app.errors import ApiError, client_ids_unavailable, forbidden, invalid_operation, unknown
from app.event_store import (
    EventQuery,
    load_event,
    neighbours,
    query_events,
    running_periods,
    taken_client_ids,
)
from app.events import (
    CREATE_FIELDS,
    START_FIELDS,
    TYPE_FILTER,
    UPDATE_FIELDS,
    end_of,
    is_period,
    new_event,
    place,
    read_fields,
    stopped,
    updated_event,
)
from app.folders import STATES
from app.http.auth import Principal, authenticate, meta
from app.http.data_access import (
    channel_for,
    channel_for_change,
    folder_path,
    require_anywhere,
    unknown_folder,
)
from app.http.folders import load_tree
from app.http.responses import JSONResponse, json
from app.http.uploads import Upload, is_multipart, read_event_upload
from app.ids import channel_stream, new_id
from app.permissions import EVENTS_WRITE, READ
from app.validation import MISSING, Body, Query, read_json

DAY = 24 * 60 * 60
DEFAULT_LIMIT = 20
MAX_LIMIT = 100_000
# Query parameters of every route (API.md §1), not fields of the GET forms' events.
_CONVENTION_PARAMS = {"auth", "userName"}


# --- permissions ---------------------------------------------------------------------------


async def check_folder(
    conn: asyncpg.Connection,
    principal: Principal,
    channel_id: str,
    folder_id: str | None,
    level: int,
) -> list[str]:
    """The folder's path, if the credential holds `level` there (None: the channel's root).

    400 UNKNOWN_FOLDER when it does not exist or cannot be read; 403 when it can be read but
    not changed as asked."""
    path: list[str] = []
    if folder_id is not None:
        path = await folder_path(conn, principal.user_id, channel_id, folder_id) or []
        if not path or principal.access.folder_level(channel_id, path) < READ:
            raise unknown_folder(folder_id, 400)
    if principal.access.folder_level(channel_id, path) < level:
        raise forbidden()
    return path


async def event_at(
    conn: asyncpg.Connection, principal: Principal, channel_id: str, event_id: str, level: int
) -> dict[str, Any]:
    """The event, if the credential holds `level` over its folder (404 UNKNOWN_EVENT if it
    cannot read it, 403 if it can read but not change it)."""
    event = await load_event(conn, principal.user_id, channel_id, event_id)
    if event is None:
        raise unknown("UNKNOWN_EVENT", "event", event_id)
    folder_id = event["folderId"]
    path = await folder_path(conn, principal.user_id, channel_id, folder_id) if folder_id else []
    granted = principal.access.folder_level(channel_id, path or [])
    if granted < READ:
        raise unknown("UNKNOWN_EVENT", "event", event_id)
    if granted < level:
        raise forbidden()
    return event


# --- the commands --------------------------------------------------------------------------


class Changes:
    """What a command appends to the channel's stream, in order."""

    def __init__(self, tx: transaction.Tx, principal: Principal, channel_id: str) -> None:
        self.tx = tx
        self.principal = principal
        self.channel_id = channel_id
        self.stream = channel_stream(principal.user_id, channel_id)

    async def lock(self) -> asyncpg.Record:
        """Locks the channel's stream and returns its row (held until the commit)."""
        await self.tx.lock(self.stream)
        return await channel_for_change(self.tx.conn, self.principal, self.channel_id)

    async def append(self, record_type: str, event: dict[str, Any]) -> None:
        await self.tx.append(
            self.stream,
            record_type,
            {"channelId": self.channel_id, "event": event},
            user_id=self.principal.user_id,
        )

    async def place(
        self, channel: asyncpg.Record, event: dict[str, Any], now: float
    ) -> str | None:
        """Applies the period rules to `event` (a period, about to be written): refuses it, or
        stops the running period it follows and returns that one's id."""
        if not is_period(event) or event["trashed"] or not channel["enforce_no_events_overlap"]:
            return None
        near = await neighbours(
            self.tx.conn, self.principal.user_id, self.channel_id,
            event["time"], end_of(event), exclude=event["id"],
        )
        try:
            placement = place(event["time"], end_of(event), near)
        except ApiError as exc:
            await self.hide_unreadable(exc)
            raise
        if placement.stop is None or placement.at is None:
            return None
        return await self.stop(placement.stop.id, placement.at, now)

    async def readable(self, event_ids: list[str]) -> list[str]:
        """`event_ids` (in order) without the events the credential cannot read."""
        if self.principal.access.full:
            return event_ids
        kept = []
        for event_id in event_ids:
            event = await load_event(self.tx.conn, self.principal.user_id, self.channel_id,
                                     event_id)
            folder_id = None if event is None else event["folderId"]
            path = await folder_path(self.tx.conn, self.principal.user_id, self.channel_id,
                                     folder_id) if folder_id else []
            if event is not None and self.principal.access.folder_level(
                self.channel_id, path or []
            ) >= READ:
                kept.append(event_id)
        return kept

    async def hide_unreadable(self, error: ApiError) -> None:
        """A refusal of the period rules names only the events the credential can read: the
        overlapped ids of PERIODS_OVERLAP, the `conflictingEventId` of INVALID_OPERATION."""
        if error.error_id == "PERIODS_OVERLAP" and isinstance(error.data, list):
            error.data = await self.readable(error.data)
        elif (isinstance(error.data, dict) and "conflictingEventId" in error.data
              and not await self.readable([error.data["conflictingEventId"]])):
            error.data = None

    async def stop(self, event_id: str, at: float, now: float) -> str:
        try:
            running = await event_at(
                self.tx.conn, self.principal, self.channel_id, event_id, EVENTS_WRITE
            )
        except ApiError as exc:
            if exc.error_id != "UNKNOWN_EVENT":
                raise
            # A running period the credential cannot read: refused as one it cannot change,
            # without naming it (the message of UNKNOWN_EVENT holds the id).
            raise forbidden("A running period the credential cannot change would have to stop"
                            ) from None
        await self.append("event.updated", stopped(running, at, now))
        return event_id


async def record_event(
    tx: transaction.Tx,
    principal: Principal,
    channel_id: str,
    fields: dict[str, Any],
    *,
    kind: str,
    upload: Upload | None = None,
) -> dict[str, Any]:
    """Records a mark or a finished period (`kind` `mark`/`period`) or starts one (`running`).
    Returns `{id, stoppedId?}`."""
    changes = Changes(tx, principal, channel_id)
    channel = await changes.lock()
    now = time.time()
    event = new_event(new_id(), channel_id, fields, now, kind=kind)
    await check_folder(tx.conn, principal, channel_id, event["folderId"], EVENTS_WRITE)
    await check_client_ids(tx.conn, principal, channel_id, [event.get("clientId")])
    stopped_id = await changes.place(channel, event, now)
    if upload is not None:
        event["attachments"] = await upload.publish(tx.conn)
    await changes.append("event.created", event)
    answer: dict[str, Any] = {"id": event["id"]}
    if stopped_id is not None:
        answer["stoppedId"] = stopped_id
    return answer


async def check_client_ids(
    conn: asyncpg.Connection,
    principal: Principal,
    channel_id: str,
    client_ids: list[str | None],
    *,
    exclude: str | None = None,
) -> None:
    wanted = [c for c in client_ids if c is not None]
    if not wanted:
        return
    taken = await taken_client_ids(conn, principal.user_id, channel_id, wanted, exclude=exclude)
    if taken:  # perhaps by events outside the grants: not described
        raise client_ids_unavailable(taken)


async def stop_running(
    tx: transaction.Tx, principal: Principal, channel_id: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """Stops the running period (the one named by `id`, else the latest one the credential can
    read) at `time` (default now). `{stoppedId}`, null when none ran."""
    changes = Changes(tx, principal, channel_id)
    await changes.lock()
    now = time.time()
    at = fields.get("time", now)
    event_id = fields.get("id")
    if event_id is None:
        for running in await running_periods(tx.conn, principal.user_id, channel_id):
            path = await folder_path(tx.conn, principal.user_id, channel_id, running["folderId"])
            if principal.access.folder_level(channel_id, path or []) >= READ:
                event_id = running["id"]
                break
        if event_id is None:
            return {"stoppedId": None}
    else:
        event = await event_at(tx.conn, principal, channel_id, event_id, EVENTS_WRITE)
        if event.get("duration", 0) is not None or event["trashed"]:
            raise invalid_operation("The event is not a running period")
    return {"stoppedId": await changes.stop(event_id, at, now)}


async def update_event(
    tx: transaction.Tx,
    principal: Principal,
    channel_id: str,
    event_id: str,
    fields: dict[str, Any],
) -> dict[str, Any]:
    """Modifies the event; the answer is the event (plus `stoppedId` when it stopped another)."""
    changes = Changes(tx, principal, channel_id)
    channel = await changes.lock()
    event = await event_at(tx.conn, principal, channel_id, event_id, EVENTS_WRITE)
    now = time.time()
    changed = updated_event(event, fields, now)
    if changed["folderId"] != event["folderId"]:
        await check_folder(tx.conn, principal, channel_id, changed["folderId"], EVENTS_WRITE)
    if changed.get("clientId") != event.get("clientId"):
        await check_client_ids(
            tx.conn, principal, channel_id, [changed.get("clientId")], exclude=event_id
        )
    stopped_id = await changes.place(channel, changed, now)
    trashing = changed["trashed"] and not event["trashed"]
    await changes.append("event.trashed" if trashing else "event.updated", changed)
    if stopped_id is not None:
        return {**changed, "stoppedId": stopped_id}
    return changed


async def delete_event(
    tx: transaction.Tx, principal: Principal, channel_id: str, event_id: str
) -> dict[str, Any]:
    """Trashes the event (200, the event); a trashed one is deleted for good with its files."""
    changes = Changes(tx, principal, channel_id)
    await changes.lock()
    event = await event_at(tx.conn, principal, channel_id, event_id, EVENTS_WRITE)
    now = time.time()
    if not event["trashed"]:
        trashed = {**event, "trashed": True, "modified": now}
        await changes.append("event.trashed", trashed)
        return trashed
    await tx.append(
        changes.stream,
        "event.deleted",
        {"channelId": channel_id, "eventId": event_id, "folderId": event["folderId"],
         "time": now},
        user_id=principal.user_id,
    )
    return {"eventDeletion": {"id": event_id}}


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
                    tx, principal, channel_id, fields, kind=_kind(fields), upload=upload
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
                data[key] = float(raw)
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
        visible = await _readable(conn, principal, channel_id)
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


async def _readable(
    conn: asyncpg.Connection, principal: Principal, channel_id: str
) -> set[str] | None:
    """The folders whose events the credential may read; None for all (and marks off-folder)."""
    granted = principal.access.granted_folders(channel_id, READ)
    if None in granted:
        return None
    tree = await load_tree(conn, principal.user_id, channel_id)
    return {f for top in granted if top is not None for f in tree.subtree(top)}


async def list_events(request: Request) -> JSONResponse:
    principal, channel_id = await precheck(request, lazy=True)
    async with channel_before_body(request, principal, channel_id):
        query = _event_query(request)
    async with request.app.state.pool.acquire() as conn:
        if query.folders:  # onlyFolders: the channel first, then the folders in it
            await channel_for(conn, principal, channel_id)
        folders = await _query_folders(conn, principal, channel_id, query.folders or [])
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
        if not TYPE_FILTER.match(value):
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


async def _query_folders(
    conn: asyncpg.Connection, principal: Principal, channel_id: str, only: list[str]
) -> list[str] | None:
    """The folders a query covers: `onlyFolders` and their descendants, within what the
    credential may read (None: the whole channel). A folder it cannot read is UNKNOWN_FOLDER."""
    readable = await _readable(conn, principal, channel_id)
    if not only:
        return None if readable is None else sorted(readable)
    tree = await load_tree(conn, principal.user_id, channel_id)
    covered: set[str] = set()
    for folder_id in only:
        path = tree.path(folder_id)
        if not path or principal.access.folder_level(channel_id, path) < READ:
            raise unknown_folder(folder_id, 400)
        covered.update(tree.subtree(folder_id))
    return sorted(covered)


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
