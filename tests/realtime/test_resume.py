"""Resuming: a subscriber that disconnects and comes back with its last id gets every change
after it, then the live ones, with no gap and no duplicate."""

from __future__ import annotations

import asyncio
import json
import random

from tests.realtime.clients import SseStream, ws_connect, ws_json, ws_subscribe
from tests.realtime.support import log_ids, update_channel
from tests.support import auth, make_channel

WRITERS = 3
WRITES = 40


async def test_resume_many_times_while_writers_run(rest, server, alice, pool):
    channels = [await make_channel(rest, alice, f"C{i}") for i in range(3)]
    writers_done = asyncio.Event()
    final: list[str] = []

    def finished(received: list[str]) -> bool:
        return writers_done.is_set() and bool(received) and received[-1] == final[0]

    async def writer(index: int) -> None:
        rng = random.Random(index)
        for n in range(WRITES):
            await update_channel(rest, alice, channels[rng.randrange(3)],
                                 clientData={"writer": index, "n": n})
            await asyncio.sleep(rng.uniform(0, 0.01))

    async def sse_subscriber() -> tuple[list[str], int]:
        rng = random.Random(100)
        received: list[str] = []
        connections = 0
        while not finished(received):
            headers = {**auth(alice), "Last-Event-ID": received[-1] if received else "0.0"}
            connections += 1
            async with SseStream(rest, "/stream", headers=headers) as stream:
                for _ in range(rng.randint(1, 12)):
                    try:
                        frame = await stream.change(within=0.5)
                    except TimeoutError:
                        break  # nothing new at the moment: reconnect (or stop when done)
                    assert frame.event != "close", frame.data
                    received.append(frame.id)
        return received, connections

    async def ws_subscriber() -> tuple[list[str], int]:
        """Alternates between a new socket and a new subscription on the same socket."""
        rng = random.Random(200)
        received: list[str] = []
        connections = 0
        while not finished(received):
            async with await ws_connect(server.ws_url + "/ws", alice) as ws:
                for _ in range(rng.randint(1, 3)):
                    connections += 1
                    key = f"r{connections}"
                    await ws_subscribe(ws, subscription=key,
                                       since=received[-1] if received else "0.0")
                    for _ in range(rng.randint(1, 12)):
                        try:
                            message = await ws_json(ws, within=0.5)
                        except TimeoutError:
                            break
                        assert message.get("subscription") == key, message
                        received.append(message["id"])
                    await ws.send(json.dumps({"op": "unsubscribe", "subscription": key}))
                    while (await ws_json(ws)).get("op") != "unsubscribed":
                        pass  # changes sent before the server read the unsubscribe
                    if finished(received):
                        break
        return received, connections

    async with asyncio.timeout(180):
        subscribers = [asyncio.create_task(sse_subscriber()),
                       asyncio.create_task(ws_subscriber())]
        await asyncio.gather(*(writer(i) for i in range(WRITERS)))
        expected = await log_ids(pool)
        final.append(expected[-1])
        writers_done.set()
        (sse_ids, sse_connections), (ws_ids, ws_connections) = await asyncio.gather(*subscribers)

    assert len(expected) == 3 + WRITERS * WRITES
    assert sse_ids == expected
    assert ws_ids == expected
    assert sse_connections >= 10 and ws_connections >= 10


async def test_last_event_id_header_wins_over_the_query(rest, alice, pool):
    channel_id = await make_channel(rest, alice, "Work")
    await update_channel(rest, alice, channel_id, name="Work 2")
    ids = await log_ids(pool)
    headers = {**auth(alice), "Last-Event-ID": ids[0]}
    async with SseStream(rest, "/stream", headers=headers,
                         params={"lastEventId": "0.0"}) as stream:
        frame = await stream.change()
    assert frame.id == ids[1]


async def test_resuming_from_the_newest_id_skips_up_to_it(rest, server, alice, pool):
    """The log's newest id, which this process's fan-out may not have reached yet (handed out
    by a process further on, say), is honoured: nothing at or below it is sent. An id beyond
    the log's head is refused (tests/security/test_bad_input.py)."""
    channel_id = await make_channel(rest, alice, "Work")
    newest = (await log_ids(pool))[-1]
    async with await ws_connect(server.ws_url + "/ws", alice) as ws:
        await ws_subscribe(ws, subscription="ahead", since=newest)
        await ws_subscribe(ws, subscription="live")
        for n in range(4):
            await update_channel(rest, alice, channel_id, name=f"Work {n}")
        seen: dict[str, list[str]] = {"ahead": [], "live": []}
        while len(seen["live"]) < 4:
            message = await ws_json(ws)
            seen[message["subscription"]].append(message["id"])
        await ws.send(json.dumps({"op": "ping"}))
        while (message := await ws_json(ws)).get("op") != "pong":
            seen[message["subscription"]].append(message["id"])
        expected = (await log_ids(pool))[-4:]
    assert seen == {"ahead": expected, "live": expected}
