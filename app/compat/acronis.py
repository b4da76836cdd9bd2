"""The Acronis Task Manager v2 dialect of activities, under
`/compat/acronis/api/task_manager/v2`: `GET /activities`.

The credential is our own (`Authorization: Bearer <token or session>`, as Acronis clients send
their access token). Who sees what is the rule of `GET /activities`.

| Acronis activity  | from our activity                                                     |
| ---               | ---                                                                   |
| `id`              | a stable positive 63-bit integer: the top bits of `id` (a UUID)       |
| `idString`        | that integer as a string                                              |
| `uuid`            | `id`                                                                  |
| `type`            | `type`                                                                |
| `state`           | `pending` → `enqueued`; `running`, `cancelling` → `started`;          |
|                   | `completed`, `failed`, `cancelled` → `completed`                       |
| `result`          | once final: `{code, payload}`: `ok` + `result.payload` (completed),     |
|                   | `error` + `error` (failed), `cancelled` + null (cancelled)             |
| `createdAt`, ...  | `createdAt`, `startedAt`, `completedAt`, `updatedAt`: RFC 3339, UTC;   |
|                   | absent while unset                                                    |
| `context`         | `context` plus `title` (and `subtitle` when set)                       |
| `startedByUser`   | `startedBy.userName` (`operator` for the operator)                     |
| `cancellable`, `cancelRequested` | the same                                                |

Query: `state`, `type`, `resultCode`, `uuid` (each comma-separated or repeated: any of them);
`createdAt`, `startedAt`, `completedAt`, `updatedAt` with an operator (`gt(T)`, `ge(T)`, `lt(T)`,
`le(T)`, `eq(T)`, or a bare `T` for equality; repeat a parameter to bound both ends; `T` is RFC
3339, Unix seconds or Unix nanoseconds with an `ns` suffix); `order=asc(F)` or `desc(F)` on
one of those four times (default `desc(createdAt)`; unset times sort as oldest); `limit`
(1-1,000, default 100); `after`, the page token of `paging.cursors.after`, which carries the
query it continues (with it, only `limit` may be given besides). The answer is `{"items": [...],
"paging": {"cursors": {"after"?}}}`; `after` is absent on the last page. Errors answer as the
native routes do (docs/api.md §1).
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.compat.common import activity_number, micros, rfc3339, visible_activities
from app.domain.activities import CANCELLED, COMPLETED, FAILED
from app.domain.errors import invalid_parameter
from app.domain.ids import uuid_id
from app.domain.validation import MAX_TIME, MIN_TIME, is_number
from app.edge.auth import authenticate
from app.edge.responses import json
from app.read.activities import activity_from_row

PREFIX = "/compat/acronis/api/task_manager/v2"
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100

# Acronis state -> our states; Acronis result code -> our final state.
STATES = {
    "enqueued": ["pending"],
    "assigned": [],
    "started": ["running", "cancelling"],
    "paused": [],
    "completed": [COMPLETED, FAILED, CANCELLED],
}
RESULT_CODES = {
    "ok": [COMPLETED], "error": [FAILED], "cancelled": [CANCELLED],
    "warning": [], "abandoned": [], "timedout": [],
}
TIMES = {"createdAt": "created_at", "startedAt": "started_at", "completedAt": "completed_at",
         "updatedAt": "updated_at"}
OPERATORS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "="}
_OPERATOR = re.compile(r"^(gt|ge|lt|le|eq)\((.*)\)$")
_ORDER = re.compile(r"^(asc|desc)\((\w+)\)$")
_FILTERS = ("state", "type", "resultCode", "uuid", *TIMES)


def acronis_state(state: str) -> str:
    return next(name for name, ours in STATES.items() if state in ours)


def acronis_activity(activity: dict[str, Any]) -> dict[str, Any]:
    """One activity in the Acronis shape (the table above)."""
    number = activity_number(activity["id"])
    context = dict(activity.get("context") or {})
    context["title"] = activity["title"]
    if activity.get("subtitle"):
        context["subtitle"] = activity["subtitle"]
    started_by = activity.get("startedBy") or {}
    item: dict[str, Any] = {
        "id": number,
        "idString": str(number),
        "uuid": activity["id"],
        "type": activity["type"],
        "state": acronis_state(activity["state"]),
        "cancellable": activity["cancellable"],
        "cancelRequested": activity["cancelRequested"],
        "context": context,
        "startedByUser": started_by.get("userName")
        or ("operator" if started_by.get("operator") else None),
    }
    for name in TIMES:
        if activity.get(name) is not None:
            item[name] = rfc3339(activity[name])
    if activity["state"] == COMPLETED:
        item["result"] = {"code": "ok", "payload": (activity.get("result") or {}).get("payload")}
    elif activity["state"] == FAILED:
        item["result"] = {"code": "error", "payload": activity.get("error")}
    elif activity["state"] == CANCELLED:
        item["result"] = {"code": "cancelled", "payload": None}
    return item


def parse_time(param: str, text: str) -> float:
    """RFC 3339, Unix seconds, or Unix nanoseconds (`...ns`), as seconds since the epoch, within
    the times the native API accepts (the comparison is done in 64-bit microseconds)."""
    text = text.strip()
    try:
        if not text.isascii():  # `\\d`, `isdigit` and `float` take Unicode digits too
            raise ValueError(text)
        if re.fullmatch(r"[0-9]+ns", text):
            seconds = int(text[:-2]) / 1e9
        elif re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
            seconds = float(text)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError(text)
            seconds = moment.timestamp()
    except (ValueError, OverflowError):
        raise invalid_parameter(param, f"{param}: {text!r} is not an RFC 3339 time") from None
    if not MIN_TIME <= seconds <= MAX_TIME:
        raise invalid_parameter(param, f"{param}: {text!r} is out of range")
    return seconds


def _values(params: dict[str, list[str]], name: str, choices: dict[str, list[str]] | None
            ) -> list[str] | None:
    values = [v.strip() for raw in params.get(name, []) for v in raw.split(",") if v.strip()]
    if not values:
        return None
    if choices is not None:
        for value in values:
            if value not in choices:
                raise invalid_parameter(name, f"{name} must be among {', '.join(choices)}")
    return values


def _query(params: dict[str, list[str]]) -> tuple[list[str], list[Any], str, bool]:
    """The WHERE conditions (after the common ones: $1 is taken), their arguments, the sort
    column, and whether it is descending."""
    conditions: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args) + 1}"

    states = _values(params, "state", STATES)
    if states is not None:
        ours = [s for name in states for s in STATES[name]]
        conditions.append(f"a.state = ANY({arg(ours)}::text[])")
    codes = _values(params, "resultCode", RESULT_CODES)
    if codes is not None:
        ours = [s for name in codes for s in RESULT_CODES[name]]
        conditions.append(f"a.state = ANY({arg(ours)}::text[])")
    types = _values(params, "type", None)
    if types is not None:
        conditions.append(f"a.type = ANY({arg(types)}::text[])")
    uuids = _values(params, "uuid", None)
    if uuids is not None:
        ids = [uuid_id(u) for u in uuids]
        if None in ids:
            raise invalid_parameter("uuid", "uuid must hold activity ids")
        conditions.append(f"a.activity_id = ANY({arg(ids)}::uuid[])")
    for name, column in TIMES.items():
        for raw in params.get(name, []):
            match = _OPERATOR.match(raw.strip())
            operator, text = (match.group(1), match.group(2)) if match else ("eq", raw)
            # Compared to the microsecond, the precision of the times this dialect shows,
            # so that a time read from an item and given back matches that item exactly: the
            # column is rounded as `rfc3339` rounds it (whole seconds apart, then the fraction;
            # rounding `t * 1e6` whole differs near a half microsecond, and a time given back
            # then missed its own item).
            conditions.append(
                f"floor(a.{column})::bigint * 1000000 "
                f"+ round((a.{column} - floor(a.{column})) * 1000000)::bigint "
                f"{OPERATORS[operator]} {arg(micros(parse_time(name, text)))}::bigint"
            )
    order = (params.get("order") or ["desc(createdAt)"])[-1].strip()
    match = _ORDER.match(order)
    if match is None or match.group(2) not in TIMES:
        raise invalid_parameter("order", f"order must be asc(F) or desc(F), F among "
                                         f"{', '.join(TIMES)}")
    return conditions, args, TIMES[match.group(2)], match.group(1) == "desc"


def _token(query: dict[str, list[str]], key: list[Any]) -> str:
    raw = orjson.dumps({"q": query, "k": key})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _untoken(token: str) -> tuple[dict[str, list[str]], list[Any]]:
    """The query and the key (sort value, activity id) `_token` wrote. A client may send any
    text: anything that is not exactly that shape is 400, never a value the query chokes on."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        query, key = data["q"], data["k"]
        if not (isinstance(query, dict) and all(
            name in (*_FILTERS, "order") and isinstance(values, list)
            and all(isinstance(v, str) for v in values)
            for name, values in query.items()
        )):
            raise ValueError(token)
        value, activity = key
        activity_id = uuid_id(activity) if isinstance(activity, str) else None
        if not is_number(value) or activity_id is None:
            raise ValueError(token)
        return query, [float(value), activity_id]
    except (ValueError, KeyError, TypeError):  # binascii.Error and JSONDecodeError included
        raise invalid_parameter("after", "after is not a page token of this list") from None


