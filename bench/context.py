"""What the scenarios share: the options, the scratch database, the running server, the user,
and the way to drive the load generator process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from bench.env import ADMIN_KEY, PASSWORD, ROOT, Server, activity_server
from bench.profile import PySpy


@dataclass
class Options:
    quick: bool = False
    duration: float = 20.0          # seconds of each closed-loop HTTP scenario
    clients: int = 16               # concurrent clients of the HTTP scenarios
    workers: int = 2                # server worker processes
    batch_events: int = 100_000
    log_records: int = 1_000_000    # the channel holding 1M events, and the rebuilt log
    idle_subscribers: int = 10_000
    profile: bool = False
    only: list[str] = field(default_factory=list)

    @classmethod
    def quick_run(cls, **changes: Any) -> Options:
        base = cls(quick=True, duration=3.0, batch_events=5_000, log_records=50_000,
                   idle_subscribers=500)
        for key, value in changes.items():
            setattr(base, key, value)
        return base


@dataclass
class Context:
    options: Options
    database_url: str
    server: Server | None = None
    session: str = ""
    user_id: str = ""
    notes: list[str] = field(default_factory=list)

    def start_server(self, **env: str) -> Server:
        if self.server is not None:
            self.server.stop()
        self.server = activity_server(self.database_url, self.options.workers, **env).start()
        return self.server

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def http(self) -> httpx.AsyncClient:
        assert self.server is not None
        return httpx.AsyncClient(base_url=self.server.url, timeout=600)

    async def login(self, user_name: str = "bench") -> str:
        async with self.http() as client:
            r = await client.post(
                "/system/users",
                json={"userName": user_name, "password": PASSWORD},
                headers={"Authorization": ADMIN_KEY},
            )
            if r.status_code not in (201, 400):
                raise RuntimeError(f"cannot create the bench user: {r.status_code} {r.text}")
            r = await client.post("/login", json={"userName": user_name, "password": PASSWORD})
            r.raise_for_status()
            self.session = r.json()["sessionID"]
            r = await client.get("/user-info", headers={"Authorization": self.session})
        return self.session

    async def channel(self, name: str, **extra: Any) -> str:
        async with self.http() as client:
            r = await client.post("/channels", json={"name": name, **extra},
                                  headers={"Authorization": self.session})
            if r.status_code != 201:
                raise RuntimeError(f"cannot create channel {name}: {r.status_code} {r.text}")
            return r.json()["id"]

    async def load(self, spec: dict[str, Any], profile_as: str | None = None) -> dict[str, Any]:
        """Runs the load generator process on `spec` (url filled in), with the server's CPU
        time over the run and, with --profile, py-spy on the server meanwhile."""
        assert self.server is not None
        spec = {"url": self.server.url, **spec}
        cpu_before = self.server.cpu_seconds()
        spy = None
        if profile_as and self.options.profile and self.server.process is not None:
            spy = PySpy(self.server.process.pid, profile_as,
                        spec.get("duration", 5) + spec.get("warmup", 1))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.load",
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        out, _ = await proc.communicate(orjson.dumps(spec) + b"\n")
        result = _result(out)
        result["serverCpuSeconds"] = round(self.server.cpu_seconds() - cpu_before, 2)
        if spy is not None:
            result["profile"] = await asyncio.to_thread(spy.finish)
        return result


def _result(out: bytes) -> dict[str, Any]:
    for line in out.decode().splitlines():
        if line.startswith("RESULT "):
            return orjson.loads(line[len("RESULT "):])
    raise RuntimeError(f"the load generator gave no result:\n{out.decode()[-2000:]}")
