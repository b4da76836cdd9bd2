"""Turning log records into the change messages of docs/api.md §7: `{id, type, channelId, data}`.

Only record types on an explicit list become messages. Account, session and token records
(which hold password hashes and token secrets) never do, and neither does a type this module
does not know: a new record type stays private until someone decides what it may show.

A `Change` is one record prepared once for every subscriber of the process: its message
serialised a single time, and what the filters need to decide who gets it (the channel, the
folder path that permissions are checked against, the activity it belongs to).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson

from app.domain import activities as activity_records
from app.domain import channels as channel_records
from app.identity.activity_visibility import starter_of
from app.store.log import Cursor, LogRecord

logger = logging.getLogger(__name__)

CHANNEL, FOLDER, EVENT, ACTIVITY = "channel", "folder", "event", "activity"

# Record type -> the kind of item it changes. Anything absent is never sent.
_KINDS: dict[str, str] = {
    channel_records.CREATED: CHANNEL,
    channel_records.UPDATED: CHANNEL,
    channel_records.TRASHED: CHANNEL,
    channel_records.DELETED: CHANNEL,
    "folder.created": FOLDER,
    "folder.updated": FOLDER,
    "folder.moved": FOLDER,
    "folder.trashed": FOLDER,
    "folder.deleted": FOLDER,
    "event.created": EVENT,
    "event.updated": EVENT,
    "event.trashed": EVENT,
    "event.deleted": EVENT,
    "attachment.added": EVENT,
    "attachment.removed": EVENT,
}

# Records that change what a credential may receive; the fan-out acts on them, never sends them.
CONTROL_TYPES = frozenset(
    {"token.revoked", "token.updated", "session.ended", "user.password_changed"}
)


def kind_of(record_type: str) -> str | None:
    """The kind of item a record type changes, or None for a record never sent."""
    if record_type.startswith(activity_records.RECORD_PREFIX):
        return ACTIVITY
    return _KINDS.get(record_type)


@dataclass(frozen=True)
class FolderRef:
    """Where a record sits in its channel's folder tree, before the ancestors are looked up.

    `head` are the ids known from the record itself (the folder, for folder records);
    `lookup` is the folder whose ancestors the read model gives (None: the channel's root).
    """

    head: tuple[str, ...]
    lookup: str | None


def folder_ref(record: LogRecord) -> FolderRef | None:
    """The folder position a folder or event record needs resolved; None when it needs none.

    An `event.deleted` record that does not name the event's folder has an unknown position:
    only a credential with the whole channel may see it.
    """
    kind = kind_of(record.type)
    d = record.data
    if kind == FOLDER:
        if record.type == "folder.deleted":
            ids = d.get("folderIds") or []
            return FolderRef(tuple(ids[:1]), d.get("parentId"))
        folder = d.get("folder") or {}
        return FolderRef((folder["id"],), folder.get("parentId"))
    if kind == EVENT:
        if record.type == "event.deleted":
            if "folderId" not in d:
                return None
            return FolderRef((), d["folderId"])
        return FolderRef((), (d.get("event") or {}).get("folderId"))
    return None


@dataclass(eq=False)
class Change:
    """One log record as every subscriber of the process sees it."""

    record: LogRecord
    cursor: Cursor
    kind: str | None  # None: not sent (control records and everything private)
    channel_id: str | None = None
    # The folder position: [the folder (for folder records), its parent, ..., up to the root].
    # `[]` is the channel's root (an event without folder); None: unknown or not resolved.
    path: tuple[str, ...] | None = None
    # Every folder a subscription to a folder should see this under (for a tree deletion, all
    # of the deleted folders as well as the path).
    folders: frozenset[str] = frozenset()
    activity_id: str | None = None
    activity_token: str | None = None  # the token that started the activity (visibility)
    json: bytes = b""
    _sse: bytes | None = field(default=None, repr=False)

    @property
    def user_id(self) -> UUID | None:
        return self.record.user_id

    @property
    def type(self) -> str:
        return self.record.type

    def sse_frame(self) -> bytes:
        """`id:`, `event:` and `data:` lines, built once and shared by every SSE subscriber."""
        if self._sse is None:
            self._sse = b"id: %s\nevent: %s\ndata: %s\n\n" % (
                str(self.cursor).encode(),
                self.record.type.encode(),
                self.json,
            )
        return self._sse

    def ws_frame(self, subscription: str) -> str:
        """The message with the WebSocket subscription it answers to."""
        tail = orjson.dumps({"subscription": subscription})
        return (self.json[:-1] + b"," + tail[1:]).decode()


def _channel_state(record: LogRecord, row: Mapping[str, Any] | None) -> dict[str, Any]:
    """The channel's state after the record. Records carry what changed; `row` (the read
    model's current row, when the channel still exists) fills in what they do not."""
    d = record.data
    state: dict[str, Any] = {"id": d["channelId"]}
    if row is not None:
        state.update(row)
    if record.type == channel_records.CREATED:
        state.update(
            name=d["name"],
            enforceNoEventsOverlap=d["enforceNoEventsOverlap"],
            clientData=d.get("clientData") or {},
            trashed=False,
            created=d["time"],
            modified=d["time"],
        )
    elif record.type == channel_records.UPDATED:
        state.update(
            name=d["name"],
            enforceNoEventsOverlap=d["enforceNoEventsOverlap"],
            clientData=d["clientData"],
            trashed=d["trashed"],
            modified=d["time"],
        )
    elif record.type == channel_records.TRASHED:
        state.update(trashed=True, modified=d["time"])
    return state


def _activity_state(record: LogRecord) -> dict[str, Any]:
    d = record.data
    state = d.get("activity")
    return state if isinstance(state, dict) else d


def message_data(record: LogRecord, channel_row: Mapping[str, Any] | None) -> dict[str, Any]:
    """The `data` of the message: the new state of the item (what a deletion record says, for
    a deletion)."""
    kind = kind_of(record.type)
    d = record.data
    if kind == CHANNEL:
        if record.type == channel_records.DELETED:
            return dict(d)
        return _channel_state(record, channel_row)
    if kind == FOLDER:
        return dict(d) if record.type == "folder.deleted" else d["folder"]
    if kind == EVENT:
        return dict(d) if record.type == "event.deleted" else d["event"]
    if kind == ACTIVITY:
        return _activity_state(record)
    raise ValueError(f"{record.type} is not sent")


def activity_id_of(record: LogRecord) -> str | None:
    """The activity a record belongs to: its stream is `activity-<uuid>`."""
    if (activity_id := activity_records.activity_id_of(record.stream_id)) is not None:
        return activity_id
    state = _activity_state(record)
    value = state.get("id")
    return str(value) if value is not None else None


def channel_of(record: LogRecord) -> str | None:
    kind = kind_of(record.type)
    if kind == ACTIVITY:
        context = _activity_state(record).get("context")
        value = context.get("channelId") if isinstance(context, dict) else None
        return value if isinstance(value, str) else None
    value = record.data.get("channelId")
    return value if isinstance(value, str) else None


def prepare(
    record: LogRecord,
    *,
    path: tuple[str, ...] | None = None,
    channel_row: Mapping[str, Any] | None = None,
) -> Change:
    """The record as a Change. A record whose shape this module cannot read is not sent (and
    logged): a malformed record must neither stop the fan-out nor leak anything."""
    kind = kind_of(record.type)
    change = Change(record=record, cursor=record.cursor, kind=None)
    if kind is None:
        return change
    try:
        channel_id = channel_of(record)
        data = message_data(record, channel_row)
        change.json = orjson.dumps(
            {"id": str(record.cursor), "type": record.type, "channelId": channel_id,
             "data": data}
        )
    except (KeyError, TypeError, ValueError, AttributeError, orjson.JSONEncodeError):
        logger.warning("record %s (%s) has an unexpected shape: not sent", record.position,
                    record.type)
        return change
    change.kind = kind
    change.channel_id = channel_id
    change.path = path
    folders = set(path or ())
    if record.type == "folder.deleted":
        folders.update(f for f in record.data.get("folderIds") or [] if isinstance(f, str))
    change.folders = frozenset(folders)
    if kind == ACTIVITY:
        change.activity_id = activity_id_of(record)
        change.activity_token = starter_of(_activity_state(record).get("startedBy"))
    return change
