"""Fixtures of the security tests: the realtime tests' server processes, and REST clients of
the servers a test starts with settings of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from tests.realtime.conftest import alice, rest, server, start_server
from tests.realtime.server import ServerProcess

__all__ = ["alice", "client_of", "rest", "server", "start_server"]


@pytest.fixture
async def client_of() -> AsyncIterator[Callable[[ServerProcess], httpx.AsyncClient]]:
    """`client_of(process)`: a REST client of that server (closed after the test)."""
    clients: list[httpx.AsyncClient] = []

    def make(process: ServerProcess) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=None)
        clients.append(httpx.AsyncClient(base_url=process.url, timeout=120, limits=limits))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()
