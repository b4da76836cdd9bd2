"""The one long-running task a service keeps beside the requests (the fan-out's follower, the
cross-process wakeup, the file collector, the session-expiry watch): started with its service,
cancelled and awaited when the service stops, so that nothing outlives the application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


async def wait_until_set(event: asyncio.Event, seconds: float) -> None:
    """Waits until `event` is set or `seconds` pass, whichever comes first.

    Not `asyncio.wait_for(event.wait(), seconds)`: on Python 3.11 that swallows a cancel that
    arrives as the event is set (the set wins, the cancel is lost), so a loop that waits this way
    at the moment its service stops never ends and the stop waits forever. `asyncio.timeout`
    keeps the cancel."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


class BackgroundTask:
    def __init__(self, name: str) -> None:
        self.name = name
        self._task: asyncio.Task[None] | None = None

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        self._task = asyncio.create_task(work, name=self.name)

    async def stop(self) -> None:
        """Cancels the task and waits for it to end (a second stop does nothing)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
