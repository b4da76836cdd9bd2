"""The scenarios of issue 7, each measured beside its ceiling in the same run.

Every function takes the run's `Context` and returns one result (see `result`). Order matters:
`seed_and_rebuild` fills the channel that `latest_events` reads, with the server stopped so
its realtime follower does not chew through the million new records during other scenarios.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from typing import Any

import orjson

from app.store import database as db
from bench import ceilings
from bench.env import ROOT

SEED_CHUNK = 100_000


def result(
    scenario: str,
    title: str,
    value: float | None,
    unit: str,
    *,
    ceiling: dict[str, Any] | None = None,
    latency: dict[str, Any] | None = None,
    target: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ratio = None
    if ceiling and ceiling.get("value") and value is not None:
        ratio = round(value / ceiling["value"], 3)
    met = None
    if target:
        checks = []
        if "ratio" in target:
            checks.append(ratio is not None and ratio >= target["ratio"])
        if "p99_ms" in target:
            p99 = (latency or {}).get("p99_ms")
            checks.append(p99 is not None and p99 < target["p99_ms"])
        met = all(checks)
    return {
        "scenario": scenario,
        "title": title,
        "figure": {"value": value, "unit": unit},
        "latency": latency,
        "ceiling": ceiling,
        "ratio": ratio,
        "target": target,
        "met": met,
        "details": details or {},
    }


def _latency(load: dict[str, Any]) -> dict[str, Any]:
    return {k: load.get(k) for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")}


def _ok_only(load: dict[str, Any], what: str) -> None:
    bad = {s: n for s, n in load["statuses"].items() if not s.startswith("2")}
    if bad:
        raise RuntimeError(f"{what}: non-2xx answers {bad} {load.get('errors', '')}")


# --- the channel holding 1M events, and the rebuild -------------------------------------------


async def seed_and_rebuild(ctx: Any) -> dict[str, Any]:
    """Appends `log_records` `event.created` records to one channel's stream by SQL (a template
    taken from an event created over HTTP), then times `rebuild` of the whole log; the ceiling
    reads the same log through the same cursor, doing nothing."""
    n = ctx.options.log_records
    channel = await ctx.channel("big", enforceNoEventsOverlap=False)
    async with ctx.http() as client:
        r = await client.post(f"/{channel}/events", json={"time": time.time(), "comment": "x",
                                                           "tags": ["bench"]},
                              headers={"Authorization": ctx.session})
        if r.status_code != 201:
            raise RuntimeError(f"cannot create an event: {r.status_code} {r.text}")
    ctx.big_channel = channel
    ctx.stop_server()
    seeded = await _seed(ctx.database_url, n - 1)
    from projections.rebuild import rebuild

    conn = await db.connect(ctx.database_url)
    try:
        profiler = _pyinstrument() if ctx.options.profile else None
        began = time.perf_counter()
        if profiler:
            profiler.start()
        count = await rebuild(conn)
        took = time.perf_counter() - began
        if profiler:
            profiler.stop()
            path = ROOT / "bench" / "results" / "profile-rebuild.txt"
            path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    ceiling = await ceilings.read_log(ctx.database_url)
    ctx.start_server()
    return result(
        "rebuild",
        f"rebuild of a {count:,}-record log",
        round(count / took, 1),
        "records/s",
        ceiling={"what": "reading the log with the rebuild's cursor, doing nothing",
                 "value": ceiling["rate"], "unit": "records/s", "seconds": ceiling["seconds"]},
        target={"ratio": 0.5},
        details={"records": count, "seconds": round(took, 2), "seeded": seeded,
                 "seeding": "event.created records appended to the log by SQL (a template "
                            "from one event created over HTTP), then `rebuild`"},
    )


def _pyinstrument() -> Any:
    from pyinstrument import Profiler

    return Profiler(async_mode="enabled")


async def _seed(url: str, count: int) -> dict[str, Any]:
    conn = await db.connect(url)
    try:
        template = await conn.fetchrow(
            "SELECT stream_id, version, user_id, data, meta FROM event_log "
            "WHERE type = 'event.created' ORDER BY position DESC LIMIT 1"
        )
        data = template["data"]
        event = data["event"]
        time_keys = [k for k, v in event.items() if v == event["time"] and k != "id"]
        expression = "$4::jsonb"
        expression = f"jsonb_set({expression}, '{{event,id}}', to_jsonb('seed' || g))"
        for key in time_keys:
            expression = f"jsonb_set({expression}, '{{event,{key}}}', to_jsonb($5::float8 + g))"
        t0 = time.time() - count - 10
        began = time.perf_counter()
        for start in range(0, count, SEED_CHUNK):
            size = min(SEED_CHUNK, count - start)
            await conn.execute(
                f"""INSERT INTO event_log (stream_id, version, type, user_id, data, meta)
                    SELECT $1, $2 + g, 'event.created', $3, {expression}, $6
                    FROM generate_series($7::int, $8::int) g""",
                template["stream_id"], template["version"], template["user_id"], data,
                t0, template["meta"], start + 1, start + size,
            )
        took = time.perf_counter() - began
    finally:
        await conn.close()
    return {"records": count, "seconds": round(took, 2), "timeKeys": time_keys}


# --- reads: the latest 20 events of the big channel ------------------------------------------


async def latest_events(ctx: Any) -> dict[str, Any]:
    o = ctx.options
    path = f"/{ctx.big_channel}/events"
    async with ctx.http() as client:
        r = await client.get(path, headers={"Authorization": ctx.session})
        r.raise_for_status()
        body = r.content
        shown = len(r.json())
    spec = {"workload": "get", "concurrency": o.clients, "duration": o.duration, "warmup": 2,
            "clients": [{"path": path, "headers": {"Authorization": ctx.session}}]}
    load = await ctx.load(spec, profile_as="latest-events")
    _ok_only(load, "latest events")
    bare = ceilings.bare_app_server(body, o.workers).start()
    try:
        ctx_server, ctx.server = ctx.server, bare
        ceiling = await ctx.load({**spec, "clients": [{"path": "/bare"}]})
    finally:
        ctx.server = ctx_server
        bare.stop()
    return result(
        "latest_events",
        f"latest 20 events of a channel holding {o.log_records:,} events "
        f"({o.clients} clients, {o.duration:g} s)",
        load["rate"],
        "requests/s",
        latency=_latency(load),
        ceiling={"what": "bare Starlette endpoint answering the same JSON array (bench/bare_app.py "
                         "served as the server is)",
                 "value": ceiling["rate"], "unit": "requests/s", "latency": _latency(ceiling)},
        target={"ratio": 0.5},
        details={"events": shown, "bytes": len(body), "load": load, "ceilingLoad": ceiling},
    )


# --- writes: events over HTTP ------------------------------------------------------------------


async def create_events(ctx: Any) -> dict[str, Any]:
    o = ctx.options
    channels = [await ctx.channel(f"http-{i}") for i in range(o.clients)]
    spec = {
        "workload": "create_events", "concurrency": o.clients, "duration": o.duration,
        "warmup": 2,
        "clients": [{"path": f"/{c}/events", "headers": {"Authorization": ctx.session}}
                    for c in channels],
    }
    load = await ctx.load(spec, profile_as="create-events")
    _ok_only(load, "create events")
    conn = await db.connect(ctx.database_url)
    try:
        row = await conn.fetchval(
            "SELECT data FROM event_log WHERE type = 'event.created' "
            "ORDER BY position DESC LIMIT 1"
        )
    finally:
        await conn.close()
    ceiling = await ceilings.insert_loop(ctx.database_url, o.clients, o.duration, row)
    return result(
        "create_events",
        f"create events over HTTP ({o.clients} clients, one channel each, {o.duration:g} s)",
        load["rate"],
        "events/s",
        latency=_latency(load),
        ceiling={"what": f"{o.clients} asyncpg connections inserting one log-shaped row and "
                         "committing, in a loop",
                 "value": ceiling["rate"], "unit": "rows/s", "latency": _latency(ceiling)},
        target={"ratio": 0.5, "p99_ms": 25},
        details={"load": load},
    )


# --- batch ------------------------------------------------------------------------------------


async def batch(ctx: Any) -> dict[str, Any]:
    n = ctx.options.batch_events
    channel = await ctx.channel("batch", enforceNoEventsOverlap=False)
    t0 = time.time() - 10 * n
    events = [
        {"clientId": f"c{i}", "time": t0 + 10 * i, "comment": f"batch event {i}",
         "tags": ["bench"], "value": {"type": "count:generic", "value": i}}
        for i in range(n)
    ]
    body = orjson.dumps({"events": events})
    headers = {"Authorization": ctx.session, "Content-Type": "application/json",
               "Prefer": "wait=3600"}
    async with ctx.http() as client:
        began = time.perf_counter()
        r = await client.post(f"/{channel}/events/batch", content=body, headers=headers)
        if r.status_code == 202:
            r = await _wait_activity(client, r, ctx.session)
        took = time.perf_counter() - began
        if r.status_code != 200:
            raise RuntimeError(f"batch failed: {r.status_code} {r.text[:500]}")
    conn = await db.connect(ctx.database_url)
    try:
        user_id = await conn.fetchval("SELECT user_id FROM users WHERE user_name = 'bench'")
    finally:
        await conn.close()
    rows = ceilings.event_rows(events, user_id or uuid.uuid4(), channel)
    ceiling = await ceilings.batch_inserts(ctx.database_url, rows)
    return result(
        "batch",
        f"batch of {n:,} events (one request)",
        round(n / took, 1),
        "events/s",
        ceiling={"what": "asyncpg inserting the same rows into an events-shaped table, "
                         "100 per transaction",
                 "value": ceiling["rate"], "unit": "rows/s", "seconds": ceiling["seconds"]},
        target={"ratio": 0.6},
        details={"seconds": round(took, 2), "bytes": len(body)},
    )


async def _wait_activity(client: Any, response: Any, session: str) -> Any:
    location = response.headers["location"]
    while True:
        await asyncio.sleep(0.2)
        r = await client.get(location, headers={"Authorization": session})
        activity = r.json()
        if activity.get("state") in ("completed", "failed", "cancelled"):
            status = 200 if activity["state"] == "completed" else 500
            return type(r)(status, json=activity)


# --- realtime -------------------------------------------------------------------------------


async def fanout(ctx: Any) -> dict[str, Any]:
    """Commit to subscriber at a writer rate the server keeps up with (`bench/fanout.py`)."""
    from bench import fanout as realtime_fanout

    return await realtime_fanout.scenario(ctx)


async def fanout_overload(ctx: Any) -> dict[str, Any]:
    """The same beyond what the machine delivers: its deliveries/s is the capacity."""
    from bench import fanout as realtime_fanout

    return await realtime_fanout.scenario(
        ctx, realtime_fanout.OVERLOAD_RATE, name="fanout_overload"
    )


async def idle_subscribers(ctx: Any) -> dict[str, Any]:
    """Server RSS per idle subscriber: first EventSource streams, then as many WebSockets,
    the server's memory measured after each phase (every process: supervisor and workers)."""
    n = ctx.options.idle_subscribers
    sse, ws = n // 2, n - n // 2
    server = ctx.server
    await asyncio.sleep(1)
    rss = [server.rss()]
    spec = {"url": server.url, "workload": "idle_subscribers",
            "phases": [{"sse": sse}, {"ws": ws}], "headers": {"Authorization": ctx.session}}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.load", cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(orjson.dumps(spec) + b"\n")
    await proc.stdin.drain()
    ready: dict[str, Any] = {}
    for _phase in spec["phases"]:
        line = await asyncio.wait_for(proc.stdout.readline(), 600)
        if not line.startswith(b"READY "):
            raise RuntimeError(f"idle subscribers: {line!r}")
        ready = orjson.loads(line[6:])
        await asyncio.sleep(3)
        rss.append(server.rss())
        proc.stdin.write(b"next\n")
        await proc.stdin.drain()
    out = await proc.stdout.read()
    await proc.wait()
    load = {}
    for line in out.decode().splitlines():
        if line.startswith("RESULT "):
            load = orjson.loads(line[7:])
    opened = ready["sse"] + ready["ws"]
    if ready["failed"] or opened < n:
        raise RuntimeError(f"idle subscribers: only {ready} opened: {load.get('failures')}")
    kib = 1024
    return result(
        "idle_subscribers",
        f"{n:,} idle subscribers ({sse:,} SSE + {ws:,} WebSocket)",
        round((rss[2] - rss[0]) / opened / kib, 1),
        "KiB RSS/subscriber",
        details={"sseKiB": round((rss[1] - rss[0]) / sse / kib, 1),
                 "wsKiB": round((rss[2] - rss[1]) / ws / kib, 1),
                 "rssMiB": [round(x / 2**20, 1) for x in rss], "opened": ready, "load": load},
    )


SCENARIOS = {
    "rebuild": seed_and_rebuild,
    "latest_events": latest_events,
    "create_events": create_events,
    "batch": batch,
    "fanout": fanout,
    "fanout_overload": fanout_overload,
    "idle_subscribers": idle_subscribers,
}
