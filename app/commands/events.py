"""Event commands (docs/api.md §3): record, start, stop, modify, trash and delete for good, with the
checks every change of an event makes. Batches are app/commands/event_batch.py's; attachments,
app/commands/attachments.py's.

Changing needs `events-write` over the event's folder (over the old and the new folder when an
event moves; a root grant for a mark without folder). A folder the credential cannot read
answers 400 `UNKNOWN_FOLDER` as a parameter and an event it cannot read 404 `UNKNOWN_EVENT`,
exactly like ones that do not exist.

Every change locks the channel's stream, then reads and decides (app/domain/events.py): the period
rules hold under any concurrency because two changes of one channel never decide at once.
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from app.commands.attachments import ReceivedFiles
from app.domain.errors import ApiError, client_ids_unavailable, forbidden, invalid_operation
from app.domain.events import (
    EVENT_CREATED,
    EVENT_DELETED,
    EVENT_TRASHED,
    EVENT_UPDATED,
    end_of,
    is_period,
    new_event,
    place,
    stopped,
    updated_event,
)
from app.domain.ids import channel_stream, new_id
from app.identity.folder_access import can_read, check_level
from app.identity.permissions import EVENTS_WRITE
from app.identity.principal import Principal
from app.read.channel_access import channel_for_change
from app.read.events import (
    event_at,
    neighbours,
    readable_events,
    running_periods,
    taken_client_ids,
)
from app.read.folders import folder_path
from app.store import transaction

# --- the checks ----------------------------------------------------------------------------


async def check_folder(
    conn: asyncpg.Connection,
    principal: Principal,
    channel_id: str,
    folder_id: str | None,
    level: int,
) -> list[str]:
    """The folder's path, if the credential holds `level` there (None: the channel's root).

    400 UNKNOWN_FOLDER when it does not exist or cannot be read; 403 when it can be read but
    not changed as asked."""
    path: list[str] = []
    if folder_id is not None:
        path = await folder_path(conn, principal.user_id, channel_id, folder_id) or []
    check_level(principal, channel_id, folder_id, path, level, missing_status=400)
    return path


async def check_client_ids(
    conn: asyncpg.Connection,
    principal: Principal,
    channel_id: str,
    client_ids: list[str | None],
    *,
    exclude: str | None = None,
) -> None:
    wanted = [c for c in client_ids if c is not None]
    if not wanted:
        return
    taken = await taken_client_ids(conn, principal.user_id, channel_id, wanted, exclude=exclude)
    if taken:  # perhaps by events outside the grants: not described
        raise client_ids_unavailable(taken)


# --- one command's writes ------------------------------------------------------------------


class EventWriter:
    """What a command appends to the channel's stream, in order."""

    def __init__(self, tx: transaction.Tx, principal: Principal, channel_id: str) -> None:
        self.tx = tx
        self.principal = principal
        self.channel_id = channel_id
        self.stream = channel_stream(principal.user_id, channel_id)

    async def lock(self) -> asyncpg.Record:
        """Locks the channel's stream and returns its row (held until the commit)."""
        await self.tx.lock(self.stream)
        return await channel_for_change(self.tx.conn, self.principal, self.channel_id)

    async def append(self, record_type: str, event: dict[str, Any]) -> None:
        await self.tx.append(
            self.stream,
            record_type,
            {"channelId": self.channel_id, "event": event},
            user_id=self.principal.user_id,
        )

    async def place(
        self, channel: asyncpg.Record, event: dict[str, Any], now: float
    ) -> str | None:
        """Applies the period rules to `event` (a period, about to be written): refuses it, or
        stops the running period it follows and returns that one's id."""
        if not is_period(event) or event["trashed"] or not channel["enforce_no_events_overlap"]:
            return None
        near = await neighbours(
            self.tx.conn, self.principal.user_id, self.channel_id,
            event["time"], end_of(event), exclude=event["id"],
        )
        try:
            placement = place(event["time"], end_of(event), near)
        except ApiError as exc:
            await self.hide_unreadable(exc)
            raise
        if placement.stop is None or placement.at is None:
            return None
        return await self.stop(placement.stop.id, placement.at, now)

    async def readable(self, event_ids: list[str]) -> list[str]:
        """`event_ids` (in order) without the events the credential cannot read."""
        return await readable_events(self.tx.conn, self.principal, self.channel_id, event_ids)

    async def hide_unreadable(self, error: ApiError) -> None:
        """A refusal of the period rules names only the events the credential can read: the
        overlapped ids of PERIODS_OVERLAP, the `conflictingEventId` of INVALID_OPERATION."""
        if error.error_id == "PERIODS_OVERLAP" and isinstance(error.data, list):
            error.data = await self.readable(error.data)
        elif (isinstance(error.data, dict) and "conflictingEventId" in error.data
              and not await self.readable([error.data["conflictingEventId"]])):
            error.data = None

    async def stop(self, event_id: str, at: float, now: float) -> str:
        try:
            running = await event_at(
                self.tx.conn, self.principal, self.channel_id, event_id, EVENTS_WRITE
            )
        except ApiError as exc:
            if exc.error_id != "UNKNOWN_EVENT":
                raise
            # A running period the credential cannot read: refused as one it cannot change,
            # without naming it (the message of UNKNOWN_EVENT holds the id).
            raise forbidden("A running period the credential cannot change would have to stop"
                            ) from None
        await self.append(EVENT_UPDATED, stopped(running, at, now))
        return event_id


