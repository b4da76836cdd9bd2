"""The Plex Media Server dialect of activities, under `/compat/plex` (a client's base URL).

Served for the `plex-api-client` SDK (`activities.list_activities()`, `cancel_activity()`) and
for `plexapi` (`PlexServer(baseurl, token).activities`, which reads XML). The credential is the
`X-Plex-Token` header, or the `X-Plex-Token` query parameter (plexapi puts it in URLs); our own
`Authorization` works too. Who sees and cancels what is the rule of `GET /activities`
(app/identity/activity_visibility.py): a shared token those it started, the user's sessions and
personal tokens all the user's, an admin user's session everyone's.

| Plex `Activity`   | from our activity                                                     |
| ---               | ---                                                                   |
| `uuid`            | `id`                                                                  |
| `type`            | `type` (`folder.delete`, `channel.export`, ...)                       |
| `cancellable`     | `cancellable`, and not yet `completed`, `failed` or `cancelled`       |
| `userID`          | the owner: the first 48 bits of the user's UUID as an integer (0: operator) |
| `title`           | `title`                                                               |
| `subtitle`        | `subtitle`, else the state (`Pending`, `Running`, `Cancelling`, ...)  |
| `progress`        | `progress.percent` as an integer 0-100; 100 once completed; -1 unknown |
| `Context`         | `context` (`channelId`, `folderId`, ...)                              |
| `Response`        | `result.payload` once completed, `{"error": error}` once failed, else `{}` |

`GET /activities` answers JSON (`{"MediaContainer": {"size", "Activity": [...]}}`) when the
request's `Accept` names `application/json`, else XML (`<MediaContainer size><Activity .../>`,
nested objects as child elements), as Plex does. `DELETE /activities/{uuid}` runs the cancel
of `DELETE /activities/{id}` and answers exactly 200 with no body. `GET /` answers the server's
`<MediaContainer>` that `plexapi.server.PlexServer` reads when it connects.
Errors answer with the native status and body (docs/api.md §1), plus Plex's own
`"errors": [{"code", "message", "status"}]` beside the native `"error"`.

The notification streams that push these `Activity` objects as they change are in
app/compat/plex_notifications.py; answers that start an activity carry `X-Plex-Activity`
(app/http/activity_answers.py).
"""

from __future__ import annotations

import hashlib
from typing import Any
from xml.etree import ElementTree

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.commands import activities as activity_commands
from app.compat.common import (
    renders_errors,
    user_number,
    visible_activities,
    with_credential,
)
from app.domain.activities import COMPLETED, FAILED, FINAL
from app.domain.errors import ApiError
from app.edge.auth import authenticate
from app.edge.responses import json
from app.read.activities import activity_from_row

PREFIX = "/compat/plex"
LIMIT = 1000
VERSION = "1.0.0"


def error_response(exc: ApiError) -> Response:
    """An error in Plex's shape: the native body plus Plex's own `errors` list."""
    errors = [{"code": exc.status, "message": exc.message, "status": exc.status}]
    return json({**exc.body(), "errors": errors}, status=exc.status, headers=exc.headers)


def _request(request: Request) -> Request:
    return with_credential(request, "x-plex-token", query_name="X-Plex-Token")


def wants_json(request: Request) -> bool:
    return "application/json" in (request.headers.get("accept") or "").lower()


def progress(activity: dict[str, Any]) -> int:
    if activity["state"] == COMPLETED:
        return 100
    percent = (activity.get("progress") or {}).get("percent")
    return -1 if percent is None else max(0, min(100, int(percent)))


def plex_activity(activity: dict[str, Any], owner: Any) -> dict[str, Any]:
    """One activity in Plex's `Activity` shape (the table above)."""
    if activity["state"] == COMPLETED:
        response = (activity.get("result") or {}).get("payload") or {}
    elif activity["state"] == FAILED:
        response = {"error": activity.get("error")}
    else:
        response = {}
    return {
        "uuid": activity["id"],
        "type": activity["type"],
        "cancellable": bool(activity["cancellable"]) and activity["state"] not in FINAL,
        "userID": user_number(owner),
        "title": activity["title"],
        "subtitle": activity.get("subtitle") or activity["state"].capitalize(),
        "progress": progress(activity),
        "Context": activity.get("context") or {},
        "Response": response if isinstance(response, dict) else {"value": response},
    }


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _element(tag: str, fields: dict[str, Any]) -> ElementTree.Element:
    """Scalars as attributes, objects as child elements (Plex's XML style)."""
    element = ElementTree.Element(tag)
    for key, value in fields.items():
        if isinstance(value, dict):
            element.append(_element(key, value))
        elif value is not None:
            element.set(key, _xml_value(value))
    return element


def xml(tag: str, attributes: dict[str, Any], children: list[ElementTree.Element]) -> Response:
    root = _element(tag, attributes)
    root.extend(children)
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root)
    return Response(body, media_type="application/xml")


@renders_errors(error_response)
async def list_activities(request: Request) -> Response:
    request = _request(request)
    principal = await authenticate(request)
    rows = await visible_activities(request, principal, [], [],
                                    "a.created_at DESC, a.activity_id DESC", LIMIT)
    items = [plex_activity(activity_from_row(r), r["user_id"]) for r in rows]
    if wants_json(request):
        return json({"MediaContainer": {"size": len(items), "Activity": items}})
    return xml("MediaContainer", {"size": len(items)},
               [_element("Activity", item) for item in items])


@renders_errors(error_response)
async def cancel_activity(request: Request) -> Response:
    """The native cancel (app/commands/activities.py `cancel`), answered Plex's way."""
    request = _request(request)
    principal = await authenticate(request)
    await activity_commands.cancel(
        request.app.state.pool, principal, request.path_params["activity"]
    )
    return Response(status_code=200)


@renders_errors(error_response)
async def server(request: Request) -> Response:
    """The server's own `<MediaContainer>` (what `PlexServer(...)` reads when it connects)."""
    request = _request(request)
    await authenticate(request)
    settings = request.app.state.settings
    machine = hashlib.sha256(f"activity-server:{settings.domain or ''}".encode()).hexdigest()[:40]
    attributes = {"size": 0, "friendlyName": "activity-server", "machineIdentifier": machine,
                  "version": VERSION, "platform": "Linux", "multiuser": True,
                  "allowSync": False, "transcoderActiveVideoSessions": 0}
    if wants_json(request):
        return json({"MediaContainer": attributes})
    return xml("MediaContainer", attributes, [])


routes = [
    Route(f"{PREFIX}/", server, methods=["GET"]),
    Route(f"{PREFIX}/activities", list_activities, methods=["GET"]),
    Route(f"{PREFIX}/activities/{{activity}}", cancel_activity, methods=["DELETE"]),
]
