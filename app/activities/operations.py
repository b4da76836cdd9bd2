"""The works the runner knows, one per activity type.

Each work counts what it will do (progress), stops at safe points when a cancel was asked,
and ends with `ctx.finish(last_step)`: the last step and `activity.completed` commit together.
Deletions and the batch are one transaction each (all or nothing: a cancel before their commit
rolls everything back); the export reads in steps and publishes its file only at the end; the
rebuild is one transaction and cannot be cancelled.
"""

from __future__ import annotations

from typing import Any

from app.activities import export
from app.activities.work_context import Context, Work
from app.commands.channels import delete_for_good as delete_channel_for_good
from app.commands.event_batch import record_batch
from app.commands.folders import delete_for_good as delete_folder_for_good
from app.domain import activities as activity
from app.domain.folders import deletion_set
from app.read.channel_content import content_count
from app.read.folders import load_tree
from app.store.transaction import Tx
from projections.rebuild import rebuild as replay


def _principal(ctx: Context) -> Any:
    assert ctx.principal is not None  # the runner fails a work whose credential is gone
    return ctx.principal


async def delete_folder(ctx: Context) -> None:
    principal = _principal(ctx)
    channel_id, folder_id = ctx.params["channelId"], ctx.params["folderId"]
    async with ctx.pool.acquire() as conn:
        tree = await load_tree(conn, principal.user_id, channel_id)
    total = len(deletion_set(tree, folder_id)) if tree.get(folder_id) else 0
    await ctx.progress(0, total, force=True)
    await ctx.safe_point()

    async def last(tx: Tx) -> dict[str, Any]:
        payload = await delete_folder_for_good(tx, principal, channel_id, folder_id,
                                               ctx.params.get("merge"))
        return {"code": 200, "payload": payload}

    await ctx.finish(last)


async def delete_channel(ctx: Context) -> None:
    principal = _principal(ctx)
    channel_id = ctx.params["channelId"]
    async with ctx.pool.acquire() as conn:
        total = await content_count(conn, principal.user_id, channel_id)
    await ctx.progress(0, total, force=True)
    await ctx.safe_point()

    async def last(tx: Tx) -> dict[str, Any]:
        return {"code": 200,
                "payload": await delete_channel_for_good(tx, principal, channel_id)}

    await ctx.finish(last)


async def export_channel(ctx: Context) -> None:
    await export.run(ctx, _principal(ctx), ctx.params["channelId"])


async def rebuild(ctx: Context) -> None:
    """Replays the log into empty read models in one transaction (readers and writers wait for
    it); the activity's own records are replayed too, then it ends."""
    async with ctx.pool.acquire() as conn:
        total = await conn.fetchval("SELECT count(*) FROM event_log")
    await ctx.progress(0, int(total), force=True)
    async with ctx.pool.acquire() as conn:
        count = await replay(conn)
    await ctx.progress(count, count, force=True)
    await ctx.finish(_done({"records": count}))


def _done(payload: dict[str, Any]) -> Any:
    async def last(tx: Tx) -> dict[str, Any]:
        return {"code": 200, "payload": payload}

    return last


# --- events/batch ------------------------------------------------------------------------------
# The batch's decisions live in app/commands/event_batch.py (`record_batch(tx, principal,
# channel_id, events) -> dict`, the 200 body). The route starts the activity with
# app/domain/activities.py `batch_spec`; the work runs the whole batch in the transaction that
# ends the activity: all or nothing, and a cancel before its commit keeps nothing.


async def events_batch(ctx: Context) -> None:
    principal = _principal(ctx)
    channel_id, events = ctx.params["channelId"], ctx.params["events"]
    await ctx.progress(0, len(events), force=True)
    await ctx.safe_point()

    async def last(tx: Tx) -> dict[str, Any]:
        return {"code": 200, "payload": await record_batch(tx, principal, channel_id, events)}

    await ctx.finish(last)


# The works the runner knows (app/activities/service.py hands them to it).
WORKS: dict[str, Work] = {
    activity.FOLDER_DELETE: delete_folder,
    activity.CHANNEL_DELETE: delete_channel,
    activity.CHANNEL_EXPORT: export_channel,
    activity.PROJECTIONS_REBUILD: rebuild,
    activity.EVENTS_BATCH: events_batch,
}
