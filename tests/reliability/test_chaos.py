"""Invariants after chaos: many clients racing on the same channels with starts, stops,
records, modifications, deletions and batches, most of them colliding. Afterwards no periods
overlap where the channel forbids it, at most one period runs per channel, and a rebuild from
the log gives exactly the live read models."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import asyncpg
import httpx

from tests.reliability import invariants
from tests.reliability.support import skip_without_data_api
from tests.support import auth

NOW = time.time()


async def _chaos(client: httpx.AsyncClient, session: str, channel: str, folders: list[str],
                 seed: int, rounds: int, known: list[str]) -> list[str]:
    rng = random.Random(seed)
    faults: list[str] = []
    for _ in range(rounds):
        folder = rng.choice(folders)
        start = NOW - rng.uniform(0, 4000)
        action = rng.randrange(7)
        path: str
        method = "POST"
        body: Any = None
        if action == 0:
            path, body = f"/{channel}/events/start", {"folderId": folder, "time": start}
        elif action == 1:
            path, body = f"/{channel}/events/stop", {"time": start + rng.uniform(0, 4000)}
        elif action == 2:
            path, body = f"/{channel}/events", {"folderId": folder, "time": start,
                                                "duration": rng.uniform(1, 600)}
        elif action == 3 and known:
            method, path = "PUT", f"/{channel}/events/{rng.choice(known)}"
            body = rng.choice([{"duration": rng.uniform(1, 900)}, {"time": start},
                               {"duration": None}, {"folderId": folder}])
        elif action == 4 and known:
            method, path = "DELETE", f"/{channel}/events/{rng.choice(known)}"
        elif action == 5:
            path = f"/{channel}/events/batch"
            body = {"events": [
                {"clientId": f"b{seed}-{rng.random()}", "folderId": folder,
                 "time": start + 100 * i, "duration": rng.uniform(1, 150)} for i in range(5)
            ]}
        else:
            path, body = f"/{channel}/events", {"time": start, "comment": "mark"}
        r = await client.request(method, path, json=body, headers=auth(session))
        if r.status_code >= 500:
            faults.append(f"{method} {path} {body}: {r.status_code} {r.text[:200]}")
        elif r.status_code == 201:
            known.append(r.json()["id"])
    return faults


async def test_invariants_hold_after_chaos(client: httpx.AsyncClient, session: str,
                                           pool: asyncpg.Pool) -> None:
    faults: list[str] = []
    jobs = []
    for c in range(2):
        r = await client.post("/channels", json={"name": f"chaos{c}"}, headers=auth(session))
        channel = r.json()["id"]
        folders = []
        for f in range(3):
            r = await client.post(f"/{channel}/folders", json={"name": f"f{f}"},
                                  headers=auth(session))
            skip_without_data_api(r)
            assert r.status_code == 201, r.text
            folders.append(r.json()["id"])
        known: list[str] = []
        jobs += [_chaos(client, session, channel, folders, seed=10 * c + w, rounds=40,
                        known=known) for w in range(4)]
    for result in await asyncio.gather(*jobs):
        faults += result
    assert not faults, faults[:5]
    await invariants.check(pool)


async def test_the_checks_see_a_broken_read_model(client: httpx.AsyncClient, session: str,
                                                  pool: asyncpg.Pool) -> None:
    """The checker itself: a read model changed behind the log's back is reported."""
    r = await client.post("/channels", json={"name": "Work"}, headers=auth(session))
    assert r.status_code == 201
    async with pool.acquire() as conn:
        assert await invariants.rebuild_differences(conn) == {}
        await conn.execute("UPDATE channels SET name = 'tampered'")
        assert "channels" in await invariants.rebuild_differences(conn)
        await conn.execute("UPDATE event_log SET version = version + 5 WHERE position = "
                           "(SELECT min(position) FROM event_log)")
        assert await invariants.version_gaps(conn)
