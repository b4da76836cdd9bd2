"""The database: an asyncpg pool, and the embedded PostgreSQL used when no DATABASE_URL is set."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from app.domain.errors import ApiError
from app.store.private_files import data_folder

logger = logging.getLogger(__name__)


class EmbeddedPostgres(AbstractContextManager["EmbeddedPostgres"]):
    """A PostgreSQL server run from the `pgserver` wheel inside the data folder.

    pgserver shares one postmaster between the processes that open the same folder and stops it
    when the last one lets go, so `--workers N` and the CLI can use it at the same time.

    Running as root, pgserver opens every folder above `pgdata/` to all users (so that the
    PostgreSQL user it creates can reach it): the data folder is narrowed again once it started.
    """

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "pgdata").resolve()
        self._server: Any = None

    def __enter__(self) -> EmbeddedPostgres:
        import pgserver  # imported late: it is only needed without DATABASE_URL

        data_folder(self.pgdata.parent)
        logger.info("starting embedded PostgreSQL in %s", self.pgdata)
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        data_folder(self.pgdata.parent)
        return self

    @property
    def url(self) -> str:
        return self._server.get_uri()

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _jsonb_encode(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("jsonb", "json"):
        await conn.set_type_codec(
            typ, encoder=_jsonb_encode, decoder=orjson.loads, schema="pg_catalog"
        )


async def connect(url: str) -> asyncpg.Connection:
    """One connection with the JSON codecs every module expects."""
    conn = await asyncpg.connect(url)
    await _init_connection(conn)
    return conn


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Releasing a connection to the pool: nothing to undo.

    Pooled connections hold no session state (no LISTEN, no SET, no cursor or advisory lock
    outlives a transaction), so asyncpg's default reset query would cost one more round trip
    on every release for nothing (measured: about a fifth of a request's time). The pool still
    rolls back a transaction left open.
    """


async def create_pool(url: str, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=60,
        reset=_keep_session,
    )
    assert pool is not None
    return pool


def is_database_unavailable(exc: BaseException) -> bool:
    """A fault of reaching PostgreSQL (down, restarting, refusing), not of the query."""
    return isinstance(
        exc,
        OSError
        | TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.CannotConnectNowError
        | asyncpg.AdminShutdownError
        | asyncpg.ConnectionDoesNotExistError
        | asyncpg.TooManyConnectionsError
        # A connection cut by the server mid-operation is left in a state it cannot leave
        # ("cannot switch to state ...; another operation is in progress"): the same outage.
        | asyncpg.InternalClientError,
    ) or (isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc))


def unavailable() -> ApiError:
    return ApiError(
        503,
        "SERVICE_UNAVAILABLE",
        "The database cannot be reached; retry later",
        headers={"Retry-After": "2"},
    )
