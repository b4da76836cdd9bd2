"""An application stops as soon as it is asked to, even right after it started: its background
loops (the file collector, the activities runner) wake at start, and a stop that arrives as they
wake must not be lost (Python 3.11's `asyncio.wait_for` lost it, and the stop then waited
forever: app/background.py, `wait_until_set`)."""

from __future__ import annotations

import asyncio

import pytest

from app.config import Settings
from app.main import create_app


@pytest.mark.parametrize("run_activities", [False, True])
async def test_an_application_stops_right_after_it_started(
    settings: Settings, run_activities: bool
) -> None:
    for _ in range(5):
        app = create_app(settings.with_(run_activities=run_activities))
        # Not a timing: a guard, so that a lost stop fails here rather than at the suite's hang
        # timeout. Starting and stopping take milliseconds; 30 s means the stop never ends.
        async with asyncio.timeout(30) as guard:
            async with app.router.lifespan_context(app):
                pass
        assert not guard.expired(), "the application did not stop"
