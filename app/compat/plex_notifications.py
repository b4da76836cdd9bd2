"""Plex's notification streams under `/compat/plex`: activity progress as Plex clients follow it.

- `GET /:/websockets/notifications` (WebSocket; what `plexapi`'s `AlertListener` connects to);
- `GET /:/eventsource/notifications` (EventSource, `text/event-stream`).

The credential is the dialect's (`X-Plex-Token` header or query parameter, or `Authorization`).
Every message is one JSON object, the same on both transports:

    {"NotificationContainer": {"type": "activity", "size": 1, "ActivityNotification": [
        {"event": "started" | "updated" | "ended", "uuid": "<activity id>",
         "Activity": {...the dialect's Activity, as GET /activities lists it...}}]}}

On EventSource the SSE event name is the container's `type` (`event: activity`). After
`ACTIVITY_STREAM_HEARTBEAT_SECONDS` of silence a `{"NotificationContainer": {"type": "ping",
"size": 0}}` is sent (`event: ping`), whatever the filters: it is what keeps an idle connection
alive through proxies, and what a Plex client watches to know the server is still there.

| Plex `event` | our activity records                                                   |
| ---          | ---                                                                    |
| `started`    | `activity.created`                                                     |
| `updated`    | `activity.started`, `activity.progress`, `activity.cancel_requested`   |
| `ended`      | `activity.completed`, `activity.failed`, `activity.cancelled`          |

Plex's `filters` query parameter picks the notification types: `activity,foo` only those,
`-log,foo` all but those, empty all; absent, Plex's default `-log`. Only `activity` (and the
ping) is ever sent here.

Nothing here subscribes on its own: a connection is a sink of the process's fan-out
(app/realtime/fanout.py) with one activity subscription, so it sees, from every server process,
exactly the activities the dialect's list shows the credential (app/identity/activity_visibility.py:
`all` for an admin user's session, else `mine`). There is no resume: Plex has none, so a
reconnecting client starts from now (and reads `GET /activities` for what it missed).
"""

from __future__ import annotations

import contextlib
import logging
import re
import weakref
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from app.compat.common import credential_scope, renders_errors
from app.compat.plex import PREFIX, error_response, plex_activity
from app.domain.activities import CREATED, FINAL_RECORDS
from app.domain.errors import ApiError, invalid_parameter
from app.edge.auth import authenticate
from app.identity import activity_visibility as visibility
from app.identity.principal import Principal
from app.realtime.filters import ALL, MINE, Filter
from app.realtime.messages import Change, message_data
from app.realtime.sink import Closing, Sink, SinkClosed, deliveries, reconfirm, serve
from app.realtime.sse import EventStream, Framing
from app.store.database import is_database_unavailable, unavailable

logger = logging.getLogger(__name__)

ACTIVITY, PING = "activity", "ping"
_STARTED = CREATED
_ENDED = frozenset(FINAL_RECORDS.values())
_FILTER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")
MAX_FILTERS = 50
PING_MESSAGE = orjson.dumps({"NotificationContainer": {"type": PING, "size": 0}})


# --- what is sent -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Types:
    """Plex's `filters`: the notification types to send (`names`), or, with `exclude`, the
    types not to send."""

    names: frozenset[str]
    exclude: bool

    def wants(self, notification_type: str) -> bool:
        return (notification_type in self.names) != self.exclude


DEFAULT_TYPES = Types(frozenset({"log"}), exclude=True)  # Plex's default, `-log`


def parse_types(value: str | None) -> Types:
    """`filters` as Plex reads it; 400 `INVALID_PARAMETERS_FORMAT` for a name that cannot be a
    notification type."""
    if value is None:
        return DEFAULT_TYPES
    names = [n.strip() for n in value.removeprefix("-").split(",") if n.strip()]
    if len(names) > MAX_FILTERS or not all(_FILTER_NAME.match(n) for n in names):
        raise invalid_parameter(
            "filters", f"filters must be at most {MAX_FILTERS} notification types "
            "(letters, digits, '.', '_', '-'), comma-separated, the first optionally after '-'")
    # Nothing named (`filters=`) is every type: all but none.
    return Types(frozenset(names), exclude=value.startswith("-") or not names)


def subscription(principal: Principal, types: Types) -> Filter:
    """The fan-out filter of a Plex connection: the activities the dialect's list shows this
    credential, or none at all when `filters` leaves activities out."""
    if not types.wants(ACTIVITY):
        return Filter(activities=None, data=False)
    return Filter(activities=ALL if visibility.sees_everyones(principal) else MINE, data=False)


def event_of(record_type: str) -> str:
    if record_type == _STARTED:
        return "started"
    return "ended" if record_type in _ENDED else "updated"


