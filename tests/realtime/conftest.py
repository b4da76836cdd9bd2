"""Fixtures of the realtime tests: real server processes on loopback, REST clients for them
(their helpers are in `tests/realtime/support.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from tests.realtime.server import ServerProcess
from tests.support import OPERATOR_KEY, create_user


def _start(database_url: str, **env: str) -> ServerProcess:
    return ServerProcess(database_url, OPERATOR_KEY, **env).wait_ready()


@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[ServerProcess]:
    """The shared server: heartbeats after one second, log at info (secrets must stay out)."""
    process = _start(
        database_url,
        ACTIVITY_STREAM_HEARTBEAT_SECONDS="1",
        ACTIVITY_LOG_LEVEL="info",
    )
    yield process
    process.stop()


@pytest.fixture
def start_server(database_url: str) -> Iterator[Callable[..., ServerProcess]]:
    """Starts more server processes on the test database (stopped after the test)."""
    started: list[ServerProcess] = []

    def start(**env: str) -> ServerProcess:
        process = _start(database_url, **env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
async def rest(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as client:
        yield client


@pytest.fixture
async def alice(rest: httpx.AsyncClient) -> str:
    """A session of the user alice, created through the server process."""
    return await create_user(rest, "alice")
