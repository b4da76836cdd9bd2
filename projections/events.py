"""Read model of the events users record (`events`).

Event records carry the event's whole new state, so creating, changing and trashing are one
upsert. Deleting a folder for good takes its events with it or moves them to its parent, as its
record says; deleting a channel takes all of them. Attachments are projected by
projections/attachments.py; the blobs an event lets go of are queued by migration 0005's trigger.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from app.log import LogRecord
from projections.registry import handles, handles_many, read_models

read_models("events")

_COLUMNS = (
    "user_id, channel_id, event_id, folder_id, kind, time, duration, end_time, value, "
    "value_type, comment, tags, client_id, client_data, attachments, trashed, created, modified"
)
_TAGS = 11  # the position of `tags` in both
_TYPES = (
    "uuid, text, text, text, text, float8, float8, float8, jsonb, text, text, text[], text, "
    "jsonb, jsonb, bool, float8, float8"
)


def _row(record: LogRecord) -> tuple[Any, ...]:
    event: dict[str, Any] = record.data["event"]
    period = "duration" in event
    duration = event.get("duration")
    if not period:
        end_time = event["time"]
    else:
        end_time = None if duration is None else event["time"] + duration
    value = event.get("value")
    return (
        record.user_id,
        record.data["channelId"],
        event["id"],
        event["folderId"],
        "period" if period else "mark",
        event["time"],
        duration,
        end_time,
        value,
        value["type"] if value else None,
        event.get("comment"),
        event["tags"],
        event.get("clientId"),
        event["clientData"],
        event["attachments"],
        event["trashed"],
        event["created"],
        event["modified"],
    )


_UPSERT = f"""INSERT INTO events ({_COLUMNS})
    VALUES ({", ".join(f"${n}" for n in range(1, 19))})
    ON CONFLICT (user_id, channel_id, event_id) DO UPDATE SET
        folder_id = EXCLUDED.folder_id, kind = EXCLUDED.kind, time = EXCLUDED.time,
        duration = EXCLUDED.duration, end_time = EXCLUDED.end_time, value = EXCLUDED.value,
        value_type = EXCLUDED.value_type, comment = EXCLUDED.comment, tags = EXCLUDED.tags,
        client_id = EXCLUDED.client_id, client_data = EXCLUDED.client_data,
        attachments = EXCLUDED.attachments, trashed = EXCLUDED.trashed,
        created = EXCLUDED.created, modified = EXCLUDED.modified"""


@handles("event.created", "event.updated", "event.trashed")
async def event_state(conn: asyncpg.Connection, record: LogRecord) -> None:
    await conn.execute(_UPSERT, *_row(record))


@handles_many(event_state)
async def event_states(conn: asyncpg.Connection, records: Sequence[LogRecord]) -> None:
    """A batch's events in one statement: the rows as columns of arrays, unnested."""
    if len({r.data["event"]["id"] for r in records}) < len(records):
        for record in records:  # one statement cannot change a row twice
            await event_state(conn, record)
        return
    columns = list(zip(*(_row(r) for r in records), strict=True))
    # A list of lists would be taken for a 2-D array: each event's tags go as a JSON text.
    columns[_TAGS] = [orjson.dumps(tags).decode() for tags in columns[_TAGS]]
    types = _TYPES.split(", ")
    types[_TAGS] = "text"
    params = ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(types, 1))
    select = ", ".join(
        "ARRAY(SELECT jsonb_array_elements_text(u.tags::jsonb))" if name == "tags" else f"u.{name}"
        for name in _COLUMNS.split(", ")
    )
    await conn.execute(
        f"""INSERT INTO events ({_COLUMNS})
            SELECT {select} FROM unnest({params}) AS u({_COLUMNS})
            ON CONFLICT (user_id, channel_id, event_id) DO UPDATE SET
                folder_id = EXCLUDED.folder_id, kind = EXCLUDED.kind, time = EXCLUDED.time,
                duration = EXCLUDED.duration, end_time = EXCLUDED.end_time,
                value = EXCLUDED.value, value_type = EXCLUDED.value_type,
                comment = EXCLUDED.comment, tags = EXCLUDED.tags,
                client_id = EXCLUDED.client_id, client_data = EXCLUDED.client_data,
                attachments = EXCLUDED.attachments, trashed = EXCLUDED.trashed,
                created = EXCLUDED.created, modified = EXCLUDED.modified""",
        *columns,
    )


@handles("event.deleted")
async def event_deleted(conn: asyncpg.Connection, record: LogRecord) -> None:
    await conn.execute(
        "DELETE FROM events WHERE user_id = $1 AND channel_id = $2 AND event_id = $3",
        record.user_id,
        record.data["channelId"],
        record.data["eventId"],
    )


@handles("folder.deleted")
async def folder_deleted(conn: asyncpg.Connection, record: LogRecord) -> None:
    d = record.data
    if d.get("mergeEventsWithParent") and d.get("parentId") is not None:
        await conn.execute(
            """UPDATE events SET folder_id = $4, modified = $5
               WHERE user_id = $1 AND channel_id = $2 AND folder_id = ANY($3)""",
            record.user_id,
            d["channelId"],
            d["folderIds"],
            d["parentId"],
            d["time"],
        )
    else:
        await conn.execute(
            "DELETE FROM events WHERE user_id = $1 AND channel_id = $2 AND folder_id = ANY($3)",
            record.user_id,
            d["channelId"],
            d["folderIds"],
        )


@handles("channel.deleted")
async def channel_deleted(conn: asyncpg.Connection, record: LogRecord) -> None:
    await conn.execute(
        "DELETE FROM events WHERE user_id = $1 AND channel_id = $2",
        record.user_id,
        record.data["channelId"],
    )
