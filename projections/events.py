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

from app.domain.events import EVENT_CREATED, EVENT_DELETED, EVENT_TRASHED, EVENT_UPDATED
from app.domain.folders import FOLDER_DELETED
from app.store.log import LogRecord
from projections.registry import handles, handles_many, read_models, rebuild_defers

read_models("events")
# Kept while replaying: the primary key and events_client_id (upserts and uniqueness), and
# events_folder_time (folder.deleted moves or deletes a folder's events through it).
rebuild_defers(
    "events_time", "events_running", "events_modified", "events_periods",
    "events_period_duration", "events_attachment_hashes",
)

_COLUMNS = (
    "user_id, channel_id, event_id, folder_id, kind, time, duration, end_time, value, "
    "value_type, comment, tags, client_id, client_data, attachments, trashed, created, modified"
)
_NAMES = _COLUMNS.split(", ")


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


@handles(EVENT_CREATED, EVENT_UPDATED, EVENT_TRASHED)
async def event_state(conn: asyncpg.Connection, record: LogRecord) -> None:
    await conn.execute(_UPSERT, *_row(record))


@handles_many(event_state)
async def event_states(conn: asyncpg.Connection, records: Sequence[LogRecord]) -> None:
    """A batch's events in one statement.

    The rows travel as one JSON array that PostgreSQL unpacks into `events` rows: one orjson
    call here instead of asyncpg encoding eighteen arrays element by element (measured: most
    of a rebuild's time in this process went there)."""
    if len({r.data["event"]["id"] for r in records}) < len(records):
        for record in records:  # one statement cannot change a row twice
            await event_state(conn, record)
        return
    # default=str: the user ids (asyncpg's own UUID type, which orjson does not know).
    rows = orjson.dumps([dict(zip(_NAMES, _row(r), strict=True)) for r in records],
                        default=str)
    await conn.execute(
        f"""INSERT INTO events ({_COLUMNS})
            SELECT {_COLUMNS} FROM json_populate_recordset(NULL::events, $1::text::json)
            ON CONFLICT (user_id, channel_id, event_id) DO UPDATE SET
                folder_id = EXCLUDED.folder_id, kind = EXCLUDED.kind, time = EXCLUDED.time,
                duration = EXCLUDED.duration, end_time = EXCLUDED.end_time,
                value = EXCLUDED.value, value_type = EXCLUDED.value_type,
                comment = EXCLUDED.comment, tags = EXCLUDED.tags,
                client_id = EXCLUDED.client_id, client_data = EXCLUDED.client_data,
                attachments = EXCLUDED.attachments, trashed = EXCLUDED.trashed,
                created = EXCLUDED.created, modified = EXCLUDED.modified""",
        rows.decode(),
    )


@handles(EVENT_DELETED)
async def event_deleted(conn: asyncpg.Connection, record: LogRecord) -> None:
    await conn.execute(
        "DELETE FROM events WHERE user_id = $1 AND channel_id = $2 AND event_id = $3",
        record.user_id,
        record.data["channelId"],
        record.data["eventId"],
    )


@handles(FOLDER_DELETED)
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