# --- the commands --------------------------------------------------------------------------


async def record_event(
    tx: transaction.Tx,
    principal: Principal,
    channel_id: str,
    fields: dict[str, Any],
    *,
    kind: str,
    files: ReceivedFiles | None = None,
) -> dict[str, Any]:
    """Records a mark or a finished period (`kind` `mark`/`period`) or starts one (`running`),
    with `files` as its attachments. Returns `{id, stoppedId?}`."""
    writer = EventWriter(tx, principal, channel_id)
    channel = await writer.lock()
    now = time.time()
    event = new_event(new_id(), channel_id, fields, now, kind=kind)
    await check_folder(tx.conn, principal, channel_id, event["folderId"], EVENTS_WRITE)
    await check_client_ids(tx.conn, principal, channel_id, [event.get("clientId")])
    stopped_id = await writer.place(channel, event, now)
    if files is not None:
        event["attachments"] = await files.publish(tx.conn)
    await writer.append(EVENT_CREATED, event)
    answer: dict[str, Any] = {"id": event["id"]}
    if stopped_id is not None:
        answer["stoppedId"] = stopped_id
    return answer


async def stop_running(
    tx: transaction.Tx, principal: Principal, channel_id: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """Stops the running period (the one named by `id`, else the latest one the credential can
    read) at `time` (default now). `{stoppedId}`, null when none ran."""
    writer = EventWriter(tx, principal, channel_id)
    await writer.lock()
    now = time.time()
    at = fields.get("time", now)
    event_id = fields.get("id")
    if event_id is None:
        for running in await running_periods(tx.conn, principal.user_id, channel_id):
            path = await folder_path(tx.conn, principal.user_id, channel_id, running["folderId"])
            if can_read(principal, channel_id, path):
                event_id = running["id"]
                break
        if event_id is None:
            return {"stoppedId": None}
    else:
        event = await event_at(tx.conn, principal, channel_id, event_id, EVENTS_WRITE)
        if event.get("duration", 0) is not None or event["trashed"]:
            raise invalid_operation("The event is not a running period")
    return {"stoppedId": await writer.stop(event_id, at, now)}


async def update_event(
    tx: transaction.Tx,
    principal: Principal,
    channel_id: str,
    event_id: str,
    fields: dict[str, Any],
) -> dict[str, Any]:
    """Modifies the event; the answer is the event (plus `stoppedId` when it stopped another)."""
    writer = EventWriter(tx, principal, channel_id)
    channel = await writer.lock()
    event = await event_at(tx.conn, principal, channel_id, event_id, EVENTS_WRITE)
    now = time.time()
    changed = updated_event(event, fields, now)
    if changed["folderId"] != event["folderId"]:
        await check_folder(tx.conn, principal, channel_id, changed["folderId"], EVENTS_WRITE)
    if changed.get("clientId") != event.get("clientId"):
        await check_client_ids(
            tx.conn, principal, channel_id, [changed.get("clientId")], exclude=event_id
        )
    stopped_id = await writer.place(channel, changed, now)
    trashing = changed["trashed"] and not event["trashed"]
    await writer.append(EVENT_TRASHED if trashing else EVENT_UPDATED, changed)
    if stopped_id is not None:
        return {**changed, "stoppedId": stopped_id}
    return changed


async def delete_event(
    tx: transaction.Tx, principal: Principal, channel_id: str, event_id: str
) -> dict[str, Any]:
    """Trashes the event (200, the event); a trashed one is deleted for good with its files."""
    writer = EventWriter(tx, principal, channel_id)
    await writer.lock()
    event = await event_at(tx.conn, principal, channel_id, event_id, EVENTS_WRITE)
    now = time.time()
    if not event["trashed"]:
        trashed = {**event, "trashed": True, "modified": now}
        await writer.append(EVENT_TRASHED, trashed)
        return trashed
    await tx.append(
        writer.stream,
        EVENT_DELETED,
        {"channelId": channel_id, "eventId": event_id, "folderId": event["folderId"],
         "time": now},
        user_id=principal.user_id,
    )
    return {"eventDeletion": {"id": event_id}}
