"""Fixtures of the integration tests: a real PostgreSQL, a migrated database, the application.

The database is `TEST_DATABASE_URL` (a fresh database is created on that server for the run and
dropped after it) or, when unset, an embedded PostgreSQL started by `pgserver` in a temporary
folder. Every table is emptied before each test (`clean`), but in `tests/unit/`, whose own
conftest puts a fixture without a database in its place: the unit tests run with no PostgreSQL.

Fixtures only: the helpers the tests share are in `tests/support.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.config import Settings
from app.main import create_app
from app.store import database as db
from tests.support import OPERATOR_KEY, create_user, migrated_pool, with_database


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        with (
            tempfile.TemporaryDirectory(prefix="activity-test-") as tmp,
            db.EmbeddedPostgres(Path(tmp)) as embedded,
        ):
            yield embedded.url
        return
    name = f"activity_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(server_url, name)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_pool(database_url)
    yield pool
    await pool.close()


@pytest.fixture(autouse=True)
async def clean(pool: asyncpg.Pool) -> None:
    """Empties every table (but the migrations' record) so each test starts from nothing."""
    async with pool.acquire() as conn:
        tables = [
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'schema_migrations'"
            )
        ]
        await conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    # One level down in a folder of its own, so that tests can check that nothing lands beside
    # the data folder either (its parent is not the shared /tmp).
    with tempfile.TemporaryDirectory(prefix="activity-data-") as tmp:
        yield Path(tmp) / "data"


@pytest.fixture(scope="session")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=data_dir, admin_key=OPERATOR_KEY,
                    run_activities=True)


async def _open_client(
    stack: contextlib.AsyncExitStack, settings: Settings, **changes: Any
) -> httpx.AsyncClient:
    """A client of an application with some settings changed, its lifespan entered in `stack`
    (leaving the stack shuts the application down and closes its pool)."""
    app = create_app(settings.with_(**changes))
    await stack.enter_async_context(app.router.lifespan_context(app))
    transport = httpx.ASGITransport(app=app)
    return await stack.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url="http://testserver")
    )


@pytest.fixture
async def make_client(
    settings: Settings, pool: asyncpg.Pool
) -> AsyncIterator[Callable[..., Any]]:
    """Builds clients of applications with some settings changed, for one test: they are shut
    down after it (an application holds a pool, a listener and a runner of its own)."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(**changes: Any) -> httpx.AsyncClient:
            return await _open_client(stack, settings, **changes)

        yield make


@pytest.fixture(scope="session")
async def client(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with contextlib.AsyncExitStack() as stack:
        yield await _open_client(stack, settings)


@pytest.fixture
async def session(client: httpx.AsyncClient) -> str:
    """A logged-in session of the user `alice`."""
    return await create_user(client)

