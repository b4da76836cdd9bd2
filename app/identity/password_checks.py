"""argon2 work (checking and hashing passwords) off the event loop, a few at once per process.

A check takes ~0.2 s of CPU and 64 MiB in a worker thread. Unbounded, a burst of logins fills
the thread pool that the rest of the server shares (file reads, other logins) and the memory
with it; here a burst waits for one of `ACTIVITY_PASSWORD_CHECKS` slots instead. The budgets of
app/identity/login_throttle.py decide first which attempts are checked at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from app.identity import secrets as secrets_

T = TypeVar("T")


class PasswordChecks:
    def __init__(self, slots: int) -> None:
        self._slots = asyncio.Semaphore(max(1, slots))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether the password matches (a missing hash costs a check too: no timing tell)."""
        return await self._run(secrets_.verify_password, password_hash, password)

    async def hash(self, password: str) -> str:
        return await self._run(secrets_.hash_password, password)

    async def _run(self, work: Callable[..., T], *args: str | None) -> T:
        async with self._slots:
            thread = asyncio.ensure_future(asyncio.to_thread(work, *args))
            try:
                return await asyncio.shield(thread)
            except asyncio.CancelledError:
                # The thread cannot be stopped: its slot stays taken until it is done, so a
                # client that gives up does not make room for one more check.
                await asyncio.wait([thread])
                raise
