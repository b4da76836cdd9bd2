"""Login throttling: budgets of failed logins per user name and per client address, reserved in
PostgreSQL before the password is checked.

An attempt takes one unit of both budgets in one transaction before argon2 runs. Concurrent
attempts, in any number of server processes, queue on the budget's row for the few
microseconds of the update, so within a window at most the budget's worth of guesses is ever
checked; every other attempt answers 429 with `Retry-After` at once, without a check. A refused
attempt takes nothing (its transaction rolls back). A success gives its units back: it clears
the user name's count and returns its unit of the address's, so only failures (and attempts
still being checked) use the budgets.

A window opens at the first attempt and closes `login_window_seconds` later on its own.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import asyncpg

from app.config import Settings
from app.domain.errors import ApiError


@dataclass(frozen=True)
class _Budget:
    table: str
    key: str
    refused: str  # the 429's message

    def take_sql(self) -> str:
        # The WHERE refuses the update (no row returned) when the open window is used up.
        return f"""
            INSERT INTO {self.table} AS f ({self.key}, failures, window_start) VALUES ($1, 1, $2)
            ON CONFLICT ({self.key}) DO UPDATE SET
              failures = CASE WHEN $2 - f.window_start >= $3 THEN 1 ELSE f.failures + 1 END,
              window_start = CASE WHEN $2 - f.window_start >= $3 THEN $2 ELSE f.window_start END
            WHERE $2 - f.window_start >= $3 OR f.failures < $4
            RETURNING window_start"""


USER_NAME = _Budget("login_failures", "user_name", "Too many failed logins for this user")
ADDRESS = _Budget("login_address_failures", "address", "Too many failed logins from this address")


@dataclass(frozen=True)
class Reservation:
    user_name: str
    address: str | None  # None: no address budget
    address_window: float | None


async def _take(conn: asyncpg.Connection, budget: _Budget, key: str, limit: int,
                settings: Settings) -> float:
    """Takes a unit of the budget, or raises 429; the window's start when taken."""
    window = float(settings.login_window_seconds)
    now = time.time()
    started = await conn.fetchval(budget.take_sql(), key, now, window, max(1, limit))
    if started is not None:
        return started
    started = await conn.fetchval(
        f"SELECT window_start FROM {budget.table} WHERE {budget.key} = $1", key
    )
    wait = (started if started is not None else now) + window - time.time()
    raise ApiError(
        429,
        "TOO_MANY_REQUESTS",
        f"{budget.refused}; retry later",
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
    )


async def reserve(
    conn: asyncpg.Connection, settings: Settings, user_name: str, address: str
) -> Reservation:
    """One attempt's units of both budgets (the address's first: every attempt takes the two
    row locks in the same order), or 429 having taken neither."""
    per_address = settings.login_max_failures_per_address
    async with conn.transaction():
        window = None
        if per_address > 0:
            window = await _take(conn, ADDRESS, address, per_address, settings)
        await _take(conn, USER_NAME, user_name, settings.login_max_failures, settings)
    return Reservation(user_name, address if window is not None else None, window)


async def succeeded(conn: asyncpg.Connection, reservation: Reservation) -> None:
    """Gives a successful attempt's units back (the address's only within the same window)."""
    async with conn.transaction():
        await conn.execute(
            f"DELETE FROM {USER_NAME.table} WHERE user_name = $1", reservation.user_name
        )
        if reservation.address is not None:
            await conn.execute(
                f"""UPDATE {ADDRESS.table} SET failures = failures - 1
                    WHERE address = $1 AND window_start = $2 AND failures > 0""",
                reservation.address,
                reservation.address_window,
            )
