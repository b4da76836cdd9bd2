"""`channel.export`: the channel's folders and events as JSON lines, a file fetched from the
link in the activity's `result.payload` (`GET /activities/{id}/download`).

Lines: first `{"kind": "channel", "channel": {...}}`, then one `{"kind": "folder", "folder":
{...}}` per folder (flat, parents before children), then one `{"kind": "event", "event": {...}}`
per event, oldest first; trashed items included (they carry `trashed: true`). Events are read
in steps of `activity_export_page`, each its own short transaction (no lock held between
steps, so a rebuild or a writer never waits for an export), with progress and a safe point
after each; a change made during the export may or may not be in it. The file is written
under a temporary name and published only by the last step: a cancelled, failed or
interrupted export leaves no file behind for anyone to fetch. The folder is 0700 and the file
0600 (app/store/private_files.py): only the server's user may read them.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from app.activities.work_context import Context
from app.commands.activities import check_export_access
from app.domain.channels import unknown_channel
from app.domain.folders import Folder
from app.identity.principal import Principal
from app.read.channel_content import (
    EventPosition,
    channel_folders,
    event_count,
    events_page,
)
from app.read.channels import channel_json, load_channel
from app.store.exports import export_path
from app.store.private_files import new_private_file, private_folder
from app.store.transaction import Tx


def _line(kind: str, item: dict[str, Any]) -> bytes:
    return orjson.dumps({"kind": kind, kind: item}) + b"\n"


def _parents_first(folders: list[Folder]) -> list[Folder]:
    by_parent: dict[str | None, list[Folder]] = {}
    for folder in folders:
        by_parent.setdefault(folder.parent_id, []).append(folder)
    ids = {folder.id for folder in folders}
    ordered: list[Folder] = []
    queue = [f for f in folders if f.parent_id is None or f.parent_id not in ids]
    while queue:
        folder = queue.pop(0)
        ordered.append(folder)
        queue.extend(sorted(by_parent.get(folder.id, []), key=lambda f: f.name))
    return ordered


async def run(ctx: Context, principal: Principal, channel_id: str) -> None:
    check_export_access(principal, channel_id)
    target = export_path(ctx.settings, ctx.activity_id)
    private_folder(target.parent)
    partial = target.with_name(f"{target.name}.{ctx.attempt}.part")
    try:
        async with ctx.pool.acquire() as conn:
            channel = await load_channel(conn, principal.user_id, channel_id)
            if channel is None or channel["trashed"]:
                raise unknown_channel(channel_id)
            folders = await channel_folders(conn, principal.user_id, channel_id)
            events_total = await event_count(conn, principal.user_id, channel_id)
        total = 1 + len(folders) + events_total
        counts = {"folders": len(folders), "events": 0}
        with new_private_file(partial, exclusive=False) as out:
            out.write(_line("channel", channel_json(channel)))
            for folder in _parents_first(folders):
                out.write(_line("folder", folder.state()))
            done = 1 + len(folders)
            await ctx.progress(done, total, force=True)
            await ctx.safe_point()
            page = int(ctx.params.get("page") or ctx.settings.activity_export_page)
            after: EventPosition | None = None
            while True:
                # Each page its own short read: no lock held between steps.
                async with ctx.pool.acquire() as conn:
                    events, end = await events_page(
                        conn, principal.user_id, channel_id, after, page
                    )
                if end is None:
                    break
                out.write(b"".join(_line("event", event) for event in events))
                counts["events"] += len(events)
                done += len(events)
                after = end
                await ctx.progress(done, max(total, done))
                await ctx.safe_point()
            out.flush()
            os.fsync(out.fileno())
        size = partial.stat().st_size

        async def last(tx: Tx) -> dict[str, Any]:
            return {"code": 200, "payload": {
                "download": f"/activities/{ctx.activity_id}/download",
                "contentType": "application/x-ndjson",
                "size": size,
                "lines": 1 + counts["folders"] + counts["events"],
                **counts,
            }}

        # Published under the run row's lock, just before the commit that completes the
        # activity: a late worker (fenced out) never replaces the file of the attempt that won.
        await ctx.finish(last, publish=lambda: os.replace(partial, target))
    finally:
        partial.unlink(missing_ok=True)
