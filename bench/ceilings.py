"""The ceilings: what the machine does with the same work and none of the server around it.

Each is measured in the same run as the scenario it bounds, on the same PostgreSQL:
- `insert_loop`: N asyncpg connections, each inserting one log-shaped row and committing, in a
  loop (bounds HTTP event creation: every created event is at least one committed row).
- `batch_inserts`: the batch's rows inserted into an events-shaped table, 100 per transaction.
- `read_log`: the whole log read through a cursor in one transaction, doing nothing with it
  (bounds the rebuild, which reads the same cursor and applies every record).
- `bare_app`: a bare Starlette endpoint answering a fixed JSON array (bounds the reads), served
  by `bench/bare_app.py`, the way the server is (app/server_processes.py).
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from typing import Any

import asyncpg
import orjson

from app.store import database as db
from bench.env import Server
from bench.load import summary


async def insert_loop(
    url: str, connections: int, duration: float, row: dict[str, Any], warmup: float = 1.0
) -> dict[str, Any]:
    """`connections` clients, each: INSERT one row (autocommit, so one commit each), repeat."""
    admin = await db.connect(url)
    await admin.execute(
        "CREATE TABLE IF NOT EXISTS bench_ceiling_log (LIKE event_log INCLUDING ALL)"
    )
    await admin.execute("TRUNCATE bench_ceiling_log")
    await admin.close()
    conns = [await db.connect(url) for _ in range(connections)]
    user_id = uuid.uuid4()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    count_from = start + warmup
    stop_at = count_from + duration

    async def client(i: int, conn: asyncpg.Connection) -> None:
        stream = f"bench-{i}"
        version = 0
        insert = await conn.prepare(
            "INSERT INTO bench_ceiling_log (stream_id, version, type, user_id, data, meta) "
            "VALUES ($1, $2, 'event.created', $3, $4, $5)"
        )
        while True:
            sent = time.perf_counter()
            if sent >= stop_at:
                return
            version += 1
            await insert.fetch(stream, version, user_id, row, {"requestId": "bench"})
            done = time.perf_counter()
            if sent >= count_from:
                latencies.append(done - sent)
                statuses[201] = statuses.get(201, 0) + 1

    try:
        await asyncio.gather(*(client(i, c) for i, c in enumerate(conns)))
    finally:
        for conn in conns:
            await conn.close()
    return summary(latencies, statuses, time.perf_counter() - count_from)


EVENT_COLUMNS = (
    "user_id", "channel_id", "event_id", "folder_id", "kind", "time", "duration", "end_time",
    "value", "value_type", "comment", "tags", "client_id", "client_data", "attachments",
    "trashed", "created", "modified",
)


def event_rows(events: list[dict[str, Any]], user_id: uuid.UUID, channel: str) -> list[tuple]:
    """The rows the events read model would hold for these API events (marks, as sent)."""
    now = time.time()
    rows = []
    for i, event in enumerate(events):
        value = event.get("value")
        rows.append((
            user_id, channel, f"ceiling{i}", event.get("folderId"), "mark", event["time"], None,
            event["time"], value, value["type"] if value else None, event.get("comment"),
            event.get("tags", []), event["clientId"], {}, {}, False, now, now,
        ))
    return rows


async def batch_inserts(url: str, rows: list[tuple], batch: int = 100) -> dict[str, Any]:
    """The rows inserted `batch` per transaction over one connection (as one request has)."""
    conn = await db.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_ceiling_events (LIKE events INCLUDING ALL)"
        )
        await conn.execute("TRUNCATE bench_ceiling_events")
        columns = ", ".join(EVENT_COLUMNS)
        params = ", ".join(f"${i + 1}" for i in range(len(EVENT_COLUMNS)))
        sql = f"INSERT INTO bench_ceiling_events ({columns}) VALUES ({params})"
        began = time.perf_counter()
        for i in range(0, len(rows), batch):
            async with conn.transaction():
                await conn.executemany(sql, rows[i : i + batch])
        took = time.perf_counter() - began
    finally:
        await conn.close()
    return {"rows": len(rows), "seconds": round(took, 3), "rate": round(len(rows) / took, 1)}


async def read_log(url: str, prefetch: int = 2000) -> dict[str, Any]:
    """Every log record through the rebuild's cursor, in one transaction, doing nothing."""
    from app.store.log import _COLUMNS

    conn = await db.connect(url)
    count = 0
    try:
        began = time.perf_counter()
        async with conn.transaction():
            async for _row in conn.cursor(
                f"SELECT {_COLUMNS} FROM event_log ORDER BY position", prefetch=prefetch
            ):
                count += 1
        took = time.perf_counter() - began
    finally:
        await conn.close()
    return {"records": count, "seconds": round(took, 3), "rate": round(count / took, 1)}


def bare_app_server(body: bytes, workers: int) -> Server:
    """`bench/bare_app.py` served as the server is (its workers, one socket each), answering
    `body`."""
    import tempfile

    with tempfile.NamedTemporaryFile(prefix="bench-bare-", suffix=".json", delete=False) as f:
        f.write(body)
    return Server(
        argv=[
            sys.executable, "-m", "bench.bare_app", "--workers", str(workers),
        ],
        env={"BENCH_BARE_BODY": f.name},
    )


def json_size(value: Any) -> int:
    return len(orjson.dumps(value))
