"""The process's realtime fan-out, for as long as the application runs (a SERVICES entry of
app/main.py), and the routes that serve it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from app.realtime import sse, ws
from app.realtime.fanout import Fanout

routes = [
    Route("/stream", sse.stream, methods=["GET"]),
    WebSocketRoute("/ws", ws.endpoint),
]


@contextlib.asynccontextmanager
async def service(app: Starlette) -> AsyncIterator[None]:
    """The process's fan-out, for as long as the application runs (a SERVICES entry)."""
    fanout = Fanout(app.state.pool, app.state.database_url, app.state.settings)
    await fanout.start()
    app.state.fanout = fanout
    try:
        yield
    finally:
        await fanout.stop()
