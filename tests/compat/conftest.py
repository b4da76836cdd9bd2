"""Fixtures of the compatibility-dialect tests (tests/compat/); their helpers are in
`tests/compat/support.py`.

The dialects are driven against a real server process, as their clients would be: a server per
module that runs no activities itself, logging at info (the Plex tests read its access log), on
a database of the module's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from tests.compat.support import NO_RUNNER, start
from tests.realtime.server import ServerProcess
from tests.support import fresh_database, migrated_pool


@pytest.fixture(scope="module")
async def compat_database(database_url: str) -> AsyncIterator[str]:
    """A database of the module's own. On the session's shared one, the runner of any other
    test's server could take this module's pending activities and run them."""
    async with fresh_database(database_url) as url:
        yield url


@pytest.fixture(scope="module")
async def pool(compat_database: str) -> AsyncIterator[asyncpg.Pool]:
    """The module's own database in place of the session's (tests/conftest.py's `clean`
    empties it before each test through this pool)."""
    pool = await migrated_pool(compat_database, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
def server(compat_database: str) -> Iterator[ServerProcess]:
    process = start(compat_database, **NO_RUNNER, ACTIVITY_LOG_LEVEL="info")
    yield process
    process.stop()


@pytest.fixture
async def rest(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        yield client
