"""An activity's states, the records that change it, its stream, and the pure decisions about
it (docs/api.md §2, §5).

Every record of the stream `activity-<uuid>` carries the activity's whole new state under
`activity`: the projection is then one upsert, and the realtime message of any `activity.*`
record is that state (app/realtime/messages.py reads `data.activity`). The work's input travels
only in `activity.created` (under `params`, never sent to subscribers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from app.domain.errors import ApiError, invalid_operation, unknown

PENDING, RUNNING, CANCELLING = "pending", "running", "cancelling"
COMPLETED, FAILED, CANCELLED = "completed", "failed", "cancelled"
FINAL = frozenset({COMPLETED, FAILED, CANCELLED})
STATES = (PENDING, RUNNING, CANCELLING, COMPLETED, FAILED, CANCELLED)

# Record types of an activity's stream.
RECORD_PREFIX = "activity."
CREATED = "activity.created"
STARTED = "activity.started"
PROGRESS = "activity.progress"
CANCEL_REQUESTED = "activity.cancel_requested"
FINAL_RECORDS = {
    COMPLETED: "activity.completed",
    FAILED: "activity.failed",
    CANCELLED: "activity.cancelled",
}
RECORDS = (CREATED, STARTED, PROGRESS, CANCEL_REQUESTED, *FINAL_RECORDS.values())

# The retention sweep's stream and its one record (app/activities/retention.py).
RETENTION_STREAM = "activities-retention"
PURGED = "activities.purged"

# Activity types: one work each (app/activities/operations.py).
FOLDER_DELETE = "folder.delete"
CHANNEL_DELETE = "channel.delete"
CHANNEL_EXPORT = "channel.export"
EVENTS_BATCH = "events.batch"
PROJECTIONS_REBUILD = "projections.rebuild"

_STREAM_PREFIX = "activity-"


def unknown_activity(activity_id: str) -> ApiError:
    return unknown("UNKNOWN_ACTIVITY", "activity", activity_id)


def retention_start(retention_days: float, now: float) -> float:
    """Finished activities that completed before this are past their retention: no longer
    listed, and purged by the next sweep (app/activities/retention.py)."""
    return now - retention_days * 86400


def stream(activity_id: UUID | str) -> str:
    return f"{_STREAM_PREFIX}{activity_id}"


def is_activity_stream(stream_id: str) -> bool:
    return stream_id.startswith(_STREAM_PREFIX)


def activity_id_of(stream_id: str) -> str | None:
    """The activity a stream belongs to (`activity-<uuid>`), as text; None for another stream."""
    if not is_activity_stream(stream_id):
        return None
    return stream_id[len(_STREAM_PREFIX):]


@dataclass
class Spec:
    """What a route asks the runner to do: the work's type and input, and how it is shown."""

    type: str
    title: str
    params: dict[str, Any]
    context: dict[str, Any] = field(default_factory=dict)
    subtitle: str | None = None
    cancellable: bool = True


def batch_spec(channel_id: str, events: list[dict[str, Any]]) -> Spec:
    """`POST /{channel}/events/batch`: the whole batch runs in the transaction that ends the
    activity (app/commands/event_batch.py `record_batch`: all or nothing)."""
    return Spec(
        type=EVENTS_BATCH,
        title=f"Record {len(events)} event(s)",
        params={"channelId": channel_id, "events": events},
        context={"channelId": channel_id},
    )


def export_spec(channel_id: str, channel_name: str, page: int) -> Spec:
    """`POST /{channel}/export`: read in steps of `page` events."""
    return Spec(
        type=CHANNEL_EXPORT,
        title=f"Export channel {channel_name!r}",
        params={"channelId": channel_id, "page": page},
        context={"channelId": channel_id},
    )


def rebuild_spec() -> Spec:
    """`POST /system/rebuild`: not cancellable (it is one transaction)."""
    return Spec(
        type=PROJECTIONS_REBUILD,
        title="Rebuild every read model from the log",
        params={},
        cancellable=False,
    )


def channel_delete_spec(channel_id: str, channel_name: str) -> Spec:
    """Deleting a trashed channel for good, with all its folders and events."""
    return Spec(
        type=CHANNEL_DELETE,
        title=f"Delete channel {channel_name!r} for good",
        params={"channelId": channel_id},
        context={"channelId": channel_id},
    )


def progress(done: int, total: int | None) -> dict[str, Any]:
    percent = None
    if total:
        percent = round(min(100.0, 100.0 * done / total), 1)
    elif total == 0:
        percent = 100.0
    return {"done": done, "total": total, "percent": percent}


def new_activity(
    activity_id: UUID, spec: Spec, started_by: dict[str, Any], now: float
) -> dict[str, Any]:
    """A new activity's state (docs/api.md §2): pending, nothing done yet."""
    return {
        "id": str(activity_id),
        "type": spec.type,
        "state": PENDING,
        "cancellable": spec.cancellable,
        "cancelRequested": False,
        "title": spec.title,
        "subtitle": spec.subtitle,
        "progress": progress(0, None),
        "context": spec.context,
        "result": None,
        "error": None,
        "startedBy": started_by,
        "createdAt": now,
        "startedAt": None,
        "updatedAt": now,
        "completedAt": None,
    }


def check_cancel(activity: dict[str, Any]) -> bool:
    """Whether a cancel has something to record: False when one was already recorded (asking
    again answers the current state); 409 once it completed or failed, or if not cancellable."""
    if activity["state"] in (CANCELLED, CANCELLING):
        return False
    if activity["state"] in (COMPLETED, FAILED):
        raise invalid_operation(f"The activity has already {activity['state']}",
                                data={"state": activity["state"]}, status=409)
    if not activity["cancellable"]:
        raise invalid_operation("This activity cannot be cancelled", status=409)
    return True
