"""Attachments in the events read model (`events.attachments`, owned by projections/events.py).

`attachment.added` and `attachment.removed` carry the event's full new state; adding or removing
a file changes only its `attachments` and `modified`, so that is all these handlers write. The
blobs themselves are not a read model: the file store keeps them, and the trigger of migration
0005 queues the ones an update lets go of for the collector (app/store/file_gc.py).
"""

from __future__ import annotations

import asyncpg

from app.domain.attachments import ATTACHMENT_ADDED, ATTACHMENT_REMOVED
from app.store.log import LogRecord
from projections.registry import handles


@handles(ATTACHMENT_ADDED, ATTACHMENT_REMOVED)
async def attachments_changed(conn: asyncpg.Connection, record: LogRecord) -> None:
    event = record.data["event"]
    await conn.execute(
        """UPDATE events SET attachments = $4, modified = $5
           WHERE user_id = $1 AND channel_id = $2 AND event_id = $3""",
        record.user_id,
        record.data["channelId"],
        event["id"],
        event["attachments"],
        event["modified"],
    )
