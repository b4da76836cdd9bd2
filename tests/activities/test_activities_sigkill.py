"""Restarts (docs/api.md §5): a server process running long activities is killed with SIGKILL;
another process takes them over once their lease has passed and brings them to a final state, with
nothing half-done visible meanwhile or after.

Both processes are real uvicorn servers on the test database, with a short lease and a pause at
each safe point (the drill setting) so that the kill lands in the middle of the work.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import httpx
import orjson

from app.store import database as db
from tests.activities.support import FINAL, started
from tests.realtime.server import ServerProcess
from tests.reliability.invariants import rebuild_differences
from tests.support import OPERATOR_KEY, auth, create_user, fresh_database

EVENTS = 6


async def state_of(client: httpx.AsyncClient, session: str, activity_id: str) -> dict[str, Any]:
    r = await client.get(f"/activities/{activity_id}", headers=auth(session))
    assert r.status_code == 200, r.text
    return r.json()


async def until(client: httpx.AsyncClient, session: str, activity_id: str, check: Any,
                tries: int = 1200) -> dict[str, Any]:
    for _ in range(tries):
        activity = await state_of(client, session, activity_id)
        if check(activity):
            return activity
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached: {activity}")


async def test_a_killed_process_s_activities_are_taken_over_and_finished(
    database_url: str,
) -> None:
    # A database of its own: no runner of another server of the test session can take these
    # activities (and write the export into a data folder this test does not look at).
    async with fresh_database(database_url) as url:
        await _killed_process_drill(url)


async def _killed_process_drill(database_url: str) -> None:
    with tempfile.TemporaryDirectory(prefix="activity-sigkill-") as data_dir:
        env = {
            "ACTIVITY_DATA_DIR": data_dir,
            "ACTIVITY_LEASE_SECONDS": "2",
            "ACTIVITY_POLL_SECONDS": "0.2",
            "ACTIVITY_WAIT_SECONDS": "0",
            "ACTIVITY_EXPORT_PAGE": "1",
        }
        first = ServerProcess(database_url, OPERATOR_KEY, ACTIVITY_STEP_PAUSE="0.5",
                              **env).wait_ready()
        second: ServerProcess | None = None
        try:
            async with httpx.AsyncClient(base_url=first.url, timeout=30) as a:
                session = await create_user(a)
                r = await a.post("/channels", json={"name": "Work"}, headers=auth(session))
                channel = r.json()["id"]
                for i in range(EVENTS):
                    r = await a.post(f"/{channel}/events", json={"comment": f"e{i}"},
                                     headers=auth(session))
                    assert r.status_code == 201, r.text
                folders = []
                parent = None
                for name in ("Old", "Child", "Grandchild"):
                    path = f"/{channel}/folders" + (f"/{parent}" if parent else "")
                    r = await a.post(path, json={"name": name}, headers=auth(session))
                    folders.append(parent := r.json()["id"])
                await a.delete(f"/{channel}/folders/{folders[0]}", headers=auth(session))

                r = await a.post(f"/{channel}/export", headers=auth(session))
                assert r.status_code == 202, r.text
                export = started(r)
                # Half-way: the export has written some events; the deletion has started.
                await until(a, session, export, lambda x: x["state"] == "running"
                            and 2 < x["progress"]["done"] < x["progress"]["total"])
                r = await a.delete(f"/{channel}/folders/{folders[0]}", headers=auth(session))
                assert r.status_code == 202, r.text
                deletion = started(r)
                await until(a, session, deletion, lambda x: x["state"] == "running")
            first.process.kill()  # SIGKILL: no shutdown, no cleanup
            first.process.wait()

            # Nothing half-done is visible: the tree is whole, no export file is published.
            conn = await db.connect(database_url)
            try:
                left = await conn.fetchval(
                    "SELECT count(*) FROM folders WHERE channel_id = $1", channel)
            finally:
                await conn.close()
            assert left == 3
            assert not list((Path(data_dir) / "exports").glob("*.jsonl"))

            second = ServerProcess(database_url, OPERATOR_KEY, **env).wait_ready()
            async with httpx.AsyncClient(base_url=second.url, timeout=30) as b:
                done_export = await until(b, session, export, lambda x: x["state"] in FINAL)
                done_deletion = await until(b, session, deletion, lambda x: x["state"] in FINAL)
                assert done_export["state"] == "completed", done_export
                assert done_deletion["state"] == "completed", done_deletion
                r = await b.get(done_export["result"]["payload"]["download"],
                                headers=auth(session))
                assert r.status_code == 200
                lines = [orjson.loads(x) for x in r.content.splitlines()]
                assert sorted(x["event"]["comment"] for x in lines if x["kind"] == "event") == [
                    f"e{i}" for i in range(EVENTS)]
        finally:
            first.stop()
            if second is not None:
                second.stop()

    conn = await db.connect(database_url)
    try:
        assert await conn.fetchval(
            "SELECT count(*) FROM folders WHERE channel_id = $1", channel) == 0
        for activity_id in (export, deletion):
            rows = await conn.fetch(
                "SELECT type, data->'attempt' AS attempt FROM event_log WHERE stream_id = $1 "
                "ORDER BY version", f"activity-{activity_id}")
            starts = [r["attempt"] for r in rows if r["type"] == "activity.started"]
            assert starts == [1, 2], rows  # taken over once, by the second process
            finals = [r["type"] for r in rows if r["type"] in (
                "activity.completed", "activity.failed", "activity.cancelled")]
            assert finals == ["activity.completed"]  # exactly one end
        assert await conn.fetchval("SELECT count(*) FROM activity_runs") == 0
        assert await rebuild_differences(conn) == {}
    finally:
        await conn.close()
