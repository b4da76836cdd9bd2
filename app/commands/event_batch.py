"""`POST /{channel}/events/batch`: events recorded offline, added all or nothing.

Every event carries its `clientId` (unique in the channel, so a client can tell which of its
records landed) and its `time` (`INVALID_TIME` without one: "now" means nothing for a record
made offline). The period rules hold across the batch and what the channel already holds.

`read_batch` checks the body when the request comes; `record_batch` is the whole operation
inside one transaction: the activity that `POST /{channel}/events/batch` starts
(app/http/activities.py, app/activities/operations.py) runs it in the transaction that ends it.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from app.commands.events import EventWriter
from app.domain.errors import ApiError, client_ids_unavailable, invalid_parameters, sub_error
from app.domain.events import (
    CREATE_FIELDS,
    EVENT_CREATED,
    OVERLAP_REPORT_LIMIT,
    Period,
    is_period,
    new_event,
    periods_overlap,
    read_fields,
)
from app.domain.folders import unknown_folder
from app.domain.ids import new_id
from app.domain.validation import Body
from app.identity.permissions import EVENTS_WRITE, READ
from app.identity.principal import Principal
from app.read.events import periods_around, taken_client_ids
from app.read.folders import load_tree
from app.store import transaction
from app.store.log import NewRecord

MAX_EVENTS = 200_000


def read_batch(data: Any) -> list[dict[str, Any]]:
    """The checked fields of every event of a `{events: [...]}` body.

    Problems are reported all at once, each parameter named `events[i].field`."""
    body = Body(data, allowed=("events",))
    raw = body.array("events", required=True)
    body.done()
    if len(raw) > MAX_EVENTS:
        raise invalid_parameters([sub_error("events", f"at most {MAX_EVENTS} events a batch")])
    problems: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    no_time: list[Any] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            problems.append(sub_error(f"events[{index}]", "each event must be an object"))
            continue
        event_body = Body(item, allowed=CREATE_FIELDS)
        if not event_body.has("clientId"):  # its form is read_fields' to check (once)
            event_body.fail("clientId", "'clientId' is required")
        fields = read_fields(event_body, CREATE_FIELDS)
        if "duration" in fields and fields["duration"] is None:
            event_body.fail("duration", "a batch records finished periods: 'duration' > 0")
        for problem in event_body.errors:
            param = f"events[{index}].{problem['data']['param']}"
            problems.append(sub_error(param, problem["message"]))
        if "time" not in fields and "time" not in item:
            no_time.append(item.get("clientId", index))
        batch.append(fields)
    if problems:
        raise invalid_parameters(problems)
    if no_time:
        raise ApiError(400, "INVALID_TIME", "Every event of a batch needs its 'time'",
                       data={"clientIds": no_time})
    counts = Counter(f["clientId"] for f in batch)
    repeated = sorted(c for c, n in counts.items() if n > 1)
    if repeated:
        raise client_ids_unavailable(repeated)
    return batch


async def record_batch(
    tx: transaction.Tx, principal: Principal, channel_id: str, batch: list[dict[str, Any]]
) -> dict[str, Any]:
    """Adds the events of `batch` (from `read_batch`) to the channel, all or nothing.

    Returns `{addedEvents: [event...], stoppedId?}`."""
    writer = EventWriter(tx, principal, channel_id)
    channel = await writer.lock()
    now = time.time()
    events = []
    for fields in batch:
        try:
            events.append(new_event(new_id(), channel_id, fields, now,
                                    kind="period" if "duration" in fields else "mark"))
        except ApiError as exc:
            exc.data = {"clientId": fields["clientId"]}
            raise
    await _check_folders(tx, principal, channel_id, events)
    taken = await taken_client_ids(
        tx.conn, principal.user_id, channel_id, [e["clientId"] for e in events]
    )
    if taken:
        raise client_ids_unavailable(taken)
    stopped_id = None
    if channel["enforce_no_events_overlap"]:
        stopped_id = await _place_periods(writer, [e for e in events if is_period(e)], now)
    await tx.append_many(
        writer.stream,
        [NewRecord(EVENT_CREATED, {"channelId": channel_id, "event": e}) for e in events],
        user_id=principal.user_id,
    )
    answer: dict[str, Any] = {"addedEvents": events}
    if stopped_id is not None:
        answer["stoppedId"] = stopped_id
    return answer


async def _check_folders(
    tx: transaction.Tx, principal: Principal, channel_id: str, events: list[dict[str, Any]]
) -> None:
    """Every folder named exists and takes events from the credential (one tree read)."""
    tree = await load_tree(tx.conn, principal.user_id, channel_id)
    for folder_id in sorted({e["folderId"] for e in events}, key=lambda f: f or ""):
        path = tree.path(folder_id) if folder_id is not None else []
        level = principal.access.folder_level(channel_id, path)
        if folder_id is not None and (not path or level < READ):
            error = unknown_folder(folder_id, 400)
            error.data = {"folderId": folder_id}
            raise error
        if level < EVENTS_WRITE:
            raise ApiError(403, "FORBIDDEN", "The credential cannot add events there",
                           data={"folderId": folder_id})


async def _place_periods(
    writer: EventWriter, periods: list[dict[str, Any]], now: float
) -> str | None:
    """The period rules over the batch's periods and the channel's: stops the running period
    when the batch has one after it (returns its id), else refuses the whole batch.

    Reads the channel's periods over the batch's span (the periods beginning inside it, the
    one before it, and the running one), then sweeps everything in time order: a period that
    begins before the latest end seen so far overlaps it.
    """
    if not periods:
        return None
    first = min(p["time"] for p in periods)
    last = max(p["time"] + p["duration"] for p in periods)
    existing = await periods_around(
        writer.tx.conn, writer.principal.user_id, writer.channel_id, first, last
    )
    running = next((p for p in existing if p.end is None), None)
    stop_at = None
    if running is not None:
        later = [p["time"] for p in periods if p["time"] > running.time]
        if later:
            stop_at = min(later)
            existing = [p for p in existing if p is not running]
            existing.append(Period(running.id, running.time, stop_at))
    # What the client knows a batch event by is its clientId.
    mine = [Period(p["clientId"], p["time"], p["time"] + p["duration"]) for p in periods]
    theirs = {p.id for p in existing}
    clashes: set[Period] = set()
    widest: Period | None = None
    for period in sorted([*existing, *mine], key=lambda p: (p.time, p.id not in theirs)):
        if widest is not None and (widest.end is None or widest.end > period.time) and (
            period.id not in theirs or widest.id not in theirs
        ):
            clashes.update((widest, period))
        if widest is None or (widest.end is not None and (
            period.end is None or period.end > widest.end
        )):
            widest = period
    if clashes:
        ids = [p.id for p in sorted(clashes, key=lambda p: p.time)]
        # The channel's events are named only when the credential can read them.
        visible = set(await writer.readable([i for i in ids if i in theirs]))
        raise periods_overlap(ids if len(ids) > OVERLAP_REPORT_LIMIT else [
            i for i in ids if i not in theirs or i in visible])
    if running is None or stop_at is None:
        return None
    return await writer.stop(running.id, stop_at, now)
