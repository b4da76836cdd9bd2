"""`activity-server` as an operator runs it: a subprocess against the test database."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import httpx
import orjson
import psutil

import projections
from tests.realtime.server import free_port
from tests.support import OPERATOR_KEY, PASSWORD, auth, create_user, fresh_database

ROOT = Path(__file__).resolve().parents[2]


def _command() -> list[str]:
    """The installed console script, as the README runs it (else the module behind it)."""
    script = Path(sys.executable).parent / "activity-server"
    if script.exists():
        return [str(script)]
    found = shutil.which("activity-server")
    return [found] if found else [sys.executable, "-m", "app.cli"]


def _env(database_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "ACTIVITY_LOG_LEVEL": "warning", **extra}


async def run_cli(
    database_url: str, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """Runs the CLI without blocking the event loop (the pool's connections stay served)."""
    return await asyncio.to_thread(
        subprocess.run,
        [*_command(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(database_url, **env),
        cwd=ROOT,
        timeout=120,
    )


async def test_migrate_applies_everything_once(database_url: str) -> None:
    from app.store.migrate import available

    async with fresh_database(database_url) as url:
        first = await run_cli(url, "migrate")
        assert first.returncode == 0, first.stderr
        for _, name, _ in available():
            assert name in first.stdout
        again = await run_cli(url, "migrate")
        assert again.returncode == 0, again.stderr
        assert "nothing (up to date)" in again.stdout


async def test_user_add_with_password_from_stdin_can_log_in(client, database_url: str) -> None:
    done = await run_cli(
        database_url, "user", "add", "carol", "--password-stdin", "--email", "c@example.org",
        stdin=PASSWORD + "\n",
    )
    assert done.returncode == 0, done.stderr
    assert "created user carol" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr
    r = await client.post("/login", json={"userName": "carol", "password": PASSWORD})
    assert r.status_code == 200, r.text
    r = await client.get("/user-info", headers=auth(r.json()["sessionID"]))
    assert r.json() == {"userName": "carol", "email": "c@example.org"}


async def test_user_add_refuses_a_taken_name_a_bad_name_and_a_short_password(
    client, database_url: str
) -> None:
    assert (await run_cli(database_url, "user", "add", "dave", "--password-stdin",
                          stdin=PASSWORD)).returncode == 0
    taken = await run_cli(database_url, "user", "add", "dave", "--password-stdin",
                          stdin=PASSWORD)
    assert taken.returncode == 1
    assert "taken" in taken.stderr
    bad_name = await run_cli(database_url, "user", "add", "Not A Name", "--password-stdin",
                             stdin=PASSWORD)
    assert bad_name.returncode == 1
    assert "user name" in bad_name.stderr
    short = await run_cli(database_url, "user", "add", "erin", "--password-stdin",
                          stdin="short")
    assert short.returncode == 1
    assert "short" not in short.stderr  # the refused password is not echoed either
    r = await client.post("/login", json={"userName": "erin", "password": "short"})
    assert r.status_code == 401


async def _read_models(pool) -> dict[str, list[bytes]]:
    async with pool.acquire() as conn:
        return {
            table: sorted(
                orjson.dumps(r["row"], option=orjson.OPT_SORT_KEYS)
                for r in await conn.fetch(f"SELECT to_jsonb(t) AS row FROM {table} t")
            )
            for table in projections.tables()
        }


async def test_rebuild_gives_back_the_live_read_models(client, pool, database_url: str) -> None:
    session = await create_user(client, "frank")
    r = await client.post("/channels", json={"name": "Work"}, headers=auth(session))
    channel = r.json()["id"]
    await client.post("/tokens", json={"name": "app", "type": "personal"}, headers=auth(session))
    await client.post(f"/{channel}/folders", json={"name": "Projects"}, headers=auth(session))
    await client.put(f"/channels/{channel}", json={"clientData": {"x": 1}},
                     headers=auth(session))
    live = await _read_models(pool)
    assert all(live[t] for t in ("users", "sessions", "channels", "tokens"))

    done = await run_cli(database_url, "rebuild")
    assert done.returncode == 0, done.stderr
    async with pool.acquire() as conn:
        count = await conn.fetchval("SELECT count(*) FROM event_log")
    assert f"from {count} log records" in done.stdout
    assert await _read_models(pool) == live


async def test_serve_applies_migrations_then_serves_and_stops_on_sigterm(
    database_url: str,
) -> None:
    async with fresh_database(database_url) as url:
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            *_command(), "serve", "--port", str(port), "--workers", "2",
            env=_env(url, ACTIVITY_ADMIN_KEY=OPERATOR_KEY),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                for _ in range(600):  # a hang guard: up to a minute to start
                    if process.returncode is not None:
                        break
                    try:
                        if (await http.get("/ready")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)
                r = await http.get("/ready")
                assert r.status_code == 200
                r = await http.post(
                    "/system/users", json={"userName": "gina", "password": PASSWORD},
                    headers=auth(OPERATOR_KEY),
                )
                assert r.status_code == 201, r.text
            await _connections_reach_every_worker(process.pid, port, workers=2)
        finally:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(60):
                output, _ = await process.communicate()
        assert process.returncode == 0, output.decode(errors="replace")


async def _connections_reach_every_worker(supervisor: int, port: int, workers: int) -> None:
    """Each worker listens on a socket of its own (with one shared listening socket, the first
    worker to wake accepts every connection waiting), and connections opened at once and kept
    open are spread over the workers: by the kernel's hash of their addresses, all sixteen on
    one of two workers has odds of 1 in 32,768."""
    children = psutil.Process(supervisor).children()
    listening = {
        os.readlink(f"/proc/{child.pid}/fd/{c.fd}")  # "socket:[inode]": which socket it is
        for child in children
        for c in child.net_connections("tcp")
        if c.laddr.port == port and c.status == psutil.CONN_LISTEN
    }
    assert len(listening) == workers, listening
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16)) as session:

        async def ask() -> None:
            async with session.get(f"http://127.0.0.1:{port}/ready") as r:
                assert r.status == 200
                await asyncio.sleep(0.5)  # every connection is open at once

        await asyncio.gather(*(ask() for _ in range(16)))
        held = {
            child.pid: sum(1 for c in child.net_connections("tcp")
                           if c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED)
            for child in children
        }
    serving = [count for count in held.values() if count]
    assert len(serving) == workers and sum(serving) == 16, held
