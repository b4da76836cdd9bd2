"""Read model of activities (`activities`). Every record of an activity's stream carries the
activity's whole new state under `activity`, so each handler is one upsert; the retention sweep
removes finished activities with one `activities.purged` record.

The runner's lease and the work's input are not here: they live in `activity_runs`, which is
operational state (see migration 0006) and never rebuilt.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from app.domain import activities as activity_records
from app.store.log import LogRecord
from projections.registry import handles, read_models

read_models("activities")

@handles(*activity_records.RECORDS)
async def activity_state(conn: asyncpg.Connection, record: LogRecord) -> None:
    a: dict[str, Any] = record.data["activity"]
    await conn.execute(
        """INSERT INTO activities (activity_id, user_id, type, state, cancellable,
                                   cancel_requested, title, subtitle, progress, context, result,
                                   error, started_by, created_at, started_at, updated_at,
                                   completed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
           ON CONFLICT (activity_id) DO UPDATE SET
               state = EXCLUDED.state, cancellable = EXCLUDED.cancellable,
               cancel_requested = EXCLUDED.cancel_requested, title = EXCLUDED.title,
               subtitle = EXCLUDED.subtitle, progress = EXCLUDED.progress,
               context = EXCLUDED.context, result = EXCLUDED.result, error = EXCLUDED.error,
               started_at = EXCLUDED.started_at, updated_at = EXCLUDED.updated_at,
               completed_at = EXCLUDED.completed_at""",
        _uuid(a["id"]),
        record.user_id,
        a["type"],
        a["state"],
        a["cancellable"],
        a["cancelRequested"],
        a["title"],
        a.get("subtitle"),
        a.get("progress"),
        a.get("context"),
        a.get("result"),
        a.get("error"),
        a.get("startedBy"),
        a["createdAt"],
        a.get("startedAt"),
        a["updatedAt"],
        a.get("completedAt"),
    )


@handles(activity_records.PURGED)
async def activities_purged(conn: asyncpg.Connection, record: LogRecord) -> None:
    await conn.execute(
        "DELETE FROM activities WHERE activity_id = ANY($1::uuid[])",
        record.data["activityIds"],
    )


def _uuid(value: str) -> UUID:
    return UUID(value)
