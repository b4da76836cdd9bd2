"""The user activity feed over HTTP (docs/api.md §6): list, identifiers, one entry, edit its text,
soft delete. The entries are read through app/read/feed.py; an edit or a deletion is a command
of app/commands/feed.py. Who may use the feed: app/identity/feed_access.py.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection, Request
from starlette.routing import Route

from app.commands import feed as commands
from app.domain import body_types as declare
from app.domain.body_types import BodyType
from app.domain.feed import DEFAULT_LIMIT, MAX_ENTRY_TEXT, MAX_LIMIT, unknown_entry
from app.domain.ids import number_id
from app.domain.validation import Query
from app.edge.auth import authenticate
from app.edge.body import read_json
from app.edge.responses import JSONResponse, json
from app.identity.feed_access import check_feed_access
from app.identity.principal import Principal
from app.read import feed as read


async def feed_caller(conn: HTTPConnection) -> Principal:
    """The caller, if the feed is theirs to read: a session or a personal token."""
    return check_feed_access(await authenticate(conn))


def _entry_id(request: Request) -> int:
    raw = request.path_params["entry"]
    entry_id = number_id(raw)
    if entry_id is None:
        raise unknown_entry(raw)
    return entry_id


def _filter(request: Request) -> read.FeedFilter:
    """The filters shared by the list and the identifiers: `type` (comma list or repeated),
    `fromTime`, `toTime`, `limit` (default 100), `before` (an entry id), `includeDeleted`."""
    query = Query(request.query_params)
    where = read.FeedFilter(
        types=query.many("type"),
        from_time=query.number("fromTime"),
        to_time=query.number("toTime"),
        limit=query.integer("limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT),
        before=query.integer("before", minimum=0, maximum=10**18),
        include_deleted=bool(query.boolean("includeDeleted")),
    )
    query.done()
    return where


async def list_feed(request: Request) -> JSONResponse:
    principal = await feed_caller(request)
    where = _filter(request)
    return json(await read.list_entries(request.app.state.pool, principal.user_id, where))


async def identifiers(request: Request) -> JSONResponse:
    principal = await feed_caller(request)
    where = _filter(request)
    return json(await read.entry_ids(request.app.state.pool, principal.user_id, where))


async def get_entry(request: Request) -> JSONResponse:
    principal = await feed_caller(request)
    entry_id = _entry_id(request)
    return json(await read.feed_entry(request.app.state.pool, principal.user_id, entry_id))


class EntryTextChange(BodyType):
    """`PUT /user-activity/{entry}`."""

    text: str = declare.text(required=True, min_len=1, max_len=MAX_ENTRY_TEXT)


async def update_entry(request: Request) -> JSONResponse:
    """Changes the entry's `text` (1 to 1,000 characters)."""
    principal = await feed_caller(request)
    entry_id = _entry_id(request)
    change = EntryTextChange.read(await read_json(request))
    return json(
        await commands.edit_entry_text(request.app.state.pool, principal, entry_id, change.text)
    )


async def delete_entry(request: Request) -> JSONResponse:
    """Soft delete: the entry stays, with `deletedAt`, `deletedBy`, `isActive: false`; reading,
    editing or deleting it again answers 410 `GONE`; `includeDeleted` lists it."""
    principal = await feed_caller(request)
    entry_id = _entry_id(request)
    return json(await commands.delete_entry(request.app.state.pool, principal, entry_id))


routes = [
    Route("/user-activity", list_feed, methods=["GET"]),
    Route("/user-activity/identifiers", identifiers, methods=["GET"]),
    Route("/user-activity/{entry}", get_entry, methods=["GET"]),
    Route("/user-activity/{entry}", update_entry, methods=["PUT"]),
    Route("/user-activity/{entry}", delete_entry, methods=["DELETE"]),
]
