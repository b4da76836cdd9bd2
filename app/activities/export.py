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
0600 (app/private_files.py): only the server's user may read them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from app.activities.retention import exports_dir
from app.activities.runner import Context
from app.errors import ApiError, forbidden
from app.http.auth import Principal
from app.http.channels import channel_json, load_channel
from app.permissions import READ
from app.private_files import new_private_file, private_folder
from app.transaction import Tx

_FOLDER_COLUMNS = (
    "folder_id, channel_id, name, parent_id, hidden, client_data, trashed, created, modified"
)
_EVENT_COLUMNS = (
    "event_id, channel_id, folder_id, kind, time, duration, value, comment, tags, client_id, "
    "client_data, attachments, trashed, modified"
)


def path_of(settings: Any, activity_id: Any) -> Path:
    return exports_dir(settings) / f"{activity_id}.jsonl"


def event_json(row: asyncpg.Record) -> dict[str, Any]:
    """An events row in the API shape of API.md §2 (absent values left out)."""
    event: dict[str, Any] = {
        "id": row["event_id"],
        "channelId": row["channel_id"],
        "time": row["time"],
        "folderId": row["folder_id"],
    }
    if row["kind"] == "period":
        event["duration"] = row["duration"]
    for key, column in (("value", "value"), ("comment", "comment"), ("clientId", "client_id")):
        if row[column] is not None:
            event[key] = row[column]
    event.update(
        tags=list(row["tags"] or []),
        clientData=row["client_data"],
        attachments=row["attachments"],
        trashed=row["trashed"],
        modified=row["modified"],
    )
    return event


def folder_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["folder_id"],
        "channelId": row["channel_id"],
        "name": row["name"],
        "parentId": row["parent_id"],
        "hidden": row["hidden"],
        "clientData": row["client_data"],
        "trashed": row["trashed"],
        "created": row["created"],
        "modified": row["modified"],
    }


def _line(kind: str, item: dict[str, Any]) -> bytes:
    return orjson.dumps({"kind": kind, kind: item}) + b"\n"


def _parents_first(rows: list[asyncpg.Record]) -> list[asyncpg.Record]:
    by_parent: dict[str | None, list[asyncpg.Record]] = {}
    for row in rows:
        by_parent.setdefault(row["parent_id"], []).append(row)
    ids = {row["folder_id"] for row in rows}
    ordered: list[asyncpg.Record] = []
    queue = [r for r in rows if r["parent_id"] is None or r["parent_id"] not in ids]
    while queue:
        row = queue.pop(0)
        ordered.append(row)
        queue.extend(sorted(by_parent.get(row["folder_id"], []), key=lambda r: r["name"]))
    return ordered


def check_access(principal: Principal, channel_id: str) -> None:
    """An export holds the whole channel: it needs read access to the whole channel."""
    if principal.access.channel_level(channel_id) < READ:
        raise forbidden("Exporting a channel needs read access to the whole channel")


async def run(ctx: Context, principal: Principal, channel_id: str) -> None:
    check_access(principal, channel_id)
    target = path_of(ctx.settings, ctx.activity_id)
    private_folder(target.parent)
    partial = target.with_name(f"{target.name}.{ctx.attempt}.part")
    try:
        async with ctx.pool.acquire() as conn:
            channel = await load_channel(conn, principal.user_id, channel_id)
            if channel is None or channel["trashed"]:
                raise ApiError(404, "UNKNOWN_CHANNEL", f"Unknown channel {channel_id!r}")
            folders = await conn.fetch(
                f"SELECT {_FOLDER_COLUMNS} FROM folders WHERE user_id = $1 AND channel_id = $2",
                principal.user_id,
                channel_id,
            )
            events_total = await conn.fetchval(
                "SELECT count(*) FROM events WHERE user_id = $1 AND channel_id = $2",
                principal.user_id,
                channel_id,
            )
        total = 1 + len(folders) + int(events_total)
        counts = {"folders": len(folders), "events": 0}
        with new_private_file(partial, exclusive=False) as out:
            out.write(_line("channel", channel_json(channel)))
            for row in _parents_first(list(folders)):
                out.write(_line("folder", folder_json(row)))
            done = 1 + len(folders)
            await ctx.progress(done, total, force=True)
            await ctx.safe_point()
            after: tuple[float, str] | None = None
            while True:
                rows = await _events_page(ctx, principal, channel_id, after)
                if not rows:
                    break
                out.write(b"".join(_line("event", event_json(r)) for r in rows))
                counts["events"] += len(rows)
                done += len(rows)
                after = (rows[-1]["time"], rows[-1]["event_id"])
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


async def _events_page(
    ctx: Context, principal: Principal, channel_id: str, after: tuple[float, str] | None
) -> list[asyncpg.Record]:
    async with ctx.pool.acquire() as conn:
        return await conn.fetch(
            f"""SELECT {_EVENT_COLUMNS} FROM events
                WHERE user_id = $1 AND channel_id = $2
                  AND ($3::float8 IS NULL OR (time, event_id) > ($3, $4))
                ORDER BY time, event_id LIMIT $5""",
            principal.user_id,
            channel_id,
            after[0] if after else None,
            after[1] if after else "",
            int(ctx.params.get("page") or ctx.settings.activity_export_page),
        )
