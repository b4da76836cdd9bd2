"""The process's activities service: its runner (when `run_activities` is on) and the hub that
wakes requests waiting for an activity's end (app/http/activity_answers.py finds it as
`app.state.activities`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from uuid import UUID

from starlette.applications import Starlette

from app.activities import retention
from app.activities.operations import WORKS
from app.activities.runner import Runner
from app.domain.activities import activity_id_of
from app.store import transaction
from app.store.exports import exports_dir
from app.store.log import LogRecord
from app.store.private_files import private_folder


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
            if not self._waiters or (activity_id := activity_id_of(record.stream_id)) is None:
                continue
            with contextlib.suppress(ValueError):
                for event in self._waiters.get(UUID(activity_id), ()):
                    event.set()


@contextlib.asynccontextmanager
async def service(app: Starlette) -> AsyncIterator[None]:
    """The SERVICES entry: the hub always (any process answers and waits), the runner with
    the works of app/activities/operations.py only where `run_activities` is on."""
    settings = app.state.settings
    # The exports' folder is made owner-only now, not at the first export: one an earlier
    # version left readable to all is narrowed with the rest of the data folder.
    private_folder(exports_dir(settings))
    runner = Runner(app.state.pool, settings, WORKS) if settings.run_activities else None
    hub = Hub(runner)
    app.state.activities = hub
    transaction.on_commit(app.state.pool, hub.committed)
    if runner is not None:
        runner.sweeper = lambda: retention.sweep(app.state.pool, settings)
        await runner.start()
    try:
        yield
    finally:
        transaction.remove_commit_listener(app.state.pool, hub.committed)
        if runner is not None:
            await runner.stop()
