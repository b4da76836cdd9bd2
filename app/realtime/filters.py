"""Subscription filters (docs/api.md §7) and the permission check every change passes, in memory.

A subscription selects two families of changes, each by its own parameters:
- data changes (channels, folders, events): `channel` (repeatable) and `folder` (repeatable,
  folder ids of the one `channel` given, descendants included);
- activity changes: `activities` = `mine`, `all` (an admin user's session) or an id.
With no parameter at all, a subscription gets both: every data change the credential may read
and the activities it sees. Given only `activities`, it gets only activities; given only
`channel`/`folder`, only data changes.

Whatever the filter, a change reaches a subscriber only if its credential may read it now; an
activity's, only if the rule of app/identity/activity_visibility.py lets it see the activity (`mine`
is what the credential sees of the user's: a shared token, those it started).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.domain.errors import ApiError, forbidden, invalid_parameters, sub_error
from app.domain.folders import unknown_folder
from app.domain.ids import is_identity
from app.identity import activity_visibility as visibility
from app.identity.permissions import READ, Access
from app.identity.principal import TOKEN, Principal
from app.read.folders import folder_path
from app.realtime.messages import ACTIVITY, CHANNEL, Change

MINE, ALL = "mine", "all"
MAX_IDS = 100  # channels or folders in one subscription


@dataclass(frozen=True)
class Filter:
    channels: frozenset[str] | None = None
    folders: frozenset[str] | None = None
    activities: str | None = None  # MINE, ALL, an activity id, or None (no activities)
    data: bool = True  # data changes selected

    def describe(self) -> dict[str, Any]:
        """The filter as the client may read it back (`subscribed` message)."""
        out: dict[str, Any] = {}
        if self.channels is not None:
            out["channel"] = sorted(self.channels)
        if self.folders is not None:
            out["folder"] = sorted(self.folders)
        if self.activities is not None:
            out["activities"] = self.activities
        return out

    def selects(self, change: Change) -> bool:
        """Whether the change is one this filter asks for (permissions aside)."""
        if change.kind == ACTIVITY:
            if self.activities is None:
                return False
            return self.activities in (MINE, ALL) or self.activities == change.activity_id
        if not self.data:
            return False
        if self.channels is not None and change.channel_id not in self.channels:
            return False
        if self.folders is not None and change.kind != CHANNEL:
            return not self.folders.isdisjoint(change.folders)
        return True


def parse(
    channels: Iterable[Any], folders: Iterable[Any], activities: Any
) -> Filter:
    """A Filter from request values; 400 INVALID_PARAMETERS_FORMAT naming what is wrong."""
    errors: list[dict[str, Any]] = []
    channel_ids = list(channels)
    folder_ids = list(folders)
    for param, values in (("channel", channel_ids), ("folder", folder_ids)):
        if len(values) > MAX_IDS:
            errors.append(sub_error(param, f"at most {MAX_IDS} {param} ids"))
        elif not all(is_identity(v) for v in values):
            errors.append(sub_error(param, f"each {param} must be a valid id"))
    if folder_ids and len(set(channel_ids)) != 1:
        errors.append(sub_error("folder", "folder needs exactly one channel"))
    if activities is not None and not (
        activities in (MINE, ALL) or is_identity(activities)
    ):
        errors.append(sub_error("activities", "activities must be mine, all or an activity id"))
    if errors:
        raise invalid_parameters(errors)
    selects_data = bool(channel_ids or folder_ids) or activities is None
    if activities is None and not (channel_ids or folder_ids):
        activities = MINE
    if isinstance(activities, str) and activities not in (MINE, ALL):
        activities = activities.lower()
    return Filter(
        channels=frozenset(channel_ids) if channel_ids else None,
        folders=frozenset(folder_ids) if folder_ids else None,
        activities=activities,
        data=selects_data,
    )


async def check_targets(conn: asyncpg.Connection, principal: Principal, filt: Filter) -> None:
    """404 for a channel or folder the credential cannot see (exactly as for one that does not
    exist), 403 for `activities=all` without the right."""
    if filt.activities == ALL and not visibility.sees_everyones(principal):
        raise forbidden("Only an admin user's session may see all activities")
    if filt.channels:
        trashed_ok = principal.access.full
        rows = await conn.fetch(
            "SELECT channel_id, trashed FROM channels WHERE user_id = $1 AND channel_id = ANY($2)",
            principal.user_id,
            sorted(filt.channels),
        )
        found = {r["channel_id"] for r in rows if trashed_ok or not r["trashed"]}
        for channel_id in sorted(filt.channels):
            if channel_id not in found or not principal.access.can_see_channel(channel_id):
                raise ApiError(404, "UNKNOWN_CHANNEL", f"Unknown channel {channel_id!r}")
    if filt.folders:
        (channel_id,) = filt.channels or ()
        for folder_id in sorted(filt.folders):
            path = await folder_path(conn, principal.user_id, channel_id, folder_id)
            if path is None or principal.access.folder_level(channel_id, path) < READ:
                raise unknown_folder(folder_id)


def needs_paths(principal: Principal, filt: Filter) -> bool:
    """Whether this subscriber needs folder paths resolved: a shared token (its grants may be
    folder-scoped, now or after an update) or a folder filter."""
    return filt.folders is not None or (principal.kind == TOKEN and not principal.access.full)


def may_read(change: Change, principal: Principal, access: Access) -> bool:
    """Whether a credential (with its current grants) may read the change."""
    if change.kind == ACTIVITY:
        return visibility.may_see(principal, change.user_id, change.activity_token)
    if change.user_id != principal.user_id or change.channel_id is None:
        return False
    if change.kind == CHANNEL:
        return access.can_see_channel(change.channel_id)
    if access.full or access.channel_level(change.channel_id) >= READ:
        return True
    if change.path is None:
        return False  # position unknown: only the whole channel's readers may see it
    return access.folder_level(change.channel_id, change.path) >= READ
