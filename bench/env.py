"""The pieces every scenario stands on: a scratch database, the server process, the machine.

The server runs as deployed: `activity-server serve --workers N` with logging at info, its log
written to a file (as a service manager would). The scratch database is created on the
PostgreSQL of `BENCH_DATABASE_URL` (default the local server) and dropped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN_KEY = "bench-operator-key"
PASSWORD = "bench password 1234"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


class ScratchDatabase:
    """A database of its own on the benchmark's PostgreSQL, dropped when the run ends."""

    def __init__(self, server_url: str | None = None) -> None:
        self.server_url = server_url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_SERVER_URL
        self.name = f"activity_bench_{uuid.uuid4().hex[:10]}"
        self.url = with_database(self.server_url, self.name)

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.server_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create(self) -> ScratchDatabase:
        await self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    async def drop(self) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@dataclass
class Server:
    """An HTTP server process (the activity server, or the bare ceiling app) on loopback."""

    argv: list[str]
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str = "/health", timeout: float = 90) -> Server:
        log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept until stop()
            prefix="bench-server-", suffix=".log", delete=False
        )
        self.log_path = Path(log.name)
        self.process = subprocess.Popen(
            [*self.argv, "--port", str(self.port)],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + ready_path, timeout=1).status_code == 200:
                    # Every worker must be up before measuring: give the siblings a moment.
                    self._wait_workers()
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not start:\n{self.log_tail()}")

    def _wait_workers(self) -> None:
        end = time.monotonic() + 10
        while time.monotonic() < end:
            for _ in range(20):
                httpx.get(self.url + "/health", timeout=2)
            time.sleep(0.2)
            if len(self.processes()) >= 1:
                return

    def processes(self) -> list[psutil.Process]:
        """The server's processes: the supervisor and its workers."""
        if self.process is None or self.process.poll() is not None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def workers(self) -> list[psutil.Process]:
        """The processes that serve requests (the supervisor's children when there are any)."""
        procs = self.processes()
        return [p for p in procs[1:] if _is_python(p)] or procs[:1]

    def rss(self) -> int:
        """Resident memory of every server process, in bytes."""
        total = 0
        for proc in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.processes():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)


def _is_python(proc: psutil.Process) -> bool:
    try:
        return "python" in proc.name().lower() or "activity" in proc.name().lower()
    except psutil.NoSuchProcess:
        return False


def activity_server(database_url: str, workers: int, **env: str) -> Server:
    """The server with its production settings: the CLI, N workers, logging at info."""
    return Server(
        argv=[sys.executable, "-m", "app.cli", "serve", "--workers", str(workers)],
        env={
            "DATABASE_URL": database_url,
            "ACTIVITY_ADMIN_KEY": ADMIN_KEY,
            "ACTIVITY_LOG_LEVEL": "info",
            **env,
        },
    )


async def postgres_version(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memoryGiB": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
    }
