"""`activity-server`: serve, migrate, rebuild, user add."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import signal
import sys
from collections.abc import Iterator

from app import server_processes
from app.commands.accounts import create_user
from app.config import Settings
from app.domain.errors import ApiError
from app.logging_setup import configure
from app.store import database
from app.store.migrate import migrate
from projections.rebuild import rebuild

logger = logging.getLogger("app.cli")


@contextlib.contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The database URL: DATABASE_URL, or an embedded PostgreSQL for as long as we need it."""
    if settings.database_url:
        yield settings.database_url
        return
    with database.EmbeddedPostgres(settings.data_dir) as embedded:
        yield embedded.url


async def _migrate(url: str) -> list[str]:
    conn = await database.connect(url)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    with database_url(settings) as url:
        asyncio.run(_migrate(url))
        # Workers are separate processes: they read the URL (embedded or not) from the environment.
        os.environ["DATABASE_URL"] = url
        logger.info("serving on http://%s:%d with %d worker(s)", args.host, args.port, args.workers)
        # uvicorn re-raises SIGTERM after its graceful shutdown; exiting through SystemExit
        # instead lets the embedded PostgreSQL be stopped on the way out.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        server_processes.serve(
            args.workers,
            app="app.main:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            **server_processes.UVICORN_OPTIONS,
        )
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    with database_url(settings) as url:
        applied = asyncio.run(_migrate(url))
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def cmd_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    async def run(url: str) -> int:
        conn = await database.connect(url)
        try:
            await migrate(conn)
            return await rebuild(conn)
        finally:
            await conn.close()

    with database_url(settings) as url:
        count = asyncio.run(run(url))
    print(f"rebuilt the read models from {count} log records")
    return 0


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            print("the passwords differ", file=sys.stderr)
            return 1

    async def run(url: str) -> str:
        await _migrate(url)
        pool = await database.create_pool(url, 1, 2)
        try:
            user_id = await create_user(
                pool,
                user_name=args.name,
                password=password,
                email=args.email,
                admin=args.admin,
                meta={"actor": {"kind": "cli"}},
            )
        finally:
            await pool.close()
        return str(user_id)

    with database_url(settings) as url:
        try:
            user_id = asyncio.run(run(url))
        except ApiError as exc:
            detail = "; ".join(e["message"] for e in exc.sub_errors or []) or exc.message
            print(f"cannot create the user: {detail}", file=sys.stderr)
            return 1
    print(f"created user {args.name} ({user_id})")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="activity-server", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="apply migrations, then serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=cmd_serve)

    sub.add_parser("migrate", help="apply pending migrations").set_defaults(run=cmd_migrate)
    sub.add_parser("rebuild", help="replay the log into empty read models").set_defaults(
        run=cmd_rebuild
    )

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="user_cmd",
                                                                     required=True)
    add = user.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    add.add_argument("--email")
    add.add_argument("--admin", action="store_true", help="may see every user's activities")
    add.set_defaults(run=cmd_user_add)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    configure(settings.log_level)
    return args.run(args, settings)


if __name__ == "__main__":
    sys.exit(main())