async def list_activities(request: Request) -> Response:
    principal = await authenticate(request)
    given = {k: request.query_params.getlist(k) for k in request.query_params}
    unknown = set(given) - {*_FILTERS, "order", "limit", "after", "lod", "userName", "auth"}
    if unknown:
        raise invalid_parameter(sorted(unknown)[0], "unknown query parameter")
    limit_text = request.query_params.get("limit") or str(DEFAULT_LIMIT)
    if not re.fullmatch(r"[0-9]{1,4}", limit_text) or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise invalid_parameter("limit", f"limit must be between 1 and {MAX_LIMIT}")
    limit = int(limit_text)
    after = request.query_params.get("after")
    key: list[Any] | None = None
    if after is not None:
        if set(given) & {*_FILTERS, "order"}:
            raise invalid_parameter("after", "after carries its query: give only limit with it")
        query, key = _untoken(after)
    else:
        query = {k: v for k, v in given.items() if k in (*_FILTERS, "order")}
    conditions, args, column, descending = _query(query)
    sort = f"coalesce(a.{column}, -1)"
    direction = "DESC" if descending else "ASC"
    if key is not None:
        n = len(args) + 2
        args += key
        conditions.append(f"({sort}, a.activity_id) {'<' if descending else '>'} "
                          f"(${n}::float8, ${n + 1}::uuid)")
    rows = await visible_activities(request, principal, conditions, args,
                                    f"{sort} {direction}, a.activity_id {direction}", limit + 1)
    items = [activity_from_row(r) for r in rows]
    cursors: dict[str, Any] = {}
    if len(items) > limit:
        last = rows[limit - 1]
        value = last[column]
        cursors["after"] = _token(query, [-1 if value is None else value,
                                          str(last["activity_id"])])
    return json({"items": [acronis_activity(a) for a in items[:limit]],
                 "paging": {"cursors": cursors}})


routes = [Route(f"{PREFIX}/activities", list_activities, methods=["GET"])]
