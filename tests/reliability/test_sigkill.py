"""Drill: the server process is killed (SIGKILL) under load, and restarted, several times.

Clients write events and remember every id the server acknowledged. Afterwards every
acknowledged event is there exactly once (in the read model and in the log), every period an
acknowledged start stopped is stopped, and the invariants hold (rebuild equals live): a kill
leaves no half-applied change.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import asyncpg
import httpx

from tests.reliability import invariants
from tests.reliability.support import skip_without_data_api
from tests.support import auth, create_user

KILLS = 3


@dataclass
class Acknowledged:
    events: dict[str, str] = field(default_factory=dict)      # event id -> channel
    stopped: dict[str, str] = field(default_factory=dict)     # stopped event id -> channel
    refused: list[str] = field(default_factory=list)


class Writers:
    def __init__(self, base: str, session: str, channels: dict[str, str]) -> None:
        self.base = base
        self.session = session
        self.channels = channels  # channel id -> folder id
        self.acked = Acknowledged()
        self.running = True

    async def write(self, worker: int) -> None:
        rng = random.Random(worker)
        channel = list(self.channels)[worker % len(self.channels)]
        folder = self.channels[channel]
        while self.running:
            base = self.base
            if worker % 2:
                path, body = f"/{channel}/events/start", {"folderId": folder}
            else:
                path, body = f"/{channel}/events", {"comment": f"w{worker}", "tags": ["drill"],
                                                     "time": time.time() - rng.random()}
            try:
                async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                    r = await client.post(path, json=body, headers=auth(self.session))
            except httpx.HTTPError:
                await asyncio.sleep(0.05)  # the server is down: try again (maybe elsewhere)
                continue
            if r.status_code == 201:
                answer = r.json()
                self.acked.events[answer["id"]] = channel
                if answer.get("stoppedId"):
                    self.acked.stopped[answer["stoppedId"]] = channel
            elif r.status_code >= 500:
                self.acked.refused.append(f"{r.status_code} {r.text[:200]}")


async def test_sigkill_under_load_loses_nothing(start_server, pool: asyncpg.Pool) -> None:
    server = start_server()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        session = await create_user(client, "alice")
        channels = {}
        for i in range(3):
            r = await client.post("/channels", json={"name": f"c{i}"}, headers=auth(session))
            channel = r.json()["id"]
            r = await client.post(f"/{channel}/folders", json={"name": "work"},
                                  headers=auth(session))
            skip_without_data_api(r)
            assert r.status_code == 201, r.text
            channels[channel] = r.json()["id"]
    writers = Writers(server.url, session, channels)
    tasks = [asyncio.create_task(writers.write(i)) for i in range(6)]
    try:
        for _ in range(KILLS):
            await asyncio.sleep(1.0)
            server.process.kill()  # SIGKILL: no shutdown, transactions cut wherever they are
            await asyncio.to_thread(server.process.wait)
            server = await asyncio.to_thread(start_server)
            writers.base = server.url
        await asyncio.sleep(1.0)
    finally:
        writers.running = False
        await asyncio.gather(*tasks)

    acked = writers.acked
    assert not acked.refused, acked.refused[:5]
    assert len(acked.events) > 10, "the drill wrote too little to prove anything"
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT event_id, channel_id, end_time, kind FROM events WHERE event_id = ANY($1)",
            list(acked.events),
        )
        logged = await conn.fetch(
            """SELECT data->'event'->>'id' AS id, count(*) AS n FROM event_log
               WHERE type = 'event.created' AND data->'event'->>'id' = ANY($1)
               GROUP BY 1""",
            list(acked.events),
        )
        stopped = await conn.fetch(
            "SELECT event_id FROM events WHERE event_id = ANY($1) AND end_time IS NOT NULL",
            list(acked.stopped),
        )
    found = {r["event_id"]: r["channel_id"] for r in rows}
    assert len(rows) == len(found), "an acknowledged event is there twice"
    missing = {e for e, c in acked.events.items() if found.get(e) != c}
    assert not missing, f"acknowledged events lost: {sorted(missing)[:5]}"
    assert {r["id"]: r["n"] for r in logged} == dict.fromkeys(acked.events, 1)
    assert {r["event_id"] for r in stopped} == set(acked.stopped), "a stop was half-applied"
    await invariants.check(pool)