# One message per change, shared by every Plex connection of the process (as the native SSE
# frame is); it goes with the change.
_messages: weakref.WeakKeyDictionary[Change, bytes] = weakref.WeakKeyDictionary()


def notification(change: Change) -> bytes:
    """The change's `NotificationContainer`; b"" for an activity record this dialect cannot
    read (logged, never sent: a malformed record must not end the connection)."""
    message = _messages.get(change)
    if message is None:
        try:
            activity = plex_activity(message_data(change.record, None), change.user_id)
        except (KeyError, TypeError, ValueError, AttributeError):
            logger.warning("record %s (%s) has an unexpected shape: not sent to Plex clients",
                        change.record.position, change.type)
            activity = None
        message = b"" if activity is None else orjson.dumps({"NotificationContainer": {
            "type": ACTIVITY, "size": 1, "ActivityNotification": [
                {"event": event_of(change.type), "uuid": activity["uuid"],
                 "Activity": activity}]}})
        _messages[change] = message
    return message


def _sse_frame(change: Change) -> bytes:
    message = notification(change)
    return b"event: %s\ndata: %s\n\n" % (ACTIVITY.encode(), message) if message else b""


def _sse_closing(closing: Closing) -> bytes:
    """A comment: Plex's EventSource has no close event; a browser reconnects (and gets 401
    once the credential is gone)."""
    return b": closed: %s\n\n" % closing.error_id.encode()


SSE = Framing(
    opening=b": connected\n\n",
    heartbeat=b"event: %s\ndata: %s\n\n" % (PING.encode(), PING_MESSAGE),
    change=_sse_frame,
    closing=_sse_closing,
    refuse=error_response,
)


def _scope(scope: Scope) -> Scope:
    return credential_scope(scope, "x-plex-token", query_name="X-Plex-Token")


# --- EventSource --------------------------------------------------------------------------------


@renders_errors(error_response)
async def event_source(request: Request) -> Any:
    request = Request(_scope(request.scope), request.receive)
    types = parse_types(request.query_params.get("filters"))
    principal = await authenticate(request)
    return EventStream(request, principal, subscription(principal, types), None, SSE)


# --- WebSocket ----------------------------------------------------------------------------------


class WebSocketNotifications:
    """The WebSocket endpoint, an ASGI app: the credential is moved into the scope before the
    `WebSocket` is made, so the fan-out's second look at it (`reconfirm`) reads it too."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(_scope(scope), receive, send)
        try:
            types = parse_types(websocket.query_params.get("filters"))
            principal = await authenticate(websocket)
        except ApiError as exc:
            await _deny(websocket, exc)
            return
        except Exception as exc:
            if not is_database_unavailable(exc):
                logger.exception("Plex WebSocket authentication failed")
            await _deny(websocket, unavailable())
            return
        await websocket.accept()
        fanout = websocket.app.state.fanout
        settings = websocket.app.state.settings
        sink = Sink(principal, settings.stream_queue_size)
        fanout.attach(sink)
        try:
            try:
                await reconfirm(sink, websocket)
            except ApiError as exc:
                await _close(websocket, 4401, exc.error_id)
                return
            fanout.subscribe(sink, subscription(principal, types), await fanout.now(), "plex")

            async def write() -> None:
                await _write(websocket, sink, settings.stream_heartbeat_seconds)

            await serve(sink, lambda: _drain(websocket), write)
        finally:
            fanout.detach(sink)


async def _deny(websocket: WebSocket, exc: ApiError) -> None:
    """Refuses the handshake with the dialect's HTTP error (401 and its body, as a Plex server
    refuses a bad token), where the server lets an application answer a handshake."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(exc))
    else:
        await websocket.close(4401 if exc.status == 401 else 1011, exc.error_id)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):  # the client may be gone already
        await websocket.close(code, reason)


async def _drain(websocket: WebSocket) -> None:
    """Reads until the client leaves: Plex clients send nothing, and what they send is ignored."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def _write(websocket: WebSocket, sink: Sink, heartbeat: float) -> None:
    try:
        async with deliveries(sink, heartbeat) as batches:
            async for items in batches:
                messages = [notification(change) for _sub, change in items] or [PING_MESSAGE]
                for message in messages:
                    if message:
                        await websocket.send_text(message.decode())
    except SinkClosed as closed:
        await _close(websocket, closed.closing.ws_code, closed.closing.error_id)
    except Exception:  # the client went away mid-send: nothing left to tell it
        return


routes = [
    Route(f"{PREFIX}/:/eventsource/notifications", event_source, methods=["GET"]),
    WebSocketRoute(f"{PREFIX}/:/websockets/notifications", WebSocketNotifications()),
]
