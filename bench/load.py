"""The load generator: its own process (`python -m bench.load`), driven by a JSON spec on stdin.

Closed loop: `concurrency` clients each send a request, wait for the whole answer, and send the
next, until `duration` seconds have passed; the first `warmup` seconds are not counted. The
result (counts, rate, latency percentiles, this process's CPU time) is one JSON line on stdout.

Workloads:
- `get`: GET `path` with `headers`.
- `create_events`: POST `path` with a new mark event each time (client i uses `clients[i]`).
- `idle_subscribers`: opens `sse` EventSource streams and `ws` WebSockets, prints a `READY`
  line once every one is open, and holds them until a line arrives on stdin.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from typing import Any

import aiohttp
import orjson


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def summary(latencies: list[float], statuses: dict[int, int], elapsed: float) -> dict[str, Any]:
    latencies.sort()
    ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    ms = [x * 1000 for x in latencies]
    return {
        "requests": len(latencies),
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": round(elapsed, 3),
        "rate": round(ok / elapsed, 1) if elapsed else 0.0,
        "p50_ms": _round(percentile(ms, 0.50)),
        "p90_ms": _round(percentile(ms, 0.90)),
        "p99_ms": _round(percentile(ms, 0.99)),
        "max_ms": _round(ms[-1] if ms else None),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _body_factory(spec: dict[str, Any]) -> Any:
    if spec["workload"] == "create_events":
        counter = iter(range(10**12))

        def body() -> bytes:
            return orjson.dumps({
                "time": time.time(),
                "comment": f"bench event {next(counter)}",
                "tags": ["bench"],
                "value": {"type": "count:generic", "value": 1},
            })

        return body
    return None


async def closed_loop(spec: dict[str, Any]) -> dict[str, Any]:
    clients: list[dict[str, Any]] = spec["clients"]
    concurrency: int = spec["concurrency"]
    duration: float = spec["duration"]
    warmup: float = spec.get("warmup", 1.0)
    method = "POST" if spec["workload"] == "create_events" else "GET"
    make_body = _body_factory(spec)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    count_from = start + warmup
    stop_at = count_from + duration
    errors: list[str] = []

    async def client(i: int, session: aiohttp.ClientSession) -> None:
        target = clients[i % len(clients)]
        url = spec["url"] + target["path"]
        headers = {**target.get("headers", {})}
        if make_body is not None:
            headers["Content-Type"] = "application/json"
        while True:
            sent = time.perf_counter()
            if sent >= stop_at:
                return
            data = make_body() if make_body is not None else None
            try:
                async with session.request(method, url, data=data, headers=headers) as resp:
                    await resp.read()
                    status = resp.status
            except aiohttp.ClientError as exc:
                status = 599
                if len(errors) < 5:
                    errors.append(repr(exc))
            done = time.perf_counter()
            if sent >= count_from:
                latencies.append(done - sent)
                statuses[status] = statuses.get(status, 0) + 1

    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(i, session) for i in range(concurrency)))
    result = summary(latencies, statuses, time.perf_counter() - count_from)
    if errors:
        result["errors"] = errors
    return result


async def idle_subscribers(spec: dict[str, Any]) -> dict[str, Any]:
    """Opens the subscriptions, reports READY, holds them until told to stop on stdin."""
    base = spec["url"]
    headers = spec["headers"]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    opened = {"sse": 0, "ws": 0}
    failed: list[str] = []
    holders: list[Any] = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        gate = asyncio.Semaphore(200)  # open in waves: a connect storm is not the scenario

        async def open_sse() -> None:
            async with gate:
                try:
                    resp = await session.get(base + spec.get("ssePath", "/stream"),
                                             headers=headers)
                    if resp.status != 200:
                        failed.append(f"sse {resp.status}")
                        resp.release()
                        return
                    holders.append(resp)
                    opened["sse"] += 1
                except aiohttp.ClientError as exc:
                    failed.append(repr(exc))

        async def open_ws() -> None:
            async with gate:
                try:
                    ws = await session.ws_connect(base + "/ws", headers=headers, heartbeat=None)
                    await ws.send_bytes(orjson.dumps({"op": "subscribe"}))
                    await asyncio.wait_for(ws.receive(), 30)
                    holders.append(ws)
                    opened["ws"] += 1
                except (aiohttp.ClientError, TimeoutError) as exc:
                    failed.append(repr(exc))

        began = time.perf_counter()
        # One phase per transport: the orchestrator measures the server between phases.
        for phase in spec.get("phases") or [{"sse": spec.get("sse", 0), "ws": spec.get("ws", 0)}]:
            await asyncio.gather(
                *(open_sse() for _ in range(phase.get("sse", 0))),
                *(open_ws() for _ in range(phase.get("ws", 0))),
            )
            print("READY " + orjson.dumps({**opened, "failed": len(failed)}).decode(), flush=True)
            # Hold every subscription open (reading nothing) until the orchestrator says go on.
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        took = time.perf_counter() - began
        for holder in holders:
            if isinstance(holder, aiohttp.ClientWebSocketResponse):
                await holder.close()
            else:
                holder.close()
    return {"opened": opened, "failed": len(failed), "failures": failed[:5],
            "openSeconds": round(took, 2)}


def main() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    spec = orjson.loads(sys.stdin.readline())
    began = os.times()
    runner = idle_subscribers if spec["workload"] == "idle_subscribers" else closed_loop
    try:
        import uvloop

        result = uvloop.run(runner(spec))
    except ImportError:
        result = asyncio.run(runner(spec))
    ended = os.times()
    result["loadCpuSeconds"] = round(
        (ended.user - began.user) + (ended.system - began.system), 2
    )
    print("RESULT " + orjson.dumps(result).decode(), flush=True)


if __name__ == "__main__":
    main()
