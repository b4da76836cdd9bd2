"""Attachment commands (docs/api.md §3): add files to an event, delete one.

Adding or deleting needs `events-write` over the event's folder, checked against the event as
it is once the channel's stream is locked. The files themselves come from an entry point (the
multipart upload of app/http/uploads.py) already in the store's temporary folder: a command
only publishes them, in its transaction, and records them.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import asyncpg

from app.domain.attachments import (
    ATTACHMENT_ADDED,
    ATTACHMENT_REMOVED,
    with_file_removed,
    with_files_added,
)
from app.domain.ids import channel_stream
from app.identity.permissions import EVENTS_WRITE
from app.identity.principal import Principal
from app.read.channel_access import channel_for
from app.read.events import event_at
from app.store import transaction


class ReceivedFiles(Protocol):
    """Files received for an event, waiting to be placed in the file store."""

    def attachments(self) -> list[dict[str, Any]]:
        """Their entries of `event.attachments`: `{fileName, type, size, sha256}`, in order."""
        ...

    async def publish(self, conn: asyncpg.Connection) -> dict[str, dict[str, Any]]:
        """Places the blobs, held by the command's transaction until it commits (no collector
        removes them before): `{fileName: attachment}`."""
        ...


async def add_attachments(
    tx: transaction.Tx,
    principal: Principal,
    channel_id: str,
    event_id: str,
    files: ReceivedFiles,
) -> dict[str, Any]:
    """Adds `files` to the event (one `attachment.added` each); the event as it ends up."""
    stream = channel_stream(principal.user_id, channel_id)
    await tx.lock(stream)
    await channel_for(tx.conn, principal, channel_id)
    event = await event_at(tx.conn, principal, channel_id, event_id, EVENTS_WRITE)
    attachments = files.attachments()
    states = with_files_added(event, attachments, time.time())
    await files.publish(tx.conn)
    for attachment, state in zip(attachments, states, strict=True):
        await tx.append(
            stream,
            ATTACHMENT_ADDED,
            {"channelId": channel_id, "event": state, "fileName": attachment["fileName"]},
            user_id=principal.user_id,
        )
    return states[-1]


async def delete_attachment(
    tx: transaction.Tx, principal: Principal, channel_id: str, event_id: str, file_name: str
) -> dict[str, Any]:
    """Removes `file_name` from the event (404 UNKNOWN_ATTACHMENT if it has none of that name);
    the event as it ends up. The blob goes when nothing refers to it (app/store/file_gc.py)."""
    stream = channel_stream(principal.user_id, channel_id)
    await tx.lock(stream)
    await channel_for(tx.conn, principal, channel_id)
    event = await event_at(tx.conn, principal, channel_id, event_id, EVENTS_WRITE)
    removed = event["attachments"].get(file_name)
    state = with_file_removed(event, file_name, time.time())
    await tx.append(
        stream,
        ATTACHMENT_REMOVED,
        {"channelId": channel_id, "event": state, "fileName": file_name,
         "sha256": removed["sha256"]},
        user_id=principal.user_id,
    )
    return state
