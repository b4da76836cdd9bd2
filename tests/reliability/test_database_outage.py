"""Drill: PostgreSQL goes away under load, then comes back.

While it is gone the server answers 503 SERVICE_UNAVAILABLE (never a 500, never a hang); once
it is back the server serves again within seconds, and every write it acknowledged is there.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from app.store import database as db
from tests.reliability import invariants
from tests.reliability.pg import ControlledPostgres
from tests.support import auth, create_user

REQUEST_TIMEOUT = 15  # a request that takes longer than this counts as a hang


@pytest.fixture
def postgres() -> Iterator[ControlledPostgres]:
    pg = ControlledPostgres()
    try:
        yield pg
    finally:
        pg.close()


class Load:
    """Clients reading and writing in a loop; every answer is tallied by phase."""

    def __init__(self, client: httpx.AsyncClient, session: str) -> None:
        self.client = client
        self.session = session
        self.phase = "up"
        self.statuses: dict[str, Counter[int]] = {}
        self.bad: list[str] = []
        self.acknowledged: list[str] = []
        self.names = itertools.count()
        self.running = True

    async def one(self, worker: int) -> None:
        phase = self.phase
        kind = next(self.names)
        try:
            if kind % 3 == 0:
                name = f"ch-{worker}-{kind}"
                r = await self.client.post("/channels", json={"name": name},
                                           headers=auth(self.session))
                if r.status_code == 201:
                    self.acknowledged.append(r.json()["id"])
            elif kind % 3 == 1:
                r = await self.client.get("/channels", headers=auth(self.session))
            else:
                r = await self.client.get("/user-info", headers=auth(self.session))
        except httpx.TimeoutException:
            self.bad.append(f"{phase}: a request hung past {REQUEST_TIMEOUT} s")
            return
        if self.phase != phase:
            # Sent in one phase, answered in another (a request sent while the database was
            # down may wait for it and be served once it is back): counted apart.
            phase = f"{phase}->{self.phase}"
        self.statuses.setdefault(phase, Counter())[r.status_code] += 1
        if r.status_code >= 500:
            body = r.json()
            if r.status_code != 503 or body["error"]["id"] != "SERVICE_UNAVAILABLE":
                self.bad.append(f"{phase}: {r.status_code} {r.text[:200]}")
            elif "retry-after" not in r.headers:
                self.bad.append(f"{phase}: 503 without Retry-After")

    async def worker(self, worker: int) -> None:
        while self.running:
            await self.one(worker)
            await asyncio.sleep(0.01)


async def _until_serving(client: httpx.AsyncClient, session: str, within: float) -> None:
    async with asyncio.timeout(within):
        while True:
            r = await client.get("/channels", headers=auth(session))
            if r.status_code == 200:
                return
            assert r.status_code == 503, r.text
            await asyncio.sleep(0.1)


async def test_database_stops_and_restarts_under_load(postgres: ControlledPostgres,
                                                     start_server) -> None:
    server = start_server(postgres.url)
    limits = httpx.Limits(max_connections=None)
    async with httpx.AsyncClient(base_url=server.url, timeout=REQUEST_TIMEOUT,
                                 limits=limits) as client:
        session = await create_user(client, "alice")
        load = Load(client, session)
        workers = [asyncio.create_task(load.worker(i)) for i in range(8)]
        try:
            for cycle, mode in enumerate(("fast", "immediate")):
                load.phase = f"up-{cycle}"
                await asyncio.sleep(1)
                load.phase = f"stopping-{cycle}"
                await asyncio.to_thread(postgres.stop, mode)
                load.phase = f"down-{cycle}"
                await asyncio.sleep(2)
                r = await client.get("/ready")
                assert r.status_code == 503
                load.phase = f"starting-{cycle}"
                await asyncio.to_thread(postgres.start)
                # "Within seconds": generous, so a loaded CI machine does not make it flaky.
                await _until_serving(client, session, within=30)
                load.phase = f"back-{cycle}"
                await asyncio.sleep(1)
        finally:
            load.running = False
            await asyncio.gather(*workers)

    print(_faults(server.log()))  # shown when the test fails
    assert not load.bad, load.bad[:10]
    for phase, statuses in load.statuses.items():
        assert set(statuses) <= {200, 201, 503}, (phase, load.statuses)
    for cycle in range(2):
        down = load.statuses[f"down-{cycle}"]
        assert set(down) == {503}, f"answers while the database was down: {load.statuses}"
        back = load.statuses[f"back-{cycle}"]
        assert 503 not in back and back[200] > 0, f"not serving again: {load.statuses}"
    assert not _faults(server.log()), _faults(server.log())

    conn = await db.connect(postgres.url)
    try:
        stored = {r["channel_id"] for r in await conn.fetch("SELECT channel_id FROM channels")}
    finally:
        await conn.close()
    missing = set(load.acknowledged) - stored
    assert not missing, f"acknowledged channels lost: {sorted(missing)[:5]}"
    pool = await db.create_pool(postgres.url, 1, 2)
    try:
        await invariants.check(pool)
    finally:
        await pool.close()


def _faults(log: str) -> str:
    """The server log from its first unexpected error on (its traceback names the cause)."""
    at = log.lower().find("unexpected error")
    return "" if at < 0 else log[at : at + 4000]
