"""Read model of the user activity feed (`user_feed`, docs/api.md §6): one entry per action of a
user.

An entry is derived from one log record and its meta only (never from the clock or the request):
its id is the record's position, its time the record's `recorded_at`, its author the record's
`meta.actor`. Replaying the log therefore gives back the same entries. The text's names come
from the record, or, for a record that carries none (a deletion, a revocation), from the newest
earlier entry about the same resource (this table's own rows, in the stream's order).

Records written by an activity's work (`meta.activityId`, outside the activity's own stream)
make no entry of their own: the activity's entries (started, cancelled, completed, failed)
stand for them, so a batch of 10,000 events is one action in the feed, not 10,000.

Feed types and their codes (stable; also in docs/api.md §6):

| code | type | from the record |
| ---: | --- | --- |
| 1 | `user.login` | `session.started` |
| 2 | `user.logout` | `session.ended` |
| 3 | `user.password_changed` | `user.password_changed` |
| 4 | `user.updated` | `user.updated` (profile) |
| 5 | `user.created` | `user.created` (by the operator) |
| 10 | `channel.created` | `channel.created` |
| 11 | `channel.updated` | `channel.updated` |
| 12 | `channel.trashed` | `channel.trashed` |
| 13 | `channel.deleted` | `channel.deleted` |
| 20 | `folder.created` | `folder.created` |
| 21 | `folder.updated` | `folder.updated` |
| 22 | `folder.moved` | `folder.moved` |
| 23 | `folder.trashed` | `folder.trashed` |
| 24 | `folder.deleted` | `folder.deleted` |
| 30 | `event.created` | `event.created` |
| 31 | `event.updated` | `event.updated` |
| 32 | `event.trashed` | `event.trashed` |
| 33 | `event.deleted` | `event.deleted` |
| 40 | `attachment.added` | `attachment.added` |
| 41 | `attachment.removed` | `attachment.removed` |
| 50 | `token.created` | `token.created` |
| 51 | `token.updated` | `token.updated` |
| 52 | `token.deleted` | `token.revoked` |
| 60 | `activity.started` | `activity.created` |
| 61 | `activity.cancel_requested` | `activity.cancel_requested` |
| 62 | `activity.cancelled` | `activity.cancelled` |
| 63 | `activity.completed` | `activity.completed` |
| 64 | `activity.failed` | `activity.failed` |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from app.domain.feed import ENTRY_DELETED, ENTRY_UPDATED
from app.store.log import LogRecord
from projections.registry import handles, handles_many, read_models, rebuild_defers

read_models("user_feed")
# user_feed_resource is kept while replaying: `entry` looks names up through it.
rebuild_defers("user_feed_type")

# Feed type -> code (the table above).
CODES: dict[str, int] = {
    "user.login": 1,
    "user.logout": 2,
    "user.password_changed": 3,
    "user.updated": 4,
    "user.created": 5,
    "channel.created": 10,
    "channel.updated": 11,
    "channel.trashed": 12,
    "channel.deleted": 13,
    "folder.created": 20,
    "folder.updated": 21,
    "folder.moved": 22,
    "folder.trashed": 23,
    "folder.deleted": 24,
    "event.created": 30,
    "event.updated": 31,
    "event.trashed": 32,
    "event.deleted": 33,
    "attachment.added": 40,
    "attachment.removed": 41,
    "token.created": 50,
    "token.updated": 51,
    "token.deleted": 52,
    "activity.started": 60,
    "activity.cancel_requested": 61,
    "activity.cancelled": 62,
    "activity.completed": 63,
    "activity.failed": 64,
}

# Record type -> feed type, where they differ.
_RENAMED = {
    "session.started": "user.login",
    "session.ended": "user.logout",
    "token.revoked": "token.deleted",
    "activity.created": "activity.started",
}


def feed_type(record_type: str) -> str | None:
    name = _RENAMED.get(record_type, record_type)
    return name if name in CODES else None


@dataclass
class Entry:
    text: str
    kind: str | None = None
    resource_id: str | None = None
    channel_id: str | None = None
    name: str | None = None  # the resource's name as of this record (for later texts)


def actor_name(meta: dict[str, Any]) -> str:
    actor = meta.get("actor") or {}
    if actor.get("kind") == "operator":
        return "The operator"
    if actor.get("kind") == "server":
        return "The server"
    return actor.get("userName") or "Someone"


def _who(meta: dict[str, Any]) -> dict[str, Any] | None:
    """`createdBy` and the like: who acted, without any secret (a token's id, not the token)."""
    actor = meta.get("actor")
    if not isinstance(actor, dict):
        return None
    who: dict[str, Any] = {"kind": actor.get("kind"), "userName": actor.get("userName")}
    if actor.get("tokenId"):
        who["tokenId"] = actor["tokenId"]
    return who


def _event_words(event: dict[str, Any]) -> str:
    """A short description of an event: its comment, else its value, else its kind."""
    comment = event.get("comment")
    if isinstance(comment, str) and comment.strip():
        text = comment.strip()
        return f"“{text[:60]}…”" if len(text) > 60 else f"“{text}”"
    value = event.get("value")
    if isinstance(value, dict) and value.get("type"):
        return f"{value.get('value')} {value['type']}"
    if "duration" in event:
        return "a period"
    return "a mark"


def _describe(record: LogRecord, who: str, named: Callable[[str, str | None, str], str]) -> Entry:
    """The entry's text and resource. `named(kind, channel, id)` gives the last known name."""
    t, d = record.type, record.data
    if t == "session.started":
        return Entry(f"{who} logged in", "user", None)
    if t == "session.ended":
        return Entry(f"{who} logged out", "user", None)
    if t == "user.password_changed":
        return Entry(f"{who} changed the password", "user", None)
    if t == "user.updated":
        fields = ", ".join(k for k in sorted(d) if k != "time") or "nothing"
        return Entry(f"{who} changed the profile ({fields})", "user", None)
    if t == "user.created":
        return Entry(f"{who} created the account {d.get('userName')}", "user", None)
    if t.startswith("channel."):
        channel = d["channelId"]
        name = d.get("name") or named("channel", None, channel)
        verb = {"channel.created": "created", "channel.updated": "changed",
                "channel.trashed": "trashed", "channel.deleted": "deleted for good"}[t]
        if t == "channel.updated" and d.get("trashed") is False:
            verb = "changed"
        return Entry(f"{who} {verb} channel {name}", "channel", channel, None, name)
    if t.startswith("folder."):
        channel = d["channelId"]
        if t == "folder.deleted":
            ids = d.get("folderIds") or []
            first = ids[0] if ids else ""
            name = named("folder", channel, first)
            more = f" and {len(ids) - 1} folder(s) below it" if len(ids) > 1 else ""
            return Entry(f"{who} deleted folder {name}{more} for good", "folder", first, channel)
        folder = d["folder"]
        verb = {"folder.created": "created", "folder.updated": "changed",
                "folder.moved": "moved", "folder.trashed": "trashed"}[t]
        return Entry(f"{who} {verb} folder {folder['name']}", "folder", folder["id"], channel,
                     folder["name"])
    if t.startswith("event."):
        channel = d["channelId"]
        if t == "event.deleted":
            event_id = d.get("eventId", "")
            words = named("event", channel, event_id)
            return Entry(f"{who} deleted event {words} for good", "event", event_id, channel)
        event = d["event"]
        words = _event_words(event)
        verb = {"event.created": "recorded", "event.updated": "changed",
                "event.trashed": "trashed"}[t]
        return Entry(f"{who} {verb} event {words}", "event", event["id"], channel, words)
    if t.startswith("attachment."):
        event = d["event"]
        verb = "attached" if t == "attachment.added" else "removed"
        where = "to" if t == "attachment.added" else "from"
        return Entry(f"{who} {verb} file {d.get('fileName')} {where} event "
                     f"{_event_words(event)}", "event", event["id"], d["channelId"])
    if t.startswith("token."):
        token_id = d["tokenId"]
        if t == "token.created":
            return Entry(f"{who} created token {d['name']}", "token", token_id, None, d["name"])
        name = d.get("name") or named("token", None, token_id)
        if t == "token.updated":
            return Entry(f"{who} changed token {name}", "token", token_id, None, name)
        return Entry(f"{who} deleted token {name}", "token", token_id)
    if t.startswith("activity."):
        a = d["activity"]
        context = a.get("context") or {}
        title = a.get("title") or a.get("type")
        text = {
            "activity.created": f"{who} started: {title}",
            "activity.cancel_requested": f"{who} asked to cancel: {title}",
            "activity.cancelled": f"Cancelled: {title}",
            "activity.completed": f"Completed: {title}",
            "activity.failed": f"Failed: {title} ({(a.get('error') or {}).get('id')})",
        }[t]
        return Entry(text, "activity", a["id"], context.get("channelId"))
    raise KeyError(t)


_RECORD_TYPES = (
    "session.started", "session.ended", "user.password_changed", "user.updated",
    "user.created", "channel.created", "channel.updated", "channel.trashed", "channel.deleted",
    "folder.created", "folder.updated", "folder.moved", "folder.trashed", "folder.deleted",
    "event.created", "event.updated", "event.trashed", "event.deleted", "attachment.added",
    "attachment.removed", "token.created", "token.updated", "token.revoked",
    "activity.created", "activity.cancel_requested", "activity.cancelled",
    "activity.completed", "activity.failed",
)


_INSERT_COLUMNS = (
    "user_id, entry_id, type, code, text, resource_kind, resource_id, channel_id, "
    "resource_name, activity_id, created_at, created_by"
)

_INSERT = f"""INSERT INTO user_feed ({_INSERT_COLUMNS})
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::uuid, $11, $12)"""


_INSERT_MANY = f"""INSERT INTO user_feed ({_INSERT_COLUMNS})
    SELECT {_INSERT_COLUMNS} FROM json_populate_recordset(NULL::user_feed, $1::text::json)"""
_INSERT_NAMES = _INSERT_COLUMNS.split(", ")


def _wanted(record: LogRecord) -> str | None:
    """The feed type of the entry the record makes, or None when it makes none."""
    if record.user_id is None:
        return None  # the operator's own activities (a rebuild): nobody's feed
    if record.meta.get("activityId") and not record.stream_id.startswith("activity-"):
        return None  # part of an activity's work: the activity's entries stand for it
    return feed_type(record.type)


def _entry_row(
    record: LogRecord, kind: str, names: dict[tuple[str, str | None, str], str | None]
) -> tuple[Any, ...]:
    def named(kind_: str, channel: str | None, ident: str) -> str:
        return names.get((kind_, channel, ident)) or ident

    described = _describe(record, actor_name(record.meta), named)
    is_activity = record.stream_id.startswith("activity-")
    return (
        record.user_id,
        record.position,
        kind,
        CODES[kind],
        described.text,
        described.kind,
        described.resource_id,
        described.channel_id,
        described.name,
        record.stream_id[len("activity-"):] if is_activity else None,
        record.recorded_at.timestamp(),
        _who(record.meta),
    )


@handles(*_RECORD_TYPES)
async def entry(conn: asyncpg.Connection, record: LogRecord) -> None:
    kind = _wanted(record)
    if kind is None:
        return
    # The lookups a text may need, done first (the describer itself is pure).
    names: dict[tuple[str, str | None, str], str | None] = {}
    for key in _lookups(record):
        names[key] = await conn.fetchval(
            """SELECT resource_name FROM user_feed
               WHERE user_id = $1 AND resource_kind = $2
                 AND channel_id IS NOT DISTINCT FROM $3 AND resource_id = $4
                 AND resource_name IS NOT NULL
               ORDER BY entry_id DESC LIMIT 1""",
            record.user_id, *key,
        )
    await conn.execute(_INSERT, *_entry_row(record, kind, names))


@handles_many(entry)
async def entries(conn: asyncpg.Connection, records: Sequence[LogRecord]) -> None:
    """A run of records in one INSERT (a rebuild replays a million records; a batch writes
    thousands at once). Records whose text needs a name from earlier entries go one by one."""
    if any(_lookups(r) for r in records if _wanted(r) is not None):
        for record in records:
            await entry(conn, record)
        return
    rows = [_entry_row(r, kind, {}) for r in records if (kind := _wanted(r)) is not None]
    if rows:
        # One JSON array that PostgreSQL unpacks into rows: one statement, and one orjson
        # call here rather than asyncpg encoding each value (default=str: the user ids).
        rows_json = orjson.dumps([dict(zip(_INSERT_NAMES, row, strict=True)) for row in rows],
                                 default=str)
        await conn.execute(_INSERT_MANY, rows_json.decode())


def _lookups(record: LogRecord) -> list[tuple[str, str | None, str]]:
    t, d = record.type, record.data
    if t in ("channel.trashed", "channel.deleted"):
        return [("channel", None, d["channelId"])]
    if t == "folder.deleted" and d.get("folderIds"):
        return [("folder", d["channelId"], d["folderIds"][0])]
    if t == "event.deleted":
        return [("event", d["channelId"], d.get("eventId", ""))]
    if t in ("token.updated", "token.revoked") and not d.get("name"):
        return [("token", None, d["tokenId"])]
    return []


@handles(ENTRY_UPDATED)
async def entry_updated(conn: asyncpg.Connection, record: LogRecord) -> None:
    await conn.execute(
        """UPDATE user_feed SET text = $3, updated_at = $4, updated_by = $5
           WHERE user_id = $1 AND entry_id = $2""",
        record.user_id,
        int(record.data["entryId"]),
        record.data["text"],
        record.data["time"],
        _who(record.meta),
    )


@handles(ENTRY_DELETED)
async def entry_deleted(conn: asyncpg.Connection, record: LogRecord) -> None:
    await conn.execute(
        """UPDATE user_feed SET deleted_at = $3, deleted_by = $4
           WHERE user_id = $1 AND entry_id = $2""",
        record.user_id,
        int(record.data["entryId"]),
        record.data["time"],
        _who(record.meta),
    )
