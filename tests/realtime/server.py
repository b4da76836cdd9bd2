"""A real server process on loopback: uvicorn with the application factory, as deployed.

Realtime behaviour (streams, disconnects, shutdown, several processes) only shows over real
sockets: an in-process ASGI transport buffers streams and hides disconnects. The bench uses
this too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`python -m uvicorn app.main:app_from_env --factory` with the given environment."""

    def __init__(self, database_url: str, admin_key: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the process
            prefix="activity-server-", suffix=".log", delete=False
        )
        environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "ACTIVITY_ADMIN_KEY": admin_key,
            "ACTIVITY_LOG_LEVEL": "warning",
            **env,
        }
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "app.main:app_from_env", "--factory",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--ws", "websockets-sansio", "--no-access-log", "--no-proxy-headers",
            ],
            cwd=ROOT,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not start:\n{self.log()}")

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def terminate(self) -> None:
        """SIGTERM: uvicorn's graceful shutdown."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30) -> int | None:
        self.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None
        finally:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
