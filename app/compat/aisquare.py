"""The AISquare Studio dialect of the user activity feed, under `/compat/aisquare/api/v1`:
`GET` and `PUT /activity/{id}/`, one feed entry as a `UserActivity`.

The credential is our own (`Authorization`); as for the feed, only a session or a personal
token may use it.

| `UserActivity`       | from the feed entry                                                |
| ---                  | ---                                                                |
| `id`                 | `id` as an integer                                                 |
| `uid`                | a UUID derived from the owner and the entry (stable across rebuilds) |
| `activity_type`      | `code` as a string (`"20"`: folder created; the feed's code table)  |
| `user`               | the feed's owner: `{id: user UUID, username, profile_picture: null}` |
| `workspace_group_id` | `resource.channelId` (a channel groups the user's work), else null |
| `created_at`         | `createdAt` (RFC 3339, as the other times)                          |
| `updated_at`         | `updatedAt`, else `createdAt`                                      |
| `deleted_at`         | `deletedAt` (null while active)                                    |
| `is_active`          | `isActive`                                                         |
| `text`               | `text` (the one field `PUT` changes: 1 to 1,000 characters)          |
| `resource`           | `resource` (`{kind, id, channelId}`)                               |

As its spec says: 401 without valid credentials, 404 `"detail": "Not found."` for an entry
that does not exist, is another user's, or was deleted (the spec has no 410). `PUT` takes a
`UserActivity`; the fields other than `text` are read-only and ignored (as a Django REST
framework serializer does); a bad `text` is 400 with `"text": ["..."]`. A shared token is 403.
Every error body is the native one (docs/api.md §1) with those Django REST framework keys beside
its `"error"` (`detail`, or a list of messages per field).
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.commands.feed import edit_entry_text
from app.compat.common import feed_principal, renders_errors, rfc3339
from app.domain.errors import ApiError, invalid_parameter
from app.domain.feed import MAX_ENTRY_TEXT
from app.domain.ids import number_id
from app.edge.body import read_json
from app.edge.responses import json
from app.identity.principal import Principal
from app.read.accounts import user_profile
from app.read.feed import feed_entry

PREFIX = "/compat/aisquare/api/v1"
_UID_NAMESPACE = uuid.UUID("6d1b0f3e-2a8e-4c55-9d3c-0f0a1c2e7b41")


def _error(exc: ApiError) -> Response:
    """The native error body (docs/api.md §1) with Django REST framework's keys beside it:
    `detail`, or one list of messages per offending field."""
    if exc.status in (404, 410):
        exc = ApiError(404, "UNKNOWN_RESOURCE", "Not found.")
    body: dict[str, Any] = exc.body()
    if exc.sub_errors:
        for sub in exc.sub_errors:
            messages = body.setdefault(sub["data"]["param"], [])
            if isinstance(messages, list):  # a field named `error` keeps the native error
                messages.append(sub["message"])
    else:
        body["detail"] = exc.message
    return json(body, status=exc.status, headers=exc.headers)


def user_activity(entry: dict[str, Any], user_id: uuid.UUID, user_name: str | None
                  ) -> dict[str, Any]:
    """One feed entry as a `UserActivity` (the table above)."""
    resource = entry.get("resource") or None
    return {
        "id": int(entry["id"]),
        "uid": str(uuid.uuid5(_UID_NAMESPACE, f"{user_id}:{entry['id']}")),
        "activity_type": str(entry["code"]),
        "user": {"id": str(user_id), "username": user_name, "profile_picture": None},
        "workspace_group_id": (resource or {}).get("channelId"),
        "created_at": rfc3339(entry["createdAt"]),
        "updated_at": rfc3339(entry["updatedAt"] or entry["createdAt"]),
        "deleted_at": rfc3339(entry["deletedAt"]),
        "is_active": entry["isActive"],
        "text": entry["text"],
        "resource": resource,
    }


def _entry_id(request: Request) -> int:
    number = number_id(request.path_params["entry"])
    if number is None:
        raise ApiError(404, "UNKNOWN_RESOURCE", "Not found.")
    return number


async def _answer(request: Request, principal: Principal, entry: dict[str, Any]) -> Response:
    profile = await user_profile(request.app.state.pool, principal.user_id)
    return json(user_activity(entry, principal.user_id, profile["user_name"]))


def _invalid_text(message: str) -> ApiError:
    return invalid_parameter("text", message)


@renders_errors(_error)
async def retrieve(request: Request) -> Response:
    principal = await feed_principal(request)
    entry_id = _entry_id(request)
    entry = await feed_entry(request.app.state.pool, principal.user_id, entry_id)
    return await _answer(request, principal, entry)


@renders_errors(_error)
async def update(request: Request) -> Response:
    principal = await feed_principal(request)
    entry_id = _entry_id(request)
    await feed_entry(request.app.state.pool, principal.user_id, entry_id)  # 404 before the body
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "INVALID_REQUEST_STRUCTURE", "Expected a UserActivity object.")
    text = body.get("text")
    if text is None:
        raise _invalid_text("This field is required.")
    if not isinstance(text, str) or not text.strip():
        raise _invalid_text("Not a valid string." if not isinstance(text, str)
                            else "This field may not be blank.")
    if len(text) > MAX_ENTRY_TEXT:
        raise _invalid_text(f"Ensure this field has no more than {MAX_ENTRY_TEXT} characters.")
    entry = await edit_entry_text(request.app.state.pool, principal, entry_id, text)
    return await _answer(request, principal, entry)


routes = [
    Route(f"{PREFIX}/activity/{{entry}}/", retrieve, methods=["GET"]),
    Route(f"{PREFIX}/activity/{{entry}}/", update, methods=["PUT"]),
]
