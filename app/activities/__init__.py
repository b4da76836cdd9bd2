"""Activities (API.md §5, DESIGN.md "Activities"): long-running operations as streams of the log.

- `state`: the activity's API shape and the records that change it;
- `runner`: claims work under a lease, heartbeats, fences, ends each activity exactly once;
- `respond`: the HTTP side (start from a route, `Prefer`, `Idempotency-Key`, `X-Activity`);
- `operations`: the works (folder and channel deletion, export, rebuild, events batch);
- `retention`: finished activities kept `activity_retention_days`, keys 24 hours.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from uuid import UUID

from starlette.applications import Starlette

from app import transaction
from app.activities import retention, state
from app.activities.runner import Runner
from app.log import LogRecord
from app.private_files import private_folder


class Hub:
    """The process's activities: its runner (when `run_activities` is on) and the requests
    waiting for an activity's end, woken by the local commit of its final record."""

    def __init__(self, runner: Runner | None) -> None:
        self.runner = runner
        self._waiters: dict[UUID, set[asyncio.Event]] = {}

    def wake(self) -> None:
        if self.runner is not None:
            self.runner.wake()

    def waiter(self, activity_id: UUID) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.setdefault(activity_id, set()).add(event)
        return event

    def forget(self, activity_id: UUID, event: asyncio.Event) -> None:
        events = self._waiters.get(activity_id)
        if events is not None:
            events.discard(event)
            if not events:
                del self._waiters[activity_id]

    def committed(self, records: list[LogRecord]) -> None:
        """A commit listener: wakes whoever waits for an activity that changed."""
        for record in records:
            if not record.stream_id.startswith("activity-") or not self._waiters:
                continue
            with contextlib.suppress(ValueError):
                for event in self._waiters.get(UUID(record.stream_id[9:]), ()):
                    event.set()


@contextlib.asynccontextmanager
async def service(app: Starlette) -> AsyncIterator[None]:
    """The SERVICES entry: the hub always (any process answers and waits), the runner only
    where `run_activities` is on."""
    from app.activities import operations  # noqa: F401  (registers the works; imported late:
    # the works use the routes' modules, which themselves start activities through `respond`)

    settings = app.state.settings
    # The exports' folder is made owner-only now, not at the first export: one an earlier
    # version left readable to all is narrowed with the rest of the data folder.
    private_folder(retention.exports_dir(settings))
    runner = Runner(app.state.pool, settings) if settings.run_activities else None
    hub = Hub(runner)
    app.state.activities = hub
    transaction.on_commit(hub.committed)
    if runner is not None:
        runner.sweeper = lambda: retention.sweep(app.state.pool, settings)
        await runner.start()
    try:
        yield
    finally:
        transaction.remove_commit_listener(hub.committed)
        if runner is not None:
            await runner.stop()


__all__ = ["Hub", "service", "state"]
