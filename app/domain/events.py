"""Decisions about the events users record: their fields, their state, and the period rules.

Pure functions over plain values. The commands (app/commands/events.py) read what they need
from the read model under the channel stream's lock, ask these functions, and append what they
return, so the rules below are decided against the latest committed state.

**Period rules** (docs/api.md §3, channels with `enforceNoEventsOverlap`): periods never overlap
(touching ends are fine); at most one period runs and it is the latest; a period recorded or
started after the running one's start stops it there (`stoppedId`). Marks never take part, and
neither do trashed events (restoring one puts it back under the rules).

Because periods never overlap, the only periods that can clash with a span `[start, end)` are
the ones beginning inside it and the single latest one beginning before it. `Neighbours` holds
exactly those (read with two index range scans, never a scan of the channel).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain import client_data
from app.domain.errors import ApiError, invalid_operation
from app.domain.validation import MAX_TIME, MISSING, Body

# Columns of the events read model that make the API shape, for `event_from_row`.
EVENT_COLUMNS = (
    "event_id, channel_id, folder_id, kind, time, duration, value, comment, tags, client_id, "
    "client_data, attachments, trashed, created, modified"
)

MAX_TAGS = 100
MAX_TAG_LENGTH = 200
MAX_CLIENT_ID_LENGTH = 255
MAX_COMMENT_LENGTH = 100_000
MAX_VALUE_TEXT = 10_000
# `{type}:{unit}`, e.g. `mass:kg`, `note:txt`, `money:usd`.
VALUE_TYPE = re.compile(r"^[A-Za-z0-9._/-]{1,100}:[A-Za-z0-9._/%-]{1,100}$")
# A `types` filter: a value type, or `{type}:*` for every unit of a type.
TYPE_FILTER = re.compile(r"^[A-Za-z0-9._/-]{1,100}:([A-Za-z0-9._/%-]{1,100}|\*)$")
OVERLAP_REPORT_LIMIT = 10

# Record types of the channel's stream (app/domain/ids.py `channel_stream`). Created, updated
# and trashed carry the event's whole new state (`{channelId, event}`); deleted carries
# `{channelId, eventId, folderId, time}`.
EVENT_CREATED = "event.created"
EVENT_UPDATED = "event.updated"
EVENT_TRASHED = "event.trashed"
EVENT_DELETED = "event.deleted"


def event_from_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The API shape of an event (docs/api.md §2) from a read-model row; absent values stay
    absent."""
    event: dict[str, Any] = {
        "id": row["event_id"],
        "channelId": row["channel_id"],
        "time": row["time"],
        "folderId": row["folder_id"],
        "tags": list(row["tags"]),
        "clientData": row["client_data"],
        "attachments": row["attachments"],
        "trashed": row["trashed"],
        "created": row["created"],
        "modified": row["modified"],
    }
    if row["kind"] == "period":
        event["duration"] = row["duration"]
    for key, column in (("value", "value"), ("comment", "comment"), ("clientId", "client_id")):
        if row[column] is not None:
            event[key] = row[column]
    return event


def is_period(event: Mapping[str, Any]) -> bool:
    return "duration" in event


def is_running(event: Mapping[str, Any]) -> bool:
    return is_period(event) and event["duration"] is None


def end_of(event: Mapping[str, Any]) -> float | None:
    """Where the event's span ends: its time for a mark, None while a period runs."""
    if not is_period(event):
        return event["time"]
    return None if event["duration"] is None else event["time"] + event["duration"]


# --- fields -------------------------------------------------------------------------------

# What each kind of request may carry.
CREATE_FIELDS = ("time", "duration", "folderId", "value", "comment", "tags", "clientId",
                 "clientData")
START_FIELDS = ("time", "folderId", "value", "comment", "tags", "clientId", "clientData")
UPDATE_FIELDS = ("time", "duration", "folderId", "value", "comment", "tags", "clientId",
                 "clientData", "trashed")


def read_fields(body: Body, allowed: Iterable[str], *, update: bool = False) -> dict[str, Any]:
    """The given fields of an event, checked; absent keys are absent from the result.

    On update, `null` removes `value`, `comment` and `clientId`, and `clientData` is a patch.
    Problems are collected in `body` (the caller calls `body.done()`).
    """
    allowed = set(allowed)
    fields: dict[str, Any] = {}

    def put(key: str, value: Any) -> None:
        if value is not MISSING and (body.has(key) and key in allowed):
            fields[key] = value

    put("time", body.time("time"))
    if "duration" in allowed and body.has("duration"):
        duration = body.number("duration", nullable=True, minimum=0, maximum=MAX_TIME)
        if isinstance(duration, float) and duration <= 0:
            duration = body.fail("duration", "'duration' must be greater than 0 (or null)")
        put("duration", duration)
    put("folderId", body.identity("folderId", nullable=True))
    if body.has("value"):
        put("value", _value(body, nullable=update))
    put("comment", body.text("comment", nullable=update, max_len=MAX_COMMENT_LENGTH))
    if body.has("tags"):
        put("tags", _tags(body))
    put("clientId", body.text("clientId", nullable=update, min_len=1,
                              max_len=MAX_CLIENT_ID_LENGTH))
    data = body.obj("clientData")
    if isinstance(data, dict):
        problem = client_data.check(data)
        data = body.fail("clientData", problem) if problem else data
    put("clientData", data)
    if "trashed" in allowed:
        put("trashed", body.boolean("trashed"))
    if isinstance(fields.get("time"), float) and isinstance(fields.get("duration"), float) and (
        fields["time"] + fields["duration"] > MAX_TIME
    ):
        body.fail("duration", "'time' + 'duration' is out of range")
    return fields


