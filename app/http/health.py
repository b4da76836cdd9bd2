"""`/health` (the process answers) and `/ready` (the database answers too)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.routing import Route

from app.edge.responses import JSONResponse, error, json
from app.store.database import unavailable


async def health(request: Request) -> JSONResponse:
    return json({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    try:
        async with asyncio.timeout(2):
            async with request.app.state.pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
    except Exception:
        return error(unavailable())
    return json({"status": "ready"})


routes = [Route("/health", health), Route("/ready", ready)]
