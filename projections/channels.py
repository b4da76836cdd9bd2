"""Read model of channels (`channels`). Records live in the owner's user stream.

Deleting a channel for good removes only its row here; the folder and event projections
register their own handlers for `channel.deleted` to drop the channel's content.
"""

from __future__ import annotations

import asyncpg

from app.domain import channels as channel_records
from app.store.log import LogRecord
from projections.registry import handles, read_models

read_models("channels")


@handles(channel_records.CREATED)
async def channel_created(conn: asyncpg.Connection, record: LogRecord) -> None:
    d = record.data
    await conn.execute(
        """INSERT INTO channels (user_id, channel_id, name, enforce_no_events_overlap,
                                 client_data, trashed, created, modified)
           VALUES ($1, $2, $3, $4, $5, false, $6, $6)""",
        record.user_id,
        d["channelId"],
        d["name"],
        d["enforceNoEventsOverlap"],
        d.get("clientData") or {},
        d["time"],
    )


@handles(channel_records.UPDATED)
async def channel_updated(conn: asyncpg.Connection, record: LogRecord) -> None:
    # The record carries the whole new state of the mutable fields: no merge logic to replay.
    d = record.data
    await conn.execute(
        """UPDATE channels SET name = $3, enforce_no_events_overlap = $4, client_data = $5,
                               trashed = $6, modified = $7
           WHERE user_id = $1 AND channel_id = $2""",
        record.user_id,
        d["channelId"],
        d["name"],
        d["enforceNoEventsOverlap"],
        d["clientData"],
        d["trashed"],
        d["time"],
    )


@handles(channel_records.TRASHED)
async def channel_trashed(conn: asyncpg.Connection, record: LogRecord) -> None:
    await conn.execute(
        "UPDATE channels SET trashed = true, modified = $3 WHERE user_id = $1 AND channel_id = $2",
        record.user_id,
        record.data["channelId"],
        record.data["time"],
    )


@handles(channel_records.DELETED)
async def channel_deleted(conn: asyncpg.Connection, record: LogRecord) -> None:
    await conn.execute(
        "DELETE FROM channels WHERE user_id = $1 AND channel_id = $2",
        record.user_id,
        record.data["channelId"],
    )
