"""How long things of the activities stay: finished activities `activity_retention_days`
(then one `activities.purged` record removes them from the read model, and their export files
go), idempotency keys 24 hours. Run by the runner now and then; any process may run it (the
purge takes the retention stream's lock, so two sweeps do not purge twice)."""

from __future__ import annotations

import logging
import time

import asyncpg

from app.commands import activities as activity_commands
from app.config import Settings
from app.domain.activities import retention_start
from app.store.exports import export_path, exports_dir

logger = logging.getLogger(__name__)


async def sweep(pool: asyncpg.Pool, settings: Settings) -> int:
    """Purges what is past its time; returns how many activities went."""
    cutoff = retention_start(settings.activity_retention_days, time.time())
    ids = await activity_commands.purge_finished(pool, cutoff)
    for activity_id in ids:
        export_path(settings, activity_id).unlink(missing_ok=True)
    # Partial files of exports whose worker died (a finished export removes its own).
    for part in exports_dir(settings).glob("*.part"):
        try:
            if time.time() - part.stat().st_mtime > 86400:
                part.unlink(missing_ok=True)
        except OSError:
            pass
    await activity_commands.forget_idempotency_keys(pool)
    if ids:
        logger.info("purged %d finished activities", len(ids))
    return len(ids)
