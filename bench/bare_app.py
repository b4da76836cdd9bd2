"""The ceiling of a read: a bare Starlette app answering a fixed JSON array (the real answer of
the latest-20 query, captured in the same run), served as the server is (app/server_processes.py:
`python -m bench.bare_app --workers N --port P`)."""

from __future__ import annotations

import argparse
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


def main() -> None:
    from app import server_processes as workers

    p = argparse.ArgumentParser(prog="python -m bench.bare_app")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    workers.serve(
        args.workers, app="bench.bare_app:create", factory=True, host="127.0.0.1",
        port=args.port, **workers.UVICORN_OPTIONS,
    )


if __name__ == "__main__":
    main()
