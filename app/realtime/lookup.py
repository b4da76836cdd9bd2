"""What the fan-out reads besides the log, once per batch of records (never per subscriber):
the folder paths that folder-scoped permissions and folder filters are checked against, and
the channel rows that complete a channel's state.

Paths come from the folder read model as it is when the batch is sent, a few milliseconds
after the commit: a subscriber's permissions are checked against the tree as it is now.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from uuid import UUID

import asyncpg

from app.domain import channels as channel_records
from app.read.channels import ChannelKey, channels_by_key
from app.realtime import messages
from app.realtime.messages import Change
from app.store.log import LogRecord

FolderKey = tuple[UUID, str, str]  # (user, channel, folder)

# Channel records whose message needs the read model's row (they carry only what changed).
_NEEDS_CHANNEL_ROW = frozenset({channel_records.UPDATED, channel_records.TRASHED})


async def ancestors(
    conn: asyncpg.Connection, keys: Iterable[FolderKey]
) -> dict[FolderKey, tuple[str, ...]]:
    """For each folder that exists: (the folder, its parent, ..., the top folder)."""
    keys = list(set(keys))
    if not keys:
        return {}
    rows = await conn.fetch(
        """WITH RECURSIVE up(user_id, channel_id, start_id, folder_id, parent_id, depth) AS (
               SELECT f.user_id, f.channel_id, f.folder_id, f.folder_id, f.parent_id, 0
               FROM unnest($1::uuid[], $2::text[], $3::text[]) AS w(user_id, channel_id, fid)
               JOIN folders f ON f.user_id = w.user_id AND f.channel_id = w.channel_id
                             AND f.folder_id = w.fid
               UNION ALL
               SELECT up.user_id, up.channel_id, up.start_id, f.folder_id, f.parent_id,
                      up.depth + 1
               FROM up JOIN folders f ON f.user_id = up.user_id
                                     AND f.channel_id = up.channel_id
                                     AND f.folder_id = up.parent_id
               WHERE up.depth < 1000)
           SELECT user_id, channel_id, start_id, folder_id FROM up
           ORDER BY user_id, channel_id, start_id, depth""",
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
    )
    paths: dict[FolderKey, list[str]] = {}
    for row in rows:
        key = (row["user_id"], row["channel_id"], row["start_id"])
        paths.setdefault(key, []).append(row["folder_id"])
    return {key: tuple(path) for key, path in paths.items()}


async def prepare_batch(
    conn: asyncpg.Connection,
    records: list[LogRecord],
    wants_path: Callable[[LogRecord], bool],
) -> list[Change]:
    """The records as Changes, with at most two queries for the whole batch.

    `wants_path(record)` says whether some subscriber needs the record's folder path (a
    folder-scoped credential or a folder filter); other records keep `path=None`.
    """
    refs: dict[int, messages.FolderRef] = {}
    folder_keys: set[FolderKey] = set()
    channel_keys: set[ChannelKey] = set()
    for i, record in enumerate(records):
        kind = messages.kind_of(record.type)
        channel_id = record.data.get("channelId")
        if kind is None or record.user_id is None or not isinstance(channel_id, str):
            continue
        if record.type in _NEEDS_CHANNEL_ROW:
            channel_keys.add((record.user_id, channel_id))
        if kind in (messages.FOLDER, messages.EVENT) and wants_path(record):
            try:
                ref = messages.folder_ref(record)
            except (KeyError, TypeError, AttributeError):
                continue  # prepare() reports the malformed record
            if ref is None:
                continue
            refs[i] = ref
            if isinstance(ref.lookup, str):
                folder_keys.add((record.user_id, channel_id, ref.lookup))
    found = await ancestors(conn, folder_keys)
    rows = await channels_by_key(conn, channel_keys)
    changes = []
    for i, record in enumerate(records):
        path = None
        channel_id = record.data.get("channelId")
        if (ref := refs.get(i)) is not None:
            tail: tuple[str, ...] = ()
            if isinstance(ref.lookup, str):
                # A parent missing from the read model (deleted since): its id is all we know.
                tail = found.get((record.user_id, channel_id, ref.lookup), (ref.lookup,))
            path = ref.head + tail
        row = rows.get((record.user_id, channel_id)) if record.user_id else None
        changes.append(messages.prepare(record, path=path, channel_row=row))
    return changes
