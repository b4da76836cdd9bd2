"""The realtime fan-out scenario (issue 5): many subscribers, a steady writer, commit to
subscriber latency and deliveries per second.

`scenario(ctx)` runs against the bench's server (`--workers N`: the subscribers spread over the
workers, so most deliveries cross processes through the NOTIFY wake-up). The clients live in a
process of their own (`python -m bench.fanout`, a JSON spec on stdin, one `RESULT` line on
stdout), like the HTTP load generator, so that their work is not the orchestrator's:
- `sse` EventSource streams and `ws` WebSockets, all subscribed to one channel;
- one writer creating a mark event in that channel over HTTP every `1/rate` seconds (an open
  loop: it does not slow down when delivery does), stamping its send time in `clientData`.

Latency of a delivery: when the subscriber has parsed the message, minus when the writer got
the 201 for that event. The commit happens between the request's send and its answer, so the
figure slightly understates commit-to-subscriber (a delivery can even beat the answer: a
negative sample); the same from the send time, which overstates it, is in the details. Both
clocks are the one machine's `time.time()`.
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

from bench.env import ROOT
from bench.load import percentile

OPENING_AT_ONCE = 200  # streams opened concurrently: a connect storm is not the scenario
STRAGGLERS = 15.0  # seconds to wait for the last deliveries after the last write


# Writer rates: 5 events/s (10,000 deliveries/s) is within what two workers deliver on two
# cores beside the load generator, so its latency is the delivery's own; 20 events/s (40,000
# deliveries/s) is beyond it: deliveries/s is then the capacity, and latency grows with the
# queue for as long as the run lasts.
STEADY_RATE = 5.0
OVERLOAD_RATE = 20.0


async def scenario(ctx: Any, rate: float = STEADY_RATE, name: str = "fanout") -> dict[str, Any]:
    from bench.scenarios import result

    o = ctx.options
    sse, ws = 1000, 1000
    if o.quick:
        rate = min(rate, STEADY_RATE)
    duration = o.duration
    channel = await ctx.channel(name)
    spec = {
        "url": ctx.server.url,
        "headers": {"Authorization": ctx.session},
        "channel": channel,
        "sse": sse,
        "ws": ws,
        "rate": rate,
        "warmup": 1.0,
        "duration": duration,
    }
    cpu_before = ctx.server.cpu_seconds()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.fanout", cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate(orjson.dumps(spec) + b"\n")
    load = _result(out)
    server_cpu = round(ctx.server.cpu_seconds() - cpu_before, 2)
    if load["opened"]["sse"] < sse or load["opened"]["ws"] < ws:
        raise RuntimeError(f"fanout: only {load['opened']} subscribers opened: "
                           f"{load.get('failures')}")
    return result(
        name,
        f"realtime fan-out: {sse:,} SSE + {ws:,} WebSocket subscribers of one channel, "
        f"a writer creating {rate:g} events/s over HTTP for {duration:g} s",
        load["deliveriesPerSecond"],
        "deliveries/s",
        latency=load["fromAnswer"],
        target={"p99_ms": 15} if rate <= STEADY_RATE else None,
        details={
            "latencyFrom": "the writer's 201 answer (see bench/fanout.py); fromSend: its "
                           "request's send time",
            "fromSend": load["fromSend"],
            "events": load["events"],
            "deliveries": load["deliveries"],
            "expected": load["expected"],
            "missing": load["missing"],
            "duplicates": load["duplicates"],
            "writer": load["writer"],
            "closedEarly": load["closedEarly"],
            "openSeconds": load["openSeconds"],
            "serverCpuSeconds": server_cpu,
            "loadCpuSeconds": load["loadCpuSeconds"],
            "workers": o.workers,
        },
    )


def _result(out: bytes) -> dict[str, Any]:
    for line in out.decode().splitlines():
        if line.startswith("RESULT "):
            return orjson.loads(line[len("RESULT "):])
    raise RuntimeError(f"the fan-out clients gave no result:\n{out.decode()[-2000:]}")


# --- the clients' process ----------------------------------------------------------------------


class Tally:
    """What the subscribers received: per event id, when each delivery was parsed."""

    def __init__(self) -> None:
        self.received: dict[str, list[float]] = {}
        self.per_subscriber: list[dict[str, int]] = []
        self.closed_early = 0
        self.settled = 0  # subscribers opened or failed to open
        self.all_settled = asyncio.Event()
        self.subscribers = 0

    def settle(self) -> None:
        self.settled += 1
        if self.settled >= self.subscribers:
            self.all_settled.set()

    def subscriber(self) -> dict[str, int]:
        seen: dict[str, int] = {}
        self.per_subscriber.append(seen)
        return seen

    def note(self, seen: dict[str, int], payload: bytes | str) -> None:
        now = time.time()
        message = orjson.loads(payload)
        if message.get("type") != "event.created":
            return
        event_id = message["data"]["id"]
        seen[event_id] = seen.get(event_id, 0) + 1
        self.received.setdefault(event_id, []).append(now)


async def _sse(http: aiohttp.ClientSession, spec: dict[str, Any], tally: Tally,
               gate: asyncio.Semaphore, ready: list[Any], failures: list[str]) -> None:
    seen = tally.subscriber()
    try:
        async with gate:
            try:
                resp = await http.get(spec["url"] + "/stream",
                                      params={"channel": spec["channel"]},
                                      headers=spec["headers"])
                if resp.status != 200:
                    failures.append(f"sse {resp.status}")
                    resp.release()
                    return
                await resp.content.readline()  # the opening `retry:`: subscribed
                ready.append(resp)
            finally:
                tally.settle()
        async for line in resp.content:
            if line.startswith(b"data: "):
                tally.note(seen, line[6:])
        tally.closed_early += 1
    except aiohttp.ClientError as exc:
        failures.append(repr(exc))


async def _ws(http: aiohttp.ClientSession, spec: dict[str, Any], tally: Tally,
              gate: asyncio.Semaphore, ready: list[Any], failures: list[str]) -> None:
    seen = tally.subscriber()
    try:
        async with gate:
            try:
                ws = await http.ws_connect(spec["url"] + "/ws", headers=spec["headers"],
                                           heartbeat=None, max_msg_size=0)
                await ws.send_str(orjson.dumps({"op": "subscribe",
                                                "channel": spec["channel"]}).decode())
                answer = orjson.loads((await asyncio.wait_for(ws.receive(), 60)).data)
                if answer.get("op") != "subscribed":
                    failures.append(f"ws {answer}")
                    await ws.close()
                    return
                ready.append(ws)
            finally:
                tally.settle()
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                tally.note(seen, message.data)
        tally.closed_early += 1
    except (aiohttp.ClientError, TimeoutError, TypeError, orjson.JSONDecodeError) as exc:
        failures.append(repr(exc))


async def _writer(http: aiohttp.ClientSession, spec: dict[str, Any], stop_at: float,
                  answers: dict[str, tuple[float, float]], statuses: dict[int, int]) -> None:
    """One event every 1/rate s until stop_at; each request in its own task (open loop)."""
    url = f"{spec['url']}/{spec['channel']}/events"
    headers = {**spec["headers"], "Content-Type": "application/json"}
    interval = 1.0 / spec["rate"]
    pending: set[asyncio.Task[None]] = set()

    async def one(n: int) -> None:
        sent = time.time()
        body = orjson.dumps({"time": sent, "comment": f"fanout {n}",
                             "clientData": {"sentAt": sent}})
        try:
            async with http.post(url, data=body, headers=headers) as resp:
                data = await resp.read()
                status = resp.status
        except aiohttp.ClientError:
            status = 599
        answered = time.time()
        statuses[status] = statuses.get(status, 0) + 1
        if status == 201:
            answers[orjson.loads(data)["id"]] = (sent, answered)

    n = 0
    next_at = time.monotonic()
    while time.monotonic() < stop_at:
        task = asyncio.create_task(one(n))
        pending.add(task)
        task.add_done_callback(pending.discard)
        n += 1
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    if pending:
        await asyncio.gather(*pending)


def _ms(values: list[float]) -> dict[str, float | None]:
    values.sort()
    return {
        f"{name}_ms": None if (v := percentile(values, q)) is None else round(v * 1000, 2)
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
    } | {"max_ms": round(values[-1] * 1000, 2) if values else None}


async def run_clients(spec: dict[str, Any]) -> dict[str, Any]:
    tally = Tally()
    tally.subscribers = spec["sse"] + spec["ws"]
    failures: list[str] = []
    ready: list[Any] = []
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        gate = asyncio.Semaphore(OPENING_AT_ONCE)
        began = time.perf_counter()
        readers = [asyncio.create_task(_sse(http, spec, tally, gate, ready, failures))
                   for _ in range(spec["sse"])]
        readers += [asyncio.create_task(_ws(http, spec, tally, gate, ready, failures))
                    for _ in range(spec["ws"])]
        await tally.all_settled.wait()
        open_seconds = time.perf_counter() - began
        opened = {
            "sse": sum(isinstance(r, aiohttp.ClientResponse) for r in ready),
            "ws": sum(isinstance(r, aiohttp.ClientWebSocketResponse) for r in ready),
        }

        # Warm-up writes (not counted), then the measured ones.
        writer_http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        async with writer_http:
            await _writer(writer_http, spec, time.monotonic() + spec["warmup"], {}, {})
            answers: dict[str, tuple[float, float]] = {}
            statuses: dict[int, int] = {}
            window_start = time.time()
            await _writer(writer_http, spec, time.monotonic() + spec["duration"], answers,
                          statuses)
        expected = len(answers) * len(ready)
        # Wait for the last deliveries (bounded: a lost one must not hang the bench).
        deadline = time.monotonic() + STRAGGLERS
        while time.monotonic() < deadline:
            got = sum(len(tally.received.get(e, ())) for e in answers)
            if got >= expected:
                break
            await asyncio.sleep(0.1)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for holder in ready:
            if isinstance(holder, aiohttp.ClientWebSocketResponse):
                await holder.close()
            else:
                holder.close()

    from_answer: list[float] = []
    from_send: list[float] = []
    last_delivery = window_start
    for event_id, (sent, answered) in answers.items():
        for at in tally.received.get(event_id, ()):
            from_answer.append(at - answered)
            from_send.append(at - sent)
            last_delivery = max(last_delivery, at)
    deliveries = len(from_answer)
    duplicates = sum(max(0, seen.get(e, 0) - 1) for seen in tally.per_subscriber
                     for e in answers)
    window = max(1e-9, last_delivery - window_start)
    writer_latency = sorted(a - s for s, a in answers.values())
    return {
        "opened": opened,
        "failures": failures[:5],
        "openSeconds": round(open_seconds, 2),
        "events": len(answers),
        "writer": {"statuses": {str(k): v for k, v in sorted(statuses.items())},
                   "rate": spec["rate"], **_ms(writer_latency)},
        "expected": expected,
        "deliveries": deliveries,
        "missing": expected - (deliveries - duplicates),
        "duplicates": duplicates,
        "closedEarly": tally.closed_early,
        "deliveriesPerSecond": round(deliveries / window, 1),
        "fromAnswer": _ms(from_answer),
        "fromSend": _ms(from_send),
    }


def main() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    spec = orjson.loads(sys.stdin.readline())
    began = os.times()
    try:
        import uvloop

        result = uvloop.run(run_clients(spec))
    except ImportError:
        result = asyncio.run(run_clients(spec))
    ended = os.times()
    result["loadCpuSeconds"] = round(
        (ended.user - began.user) + (ended.system - began.system), 2
    )
    print("RESULT " + orjson.dumps(result).decode(), flush=True)


if __name__ == "__main__":
    main()