def _value(body: Body, *, nullable: bool) -> Any:
    raw = body.obj("value", nullable=nullable)
    if not isinstance(raw, dict):
        return raw
    if set(raw) != {"type", "value"}:
        return body.fail("value", "'value' must be {type, value} and nothing else")
    kind, content = raw["type"], raw["value"]
    if not isinstance(kind, str) or not VALUE_TYPE.fullmatch(kind):
        return body.fail("value", "'value.type' must be '{type}:{unit}', like 'mass:kg'")
    if isinstance(content, float) and not math.isfinite(content):
        return body.fail("value", "'value.value' must be a finite number")
    if isinstance(content, str) and len(content) > MAX_VALUE_TEXT:
        return body.fail("value", f"'value.value' may hold at most {MAX_VALUE_TEXT} characters")
    if content is not None and not isinstance(content, bool | int | float | str):
        return body.fail("value", "'value.value' must be a boolean, number, string or null")
    return {"type": kind, "value": content}


def _tags(body: Body) -> Any:
    raw = body.array("tags")
    if not isinstance(raw, list):
        return raw
    tags: list[str] = []
    for tag in raw:
        if not isinstance(tag, str) or not tag.strip() or len(tag) > MAX_TAG_LENGTH:
            return body.fail("tags", f"each tag must be a non-blank string of at most "
                                     f"{MAX_TAG_LENGTH} characters")
        tag = tag.strip()
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        return body.fail("tags", f"an event has at most {MAX_TAGS} tags")
    return tags


def new_event(
    event_id: str, channel_id: str, fields: Mapping[str, Any], now: float, *, kind: str
) -> dict[str, Any]:
    """A new event's state. `kind` is `mark`, `period` (finished) or `running`."""
    event: dict[str, Any] = {
        "id": event_id,
        "channelId": channel_id,
        "time": fields.get("time", now),
        "folderId": fields.get("folderId"),
        "tags": fields.get("tags", []),
        "clientData": fields.get("clientData", {}),
        "attachments": {},
        "trashed": False,
        "created": now,
        "modified": now,
    }
    if kind == "period":
        event["duration"] = fields["duration"]
    elif kind == "running":
        event["duration"] = None
    for key in ("value", "comment", "clientId"):
        if fields.get(key) is not None:
            event[key] = fields[key]
    check_period_folder(event)
    return event


def updated_event(event: Mapping[str, Any], fields: Mapping[str, Any], now: float) -> dict:
    """The event once `fields` (from `read_fields(update=True)`) are applied."""
    changed = dict(event)
    for key, value in fields.items():
        if key == "clientData":
            changed["clientData"] = client_data.merge(event["clientData"], value)
        elif key in ("value", "comment", "clientId") and value is None:
            changed.pop(key, None)
        elif key == "duration" and not is_period(event):
            raise invalid_operation("A mark event has no duration; record a period instead")
        else:
            changed[key] = value
    changed["modified"] = now
    check_period_folder(changed)
    return changed


def check_period_folder(event: Mapping[str, Any]) -> None:
    if is_period(event) and event.get("folderId") is None:
        raise ApiError(400, "MISSING_FOLDER", "A period event needs a folder ('folderId')")


def stopped(event: Mapping[str, Any], at: float, now: float) -> dict[str, Any]:
    """The running period `event` stopped at `at`."""
    if at <= event["time"]:
        raise invalid_operation(
            "A period cannot stop at or before its start",
            data={"conflictingEventId": event["id"]},
        )
    return {**event, "duration": at - event["time"], "modified": now}


# --- the period rules ---------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A period as the rules see it: where it starts, and where it ends (None: running)."""

    id: str
    time: float
    end: float | None

    def meets(self, start: float, end: float | None) -> bool:
        """Whether the period overlaps `[start, end)` (end None: from start on, forever)."""
        ends_after_start = self.end is None or self.end > start
        starts_before_end = end is None or self.time < end
        return ends_after_start and starts_before_end


@dataclass
class Neighbours:
    """The periods of the channel that can clash with a span (see the module's doc): `inside`,
    those beginning within it (oldest first); `before`, the latest beginning before it; and
    `running`, the running period wherever it is."""

    inside: list[Period] = field(default_factory=list)
    before: Period | None = None
    running: Period | None = None


@dataclass(frozen=True)
class Placement:
    """What placing a period needs besides appending it: the running period to stop, and at
    which time."""

    stop: Period | None = None
    at: float | None = None


def place(start: float, end: float | None, near: Neighbours) -> Placement:
    """Where a period `[start, end)` (end None: it starts running) may go, under the rules.

    Refuses with INVALID_OPERATION a running period that would not be the latest, and with
    PERIODS_OVERLAP one that overlaps others (data: their ids, oldest first).
    """
    running = near.running
    stop: Period | None = None
    if running is not None and running.time < start:
        stop = running  # it stops where this one begins
    candidates = [p for p in (near.before, *near.inside) if p is not None and p != stop]
    if end is None:
        later = [p for p in candidates if p.time >= start]
        if later:
            raise invalid_operation(
                "A period exists at a later time: a running period must be the latest",
                data={"conflictingEventId": later[0].id},
            )
    clashes = sorted({p for p in candidates if p.meets(start, end)}, key=lambda p: p.time)
    if clashes:
        raise periods_overlap([p.id for p in clashes])
    return Placement(stop, start if stop is not None else None)


def periods_overlap(ids: list[str]) -> ApiError:
    data: Any = ids if len(ids) <= OVERLAP_REPORT_LIMIT else "too many"
    return ApiError(400, "PERIODS_OVERLAP", "The period overlaps other periods", data=data)
