"""What a running work sees (`Context`): its input, who it acts for, progress, safe points,
fenced steps and the last step that ends the activity (app/activities/runner.py claims the
work and builds its context; app/activities/operations.py holds the works)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

import asyncpg

from app.commands.activities import append_state
from app.config import Settings
from app.domain.activities import COMPLETED, FINAL, FINAL_RECORDS, PROGRESS, stream
from app.domain.activities import progress as progress_of
from app.identity.principal import Principal
from app.read.activities import cancel_requested, load_activity
from app.store import transaction
from app.store.transaction import Tx

Work = Callable[["Context"], Awaitable[None]]


class Cancelled(Exception):
    """Raised at a safe point when a cancel was requested: the work stops there."""


class LeaseLost(Exception):
    """This worker's attempt is no longer the activity's: whatever it would commit is dropped."""


class Lease(Protocol):
    """What a work's context needs of the runner that claimed it."""

    pool: asyncpg.Pool
    settings: Settings

    async def renew(self, activity_id: UUID, attempt: int) -> bool: ...


@dataclass
class Context:
    """What a running work sees: its input, who it acts for, and the runner's services."""

    runner: Lease
    activity_id: UUID
    attempt: int
    type: str
    user_id: UUID | None
    cancellable: bool
    params: dict[str, Any]
    principal: Principal | None
    meta: dict[str, Any]
    pause: float = 0.0  # seconds at each safe point: a drill's setting, travelling with the work
    lost: bool = False
    finished: bool = False
    _last_progress: float = 0.0
    _progress: dict[str, Any] = field(default_factory=dict)

    @property
    def pool(self) -> asyncpg.Pool:
        return self.runner.pool

    @property
    def settings(self) -> Settings:
        return self.runner.settings

    async def safe_point(self) -> None:
        """A point where the work may stop: renews the lease, raises Cancelled on a cancel
        request (LeaseLost when the activity was taken over)."""
        if self.pause > 0:
            await asyncio.sleep(self.pause)
        if await self.runner.renew(self.activity_id, self.attempt) is False:
            self.lost = True
        if self.lost:
            raise LeaseLost(str(self.activity_id))
        if self.cancellable:
            async with self.pool.acquire() as conn:
                requested = await cancel_requested(conn, self.activity_id)
            if requested:
                raise Cancelled()

    async def progress(self, done: int, total: int | None, *, force: bool = False) -> None:
        """Records progress, at most every `activity_progress_interval` seconds."""
        self._progress = progress_of(done, total)
        now = time.monotonic()
        if not force and now - self._last_progress < self.settings.activity_progress_interval:
            return
        self._last_progress = now
        snapshot = dict(self._progress)

        async def command(tx: Tx) -> None:
            activity = await self._locked(tx, fence=False)
            if activity is None or activity["state"] in FINAL:
                return
            activity["progress"] = snapshot
            await append_state(tx, PROGRESS, activity, user_id=self.user_id)

        await transaction.run(self.pool, command, meta=self.meta)

    async def step(self, fn: Callable[[Tx], Awaitable[Any]]) -> Any:
        """Runs one step of the work in its own transaction, fenced: it commits only while
        this attempt holds the activity."""

        async def command(tx: Tx) -> Any:
            result = await fn(tx)
            await self._fence(tx, lock="FOR SHARE")
            return result

        return await transaction.run(self.pool, command, meta=self.meta)

    async def finish(
        self,
        fn: Callable[[Tx], Awaitable[dict[str, Any]]] | None = None,
        *,
        publish: Callable[[], Any] | None = None,
    ) -> dict[str, Any]:
        """Runs the last step and appends `activity.completed` with its result (`{code,
        payload}`) in the same transaction. A cancel recorded before this transaction locked
        the activity rolls the whole step back (Cancelled). `publish` (say, putting a file in
        place) runs last, under the run row's lock, just before the commit."""

        async def command(tx: Tx) -> dict[str, Any]:
            result = await fn(tx) if fn is not None else {"code": 200, "payload": {}}
            if self.pause > 0:
                await asyncio.sleep(self.pause)  # a drill's half-way: the work is done, uncommitted
            activity = await self._locked(tx, fence=True)
            if activity is None:
                raise LeaseLost(str(self.activity_id))
            if self.cancellable and activity["cancelRequested"]:
                raise Cancelled()
            if self._progress:
                total = self._progress.get("total")
                activity["progress"] = progress_of(
                    total if total is not None else self._progress["done"], total
                )
            else:
                activity["progress"] = progress_of(1, 1)
            await end_in(tx, self, activity, COMPLETED, result=result)
            if publish is not None:
                publish()
            return result

        result = await transaction.run(self.pool, command, meta=self.meta)
        self.finished = True
        return result

    async def _fence(self, tx: Tx, *, lock: str) -> None:
        attempt = await tx.conn.fetchval(
            f"SELECT attempt FROM activity_runs WHERE activity_id = $1 {lock}", self.activity_id
        )
        if attempt != self.attempt:
            self.lost = True
            raise LeaseLost(str(self.activity_id))

    async def _locked(self, tx: Tx, *, fence: bool) -> dict[str, Any] | None:
        """Locks the activity's stream, checks the attempt, and reads its state."""
        await tx.lock(stream(self.activity_id))
        if fence:
            await self._fence(tx, lock="FOR UPDATE")
        else:
            attempt = await tx.conn.fetchval(
                "SELECT attempt FROM activity_runs WHERE activity_id = $1", self.activity_id
            )
            if attempt != self.attempt:
                return None
        return await load_activity(tx.conn, self.activity_id)


async def end_in(
    tx: Tx,
    ctx: Context,
    activity: dict[str, Any],
    final: str,
    *,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> None:
    """The final record and the removal of the run row, in the caller's transaction."""
    activity["state"] = final
    activity["result"] = result
    activity["error"] = error
    activity["completedAt"] = time.time()
    await append_state(tx, FINAL_RECORDS[final], activity, user_id=ctx.user_id,
                       attempt=ctx.attempt)
    await tx.conn.execute("DELETE FROM activity_runs WHERE activity_id = $1", ctx.activity_id)
