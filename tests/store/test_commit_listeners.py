"""Commit listeners belong to the application: each is registered for the pool its
application's commits go through, so two applications in one process (tests make several)
never hear each other's commits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from app.store import transaction
from app.store.log import LogRecord
from tests.support import migrated_pool


def appending(stream: str) -> Callable[[transaction.Tx], Awaitable[None]]:
    async def command(tx: transaction.Tx) -> None:
        await tx.append(stream, "test.appended", {}, user_id=None)

    return command


async def test_a_listener_hears_the_commits_of_its_own_pool_only(
    pool: asyncpg.Pool, database_url: str
) -> None:
    other = await migrated_pool(database_url, max_size=2)
    heard_here: list[str] = []
    heard_there: list[str] = []

    def here(records: list[LogRecord]) -> None:
        heard_here.extend(r.stream_id for r in records)

    def there(records: list[LogRecord]) -> None:
        heard_there.extend(r.stream_id for r in records)

    transaction.on_commit(pool, here)
    transaction.on_commit(other, there)
    try:
        await transaction.run(pool, appending("here-1"), meta={})
        await transaction.run(other, appending("there-1"), meta={})
        await transaction.run(pool, appending("here-2"), meta={})
    finally:
        transaction.remove_commit_listener(pool, here)
        transaction.remove_commit_listener(other, there)
        await other.close()
    assert heard_here == ["here-1", "here-2"]
    assert heard_there == ["there-1"]
    await transaction.run(pool, appending("after"), meta={})
    assert heard_here == ["here-1", "here-2"]  # removed: heard no more
