"""The ceiling of a read: a bare Starlette app answering a fixed JSON array (the real answer of
the latest-20 query, captured in the same run), run under the server's uvicorn settings."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create() -> Starlette:
    body = Path(os.environ["BENCH_BARE_BODY"]).read_bytes()

    async def bare(request: Request) -> Response:
        return Response(body, media_type="application/json")

    async def health(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(routes=[Route("/bare", bare), Route("/health", health)])
