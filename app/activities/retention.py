"""How long things of the activities stay: finished activities `activity_retention_days`
(then one `activities.purged` record removes them from the read model, and their export files
go), idempotency keys 24 hours. Run by the runner now and then; any process may run it (the
purge takes the retention stream's lock, so two sweeps do not purge twice)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import asyncpg

from app.config import Settings
from app.store import transaction
from app.store.transaction import Tx

log = logging.getLogger(__name__)

STREAM = "activities-retention"
BATCH = 1000


def exports_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "exports"


async def sweep(pool: asyncpg.Pool, settings: Settings) -> int:
    """Purges what is past its time; returns how many activities went."""
    cutoff = time.time() - settings.activity_retention_days * 86400

    async def command(tx: Tx) -> list[str]:
        await tx.lock(STREAM)
        rows = await tx.conn.fetch(
            "SELECT activity_id FROM activities WHERE completed_at < $1 "
            "ORDER BY completed_at LIMIT $2",
            cutoff,
            BATCH,
        )
        ids = [str(r["activity_id"]) for r in rows]
        if ids:
            await tx.append(STREAM, "activities.purged",
                            {"activityIds": ids, "before": cutoff, "time": time.time()},
                            user_id=None)
        return ids

    ids = await transaction.run(pool, command, meta={"actor": {"kind": "server"}})
    for activity_id in ids:
        (exports_dir(settings) / f"{activity_id}.jsonl").unlink(missing_ok=True)
    # Partial files of exports whose worker died (a finished export removes its own).
    for part in exports_dir(settings).glob("*.part"):
        try:
            if time.time() - part.stat().st_mtime > 86400:
                part.unlink(missing_ok=True)
        except OSError:
            pass
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM idempotency_keys WHERE created < $1",
                           time.time() - 24 * 3600)
    if ids:
        log.info("purged %d finished activities", len(ids))
    return len(ids)
