"""The activities runner: claims pending work under a lease, runs it, and ends it exactly once.

- **Claim** (also the reaper): one query takes the oldest `activity_runs` row whose lease is
  absent or past, `FOR UPDATE SKIP LOCKED`, and sets a new lease with `attempt + 1`. A row whose
  worker died (SIGKILL, lost machine) is thus taken over once its lease has passed, by any
  process; an activity interrupted `activity_max_attempts` times fails with a clear error.
- **Heartbeat**: a task renews the lease every third of it while the work runs; at each safe
  point the work also renews it and learns whether a cancel was requested (`Context.safe_point`).
- **Fencing**: every transaction of the work and the final record check, under a row lock,
  that `activity_runs.attempt` is still this worker's: a late worker (its lease passed, the
  activity taken over) can commit nothing, and its result is discarded.
- **Ending**: the final record (`activity.completed`, `.failed` or `.cancelled`) is appended in
  the same transaction as the work's last step and the removal of the run row, so an activity
  is never left done-but-running nor ended twice. A cancel recorded before that transaction
  takes its stream lock wins: the whole last step is rolled back.

Every clock here that two processes compare is the database's (`clock_timestamp()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from uuid import UUID

import asyncpg

from app.activities.work_context import Cancelled, Context, LeaseLost, Work, end_in
from app.background import wait_until_set
from app.commands.activities import append_state
from app.config import Settings
from app.domain.activities import CANCELLED, FAILED, FINAL, RUNNING, STARTED
from app.domain.errors import ApiError
from app.identity.credentials import acting_for
from app.store import transaction
from app.store.database import is_database_unavailable
from app.store.transaction import Tx

logger = logging.getLogger(__name__)

_NOW = "extract(epoch from clock_timestamp())"

def _owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Runner:
    """One per process (when `run_activities` is on): claims and runs activities."""

    def __init__(
        self, pool: asyncpg.Pool, settings: Settings, works: Mapping[str, Work]
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.works = works  # activity type -> its work (app/activities/operations.py WORKS)
        self.owner = _owner_name()
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._last_sweep = 0.0
        self.sweeper: Callable[[], Awaitable[None]] | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._claim_loop(), name="activities-runner")

    async def stop(self) -> None:
        """Stops claiming and abandons the work in hand: its lease passes and another process
        (or this one, restarted) takes it over. Nothing is half-committed: every step is a
        transaction."""
        tasks = [t for t in (self._loop, *self._running) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def wake(self) -> None:
        self._wake.set()

    # --- claiming ---------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while True:
            try:
                while len(self._running) < self.settings.activity_workers:
                    row = await self.claim()
                    if row is None:
                        break
                    name = f"activity-{row['activity_id']}"
                    task = asyncio.create_task(self._run(row), name=name)
                    self._running.add(task)
                    task.add_done_callback(self._done)
                await self._maybe_sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_database_unavailable(exc):
                    logger.warning("activities runner: database unavailable (%s)",
                                   type(exc).__name__)
                else:
                    logger.exception("activities runner: claim failed")
            await wait_until_set(self._wake, self.settings.activity_poll_seconds)
            self._wake.clear()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()  # a slot is free

    async def claim(self) -> asyncpg.Record | None:
        """Takes the oldest activity nobody holds (never claimed, or its lease has passed)."""
        async with self.pool.acquire() as conn:
            return await conn.fetchrow(
                f"""UPDATE activity_runs r SET attempt = r.attempt + 1, lease_owner = $1,
                                             lease_until = {_NOW} + $2
                    WHERE r.activity_id = (
                        SELECT activity_id FROM activity_runs
                        WHERE coalesce(lease_until, 0) < {_NOW}
                        ORDER BY coalesce(lease_until, 0), created
                        LIMIT 1 FOR UPDATE SKIP LOCKED)
                    RETURNING r.*""",
                self.owner,
                self.settings.activity_lease_seconds,
            )

    async def renew(self, activity_id: UUID, attempt: int) -> bool:
        """The heartbeat: extends the lease; False when the attempt is no longer ours."""
        async with self.pool.acquire() as conn:
            renewed = await conn.fetchval(
                f"""UPDATE activity_runs SET lease_until = {_NOW} + $3
                    WHERE activity_id = $1 AND attempt = $2 RETURNING true""",
                activity_id,
                attempt,
                self.settings.activity_lease_seconds,
            )
        return bool(renewed)

    async def _heartbeat(self, ctx: Context) -> None:
        interval = max(0.05, self.settings.activity_lease_seconds / 3)
        while not ctx.lost:
            await asyncio.sleep(interval)
            try:
                if not await self.renew(ctx.activity_id, ctx.attempt):
                    ctx.lost = True
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a missed beat: the next one may pass, else the lease
                logger.warning("activity %s: heartbeat failed (%s)", ctx.activity_id,
                            type(exc).__name__)

    # --- running ----------------------------------------------------------------------------

    async def _run(self, row: asyncpg.Record) -> None:
        ctx = self._context(row)
        try:
            proceed = await self._begin(ctx)
        except LeaseLost:
            return
        except Exception:
            logger.exception("activity %s: could not start", ctx.activity_id)
            return
        if not proceed:
            return
        heartbeat = asyncio.create_task(self._heartbeat(ctx))
        try:
            await self._work(ctx)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await heartbeat

    async def _work(self, ctx: Context) -> None:
        outcome: tuple[str, dict[str, Any] | None] | None = None
        try:
            fn = self.works.get(ctx.type)
            if fn is None:
                raise ApiError(500, "UNEXPECTED_ERROR", f"No work is known for {ctx.type!r}")
            if ctx.principal is None and ctx.user_id is not None:
                raise _credential_gone()
            await fn(ctx)
            if not ctx.finished:
                await ctx.finish()
        except Cancelled:
            outcome = (CANCELLED, None)
        except LeaseLost:
            logger.info("activity %s: attempt %d lost its lease; its work is discarded",
                     ctx.activity_id, ctx.attempt)
            return
        except ApiError as exc:
            outcome = (FAILED, _error_of(exc))
        except asyncio.CancelledError:
            raise  # the process is stopping: the lease will pass, another process takes over
        except Exception as exc:
            if is_database_unavailable(exc):
                logger.warning("activity %s: database unavailable; left to the next attempt",
                            ctx.activity_id)
                return
            logger.exception("activity %s failed", ctx.activity_id)
            outcome = (FAILED, _error_of(
                ApiError(500, "UNEXPECTED_ERROR", "The work failed unexpectedly")))
        if outcome is not None:
            await self.end(ctx, outcome[0], error=outcome[1])

    def _context(self, row: asyncpg.Record) -> Context:
        params = dict(row["params"])
        who = params.pop("_runner", {}) or {}
        meta = {"requestId": who.get("requestId"), "actor": who.get("actor"),
                "activityId": str(row["activity_id"])}
        return Context(
            runner=self,
            activity_id=row["activity_id"],
            attempt=row["attempt"],
            type=row["type"],
            user_id=row["user_id"],
            cancellable=row["cancellable"],
            params=params,
            principal=None,
            meta=meta,
            pause=float(who.get("pause") or 0.0),
        )

    async def _begin(self, ctx: Context) -> bool:
        """Appends `activity.started` (attempt n); or ends an activity that cannot go on: a
        cancel requested before it ran, too many interrupted attempts. False: do not run it."""
        async with self.pool.acquire() as conn:
            params = await conn.fetchval(
                "SELECT params FROM activity_runs WHERE activity_id = $1", ctx.activity_id
            )
            ctx.principal = await acting_for(conn, (params or {}).get("_runner") or {})

        async def command(tx: Tx) -> bool:
            activity = await ctx._locked(tx, fence=True)
            if activity is None or activity["state"] in FINAL:
                await tx.conn.execute(
                    "DELETE FROM activity_runs WHERE activity_id = $1", ctx.activity_id
                )
                return False
            if activity["cancelRequested"] and activity["cancellable"]:
                await end_in(tx, ctx, activity, CANCELLED)
                return False
            if ctx.attempt > self.settings.activity_max_attempts:
                error = _error_of(ApiError(
                    500, "ACTIVITY_INTERRUPTED",
                    f"The work was interrupted {ctx.attempt - 1} times (server stopped or "
                    "crashed); it was not carried on",
                ))
                await end_in(tx, ctx, activity, FAILED, error=error)
                return False
            activity["state"] = RUNNING
            if activity["startedAt"] is None:
                activity["startedAt"] = time.time()
            await append_state(tx, STARTED, activity, user_id=ctx.user_id,
                                     attempt=ctx.attempt)
            return True

        return await transaction.run(self.pool, command, meta=ctx.meta)

    async def end(
        self, ctx: Context, final: str, *, error: dict[str, Any] | None = None
    ) -> None:
        async def command(tx: Tx) -> None:
            activity = await ctx._locked(tx, fence=True)
            if activity is None or activity["state"] in FINAL:
                return
            await end_in(tx, ctx, activity, final, error=error)

        try:
            await transaction.run(self.pool, command, meta=ctx.meta)
        except LeaseLost:
            logger.info("activity %s: attempt %d lost its lease before its end", ctx.activity_id,
                     ctx.attempt)

    async def _maybe_sweep(self) -> None:
        if self.sweeper is None or time.monotonic() - self._last_sweep < 300:
            return
        self._last_sweep = time.monotonic()
        await self.sweeper()


def _error_of(exc: ApiError) -> dict[str, Any]:
    error: dict[str, Any] = {"id": exc.error_id, "message": exc.message, "code": exc.status}
    if exc.data is not None:
        error["data"] = exc.data
    if exc.sub_errors:
        error["subErrors"] = exc.sub_errors
    return error


def _credential_gone() -> ApiError:
    return ApiError(401, "INVALID_TOKEN",
                    "The credential that started this activity was revoked before it ran")
