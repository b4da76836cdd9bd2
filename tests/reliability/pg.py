"""A PostgreSQL of the test's own (the `pgserver` binaries in a temporary folder) that the test
can stop and start again, to see what the server does while its database is gone."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pgserver
from pgserver._commands import pg_ctl


class ControlledPostgres:
    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="activity-pg-")
        self.pgdata = Path(self._tmp.name) / "pgdata"
        self._server: Any = pgserver.get_server(self.pgdata, cleanup_mode="delete")
        self.url: str = self._server.get_uri()
        self.socket_dir = parse_qs(urlsplit(self.url).query)["host"][0]
        self.log = self.pgdata / "log"

    def _ctl(self, *args: str) -> None:
        pg_ctl(list(args), pgdata=self.pgdata, user=self._server.system_user, timeout=60)

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop`: fast ends every session at once, immediate is a crash."""
        self._ctl("-w", "-m", mode, "stop")

    def start(self) -> None:
        self._ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.log),
                  "start")

    def close(self) -> None:
        try:
            self._server.cleanup()
        finally:
            self._tmp.cleanup()
