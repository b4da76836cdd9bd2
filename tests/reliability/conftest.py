"""Fixtures of the reliability drills: server processes to kill, a PostgreSQL to stop.

Slow drills carry `@pytest.mark.slow` and run only with `RUN_SLOW=1` (see README.md,
"Reliability drills"); the rest is short enough for every CI run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.realtime.server import ServerProcess
from tests.support import OPERATOR_KEY


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a long drill, run only when RUN_SLOW=1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="a slow drill: set RUN_SLOW=1 to run it")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)


@pytest.fixture
def start_server(database_url: str) -> Iterator[Callable[..., ServerProcess]]:
    """Starts server processes on a database (the test's by default); all stopped afterwards."""
    started: list[ServerProcess] = []

    def start(url: str | None = None, **env: str) -> ServerProcess:
        env.setdefault("ACTIVITY_LOG_LEVEL", "info")
        process = ServerProcess(url or database_url, OPERATOR_KEY, **env).wait_ready()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()

