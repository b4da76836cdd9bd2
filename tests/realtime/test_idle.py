"""A process with no subscriber does not read the log; one that subscribes later misses
nothing."""

from __future__ import annotations

import asyncio

import asyncpg

from app.config import Settings
from app.identity.permissions import Access
from app.identity.principal import SESSION, Principal
from app.realtime import filters
from app.realtime.fanout import Fanout
from app.realtime.sink import Sink
from app.store import log as event_log
from tests.support import create_user, make_channel


async def test_an_idle_fanout_skips_to_the_head_and_a_later_subscriber_misses_nothing(
    client, pool: asyncpg.Pool, settings: Settings
) -> None:
    session = await create_user(client, "alice")
    async with pool.acquire() as conn:
        before = await event_log.head(conn)
        user_id = await conn.fetchval("SELECT user_id FROM users WHERE user_name = 'alice'")
    fanout = Fanout(pool, settings.database_url, settings)
    await fanout.start()
    try:
        made = [await make_channel(client, session, f"Idle {n}") for n in range(5)]
        async with pool.acquire() as conn:
            head = await event_log.head(conn)
        for _ in range(200):  # the commits wake the fan-out: it moves to the head
            if fanout.cursor >= head:
                break
            await asyncio.sleep(0.05)
        assert fanout.cursor >= head
        assert fanout.reads == 0, "an idle fan-out read the log"

        # Subscribing from before those changes: the catch-up reads them from the log.
        principal = Principal(user_id=user_id, user_name="alice", admin=False, kind=SESSION,
                              credential_hash="x" * 64, access=Access(full=True))
        sink = Sink(principal, limit=100)
        fanout.attach(sink)
        sub = fanout.subscribe(sink, filters.parse([], [], None), before,
                               key="stream")
        await fanout.catch_up(sub)
        got = [change for _sub, change in await sink.take()]
        created = [c.channel_id for c in got if c.record.type == "channel.created"]
        assert created == made
        fanout.detach(sink)
    finally:
        await fanout.stop()
