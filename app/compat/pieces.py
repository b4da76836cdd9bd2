"""The Pieces OS dialect of the user activity feed, under `/compat/pieces`.

Served for the `pieces-os-client` SDK (`pieces_os_client.api.activity_api.ActivityApi`). A
Pieces `Activity` is one entry of the caller's feed (`/user-activity`); the credential is the
`X-Application-ID` header (the SDK's `application` API key), or our own `Authorization`. As for
the feed, only a session or a personal token may use it (403 otherwise).

| Pieces `Activity` | from the feed entry                                                   |
| ---               | ---                                                                   |
| `id`              | `id` (the entry's id, digits)                                         |
| `created.value`   | `createdAt` (RFC 3339); `created.readable`: the entry's `text`         |
| `updated.value`   | `updatedAt`, else `createdAt`                                          |
| `deleted.value`   | `deletedAt` (only present once deleted)                               |
| `mechanism`       | `DELETED` once deleted; `AUTOMATIC` for what the server or the        |
|                   | operator did; else `MANUAL`                                           |
| `event`           | `{}` (the entry's `type` and `code` have no field of their own here)  |
| `user`            | the feed's owner: `{id: user UUID, username, name, email}`            |
| `application`     | this server: `APPLICATION` below (`OS_SERVER`, `LINUX`, `CLOSED`)     |

`GET /activity/identifiers` answers `{"iterable": [{"id"}]}`, newest first (at most 1,000), and
takes `activity_filter_enum`: the kind of the entries (`USER`, `CHANNEL`, `FOLDER`, `EVENT`,
`ATTACHMENT`, `TOKEN`, `ACTIVITY`; `ALL` or none: every entry); `pseudo` is accepted and
ignored. `GET /activity/{id}` answers the `Activity`, 410 when the entry is unknown or
deleted. `POST /activity/update` takes an `Activity`: every field is read-only but a deletion
(`mechanism: "DELETED"` or a `deleted` timestamp), which soft-deletes the entry through the
feed's own command (app/commands/feed.py); it answers 200 with the updated `Activity`. Errors
answer in the native error shape (docs/api.md §1), which the SDK reads as its error text.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.commands.feed import delete_entry
from app.compat.common import feed_principal, renders_errors, rfc3339, with_credential
from app.domain.errors import ApiError, invalid_parameter, invalid_structure
from app.domain.ids import number_id
from app.edge.body import read_json
from app.edge.responses import json
from app.identity.principal import Principal
from app.read.accounts import user_profile
from app.read.feed import active_entry_ids, feed_entry

PREFIX = "/compat/pieces"
LIMIT = 1000
# `activity_filter_enum` -> the feed types it keeps (by their prefix).
FILTERS = {
    "USER": "user.", "CHANNEL": "channel.", "FOLDER": "folder.", "EVENT": "event.",
    "ATTACHMENT": "attachment.", "TOKEN": "token.", "ACTIVITY": "activity.",
}
APPLICATION = {
    "id": "activity-server",
    "name": "OS_SERVER",
    "version": "0.1.0",
    "platform": "LINUX",
    "privacy": "CLOSED",
    "onboarded": True,
}


def _error(exc: ApiError) -> Response:
    # Pieces answers an unknown or deleted activity with 410 (its SDK reads the body as text).
    status = 410 if exc.status == 404 else exc.status
    return json(exc.body(), status=status, headers=exc.headers)


async def _principal(request: Request) -> tuple[Request, Principal]:
    request = with_credential(request, "x-application-id")
    return request, await feed_principal(request)


def _timestamp(seconds: float) -> dict[str, Any]:
    return {"value": rfc3339(seconds)}


def pieces_activity(entry: dict[str, Any], user_id: Any, profile: dict[str, Any]
                    ) -> dict[str, Any]:
    """One feed entry in Pieces' `Activity` shape (the table above)."""
    author = (entry.get("createdBy") or {}).get("kind")
    if not entry["isActive"]:
        mechanism = "DELETED"
    elif author in ("server", "operator"):
        mechanism = "AUTOMATIC"
    else:
        mechanism = "MANUAL"
    activity: dict[str, Any] = {
        "id": entry["id"],
        "created": {**_timestamp(entry["createdAt"]), "readable": entry["text"]},
        "updated": _timestamp(entry["updatedAt"] or entry["createdAt"]),
        "mechanism": mechanism,
        "event": {},
        "application": APPLICATION,
        "user": {k: v for k, v in {"id": str(user_id), "username": profile["user_name"],
                                   "name": profile["display_name"],
                                   "email": profile["email"]}.items() if v is not None},
    }
    if entry["deletedAt"] is not None:
        activity["deleted"] = _timestamp(entry["deletedAt"])
    return activity


async def _answer(request: Request, principal: Principal, entry: dict[str, Any]) -> Response:
    profile = await user_profile(request.app.state.pool, principal.user_id)
    return json(pieces_activity(entry, principal.user_id, profile))


def _entry_id(raw: Any) -> int:
    number = number_id(raw) if isinstance(raw, str) else None
    if number is None:
        raise ApiError(404, "UNKNOWN_RESOURCE", f"Unknown activity {raw!r}")
    return number


@renders_errors(_error)
async def identifiers(request: Request) -> Response:
    request, principal = await _principal(request)
    kind = (request.query_params.get("activity_filter_enum") or "ALL").upper()
    if kind != "ALL" and kind not in FILTERS:
        raise invalid_parameter("activity_filter_enum",
                                f"activity_filter_enum must be ALL or one of {', '.join(FILTERS)}")
    ids = await active_entry_ids(
        request.app.state.pool, principal.user_id, FILTERS.get(kind), LIMIT
    )
    return json({"iterable": [{"id": entry_id} for entry_id in ids]})


@renders_errors(_error)
async def snapshot(request: Request) -> Response:
    request, principal = await _principal(request)
    entry_id = _entry_id(request.path_params["activity"])
    entry = await feed_entry(request.app.state.pool, principal.user_id, entry_id)
    return await _answer(request, principal, entry)


@renders_errors(_error)
async def update(request: Request) -> Response:
    request, principal = await _principal(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise invalid_structure("The body must be a Pieces Activity (a JSON object)")
    entry_id = _entry_id(body.get("id"))
    entry = await feed_entry(request.app.state.pool, principal.user_id, entry_id)
    if body.get("mechanism") == "DELETED" or body.get("deleted"):
        entry = await delete_entry(request.app.state.pool, principal, entry_id)
    return await _answer(request, principal, entry)


routes = [
    Route(f"{PREFIX}/activity/identifiers", identifiers, methods=["GET"]),
    Route(f"{PREFIX}/activity/update", update, methods=["POST"]),
    Route(f"{PREFIX}/activity/{{activity}}", snapshot, methods=["GET"]),
]
