"""The fan-out: one listener per process follows the log and hands each change to the local
subscribers whose filter and permissions match.

Following the log: the `(tx_id, position)` cursor of `app.store.log.read_after`, which never skips a
record that commits late. The listener reads when woken (a commit of this process, a NOTIFY
from another one) and at least every `stream_poll_seconds`. Wakes that arrive while it reads
are coalesced into one more read. A record known to be committed but not yet readable (an
older transaction is still open, so the cursor may not pass it yet) is retried shortly.

A process with no connection does not read at all: it moves its position to the log's head.

Per batch of records: at most two queries (folder paths, channel rows; see `lookup`), then the
dispatch, which is synchronous: no subscriber ever causes a query or makes the listener wait.

Resuming (`since`): a subscription is registered first, at the `fence` (the newest record the
listener has read). It then reads what it missed, `(since, fence]`, from the log itself while
the live changes after the fence wait in its `held` list; when the catch-up is done, the held
changes follow. A change is given to a subscription only if it is newer than the last one it
was given, so there is neither a gap nor a duplicate at the hand-over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterator
from uuid import UUID

import asyncpg

from app.background import BackgroundTask
from app.config import Settings
from app.domain.activities import RECORD_PREFIX
from app.identity import activity_visibility as visibility
from app.identity.permissions import Access
from app.realtime import filters, lookup
from app.realtime.filters import Filter
from app.realtime.messages import ACTIVITY, CONTROL_TYPES, Change
from app.realtime.session_expiry import SessionExpiry
from app.realtime.sink import (
    CREDENTIAL_GONE,
    SESSION_ENDED,
    SHUTTING_DOWN,
    TOKEN_REVOKED,
    TOO_SLOW,
    Closing,
    Sink,
    SinkClosed,
    Subscription,
)
from app.realtime.wakeup import CrossProcessWakeup
from app.store import log as event_log
from app.store import transaction
from app.store.log import Cursor, LogRecord

logger = logging.getLogger(__name__)

BATCH = 500
# Records known to be committed but hidden behind an older open transaction (of any database
# of the cluster: transaction ids are the cluster's) are looked for again at most this long
# after: backing off to the slow poll would add up to a poll interval after the transaction
# ends. One cheap indexed query per look.
HIDDEN_RETRY_MAX = 0.1
LOG_UNREADABLE = Closing(
    "SERVICE_UNAVAILABLE", "The log could not be read; reconnect and resume", 1011
)


class Fanout:
    def __init__(self, pool: asyncpg.Pool, database_url: str, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        self.cursor = event_log.START  # every record up to here has been dispatched
        self._fence = event_log.START  # every record up to here has been read (>= cursor)
        self._target_tx = 0  # newest transaction known to have committed records
        self._wake = asyncio.Event()
        self._task = BackgroundTask("realtime-fanout")
        self._sinks: dict[UUID, set[Sink]] = {}
        self._subs: dict[UUID, set[Subscription]] = {}
        self._all_activities: set[Subscription] = set()
        self._path_users: Counter[UUID] = Counter()
        self._wakeup = CrossProcessWakeup(
            database_url, self._note_commit, notify=settings.stream_notify
        )
        self._expiry = SessionExpiry(pool, settings, self.sinks)
        self.reads = 0  # log reads done by the listener (the bench reports them)

    # -- life ------------------------------------------------------------------------------

    async def start(self) -> None:
        async with self.pool.acquire() as conn:
            self.cursor = self._fence = await event_log.head(conn)
        transaction.on_commit(self.pool, self._on_local_commit)
        self._wakeup.start()
        self._task.start(self._follow())
        self._expiry.start()

    async def stop(self) -> None:
        """Closes every connection (they end their responses at once), then stops following."""
        transaction.remove_commit_listener(self.pool, self._on_local_commit)
        for sinks in list(self._sinks.values()):
            for sink in list(sinks):
                sink.close(SHUTTING_DOWN)
        await self._expiry.stop()
        await self._task.stop()
        await self._wakeup.stop()

    @property
    def connections(self) -> int:
        return sum(len(s) for s in self._sinks.values())

    def sinks(self) -> Iterator[Sink]:
        for sinks in self._sinks.values():
            yield from sinks

    # -- registry --------------------------------------------------------------------------

    def attach(self, sink: Sink) -> None:
        """From now on, records about the sink's credential (revocation, new grants) reach it."""
        self._sinks.setdefault(sink.principal.user_id, set()).add(sink)
        self._expiry.watch(sink)

    def detach(self, sink: Sink) -> None:
        for sub in list(sink.subscriptions.values()):
            self.unsubscribe(sub)
        sinks = self._sinks.get(sink.principal.user_id)
        if sinks is not None:
            sinks.discard(sink)
            if not sinks:
                del self._sinks[sink.principal.user_id]

    async def now(self) -> Cursor:
        """Where a subscription without `since` starts: the log's head as the database has it
        now. The fan-out's own position may lag a commit by a few milliseconds; starting there
        would send a change that was answered before the subscription was made."""
        async with self.pool.acquire() as conn:
            return await event_log.head(conn)

    def subscribe(
        self, sink: Sink, filt: Filter, since: Cursor | None, key: str
    ) -> Subscription:
        """Registers a subscription; if `since` is older than the fence, `catch_up` must run."""
        fence = self._fence
        catching_up = since is not None and since < fence
        sub = Subscription(
            sink=sink,
            filter=filt,
            key=key,
            last=since if since is not None else fence,
            until=fence,
            held=[] if catching_up else None,
            needs_paths=filters.needs_paths(sink.principal, filt),
            admin_all=filt.activities == filters.ALL
            and visibility.sees_everyones(sink.principal),
        )
        user_id = sink.principal.user_id
        self._subs.setdefault(user_id, set()).add(sub)
        if sub.admin_all:
            self._all_activities.add(sub)
        if sub.needs_paths:
            self._path_users[user_id] += 1
        sink.subscriptions[key] = sub
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        user_id = sub.sink.principal.user_id
        if sub.sink.subscriptions.get(sub.key) is sub:
            del sub.sink.subscriptions[sub.key]
        subs = self._subs.get(user_id)
        if subs is None or sub not in subs:
            return
        subs.discard(sub)
        if not subs:
            del self._subs[user_id]
        self._all_activities.discard(sub)
        if sub.needs_paths:
            self._path_users[user_id] -= 1
            if self._path_users[user_id] <= 0:
                del self._path_users[user_id]

    # -- catch-up --------------------------------------------------------------------------

    async def catch_up(self, sub: Subscription) -> None:
        """Sends what the subscription missed, `(since, until]`, then switches it to live."""
        if sub.held is None:
            return
        sink = sub.sink
        user_id = sink.principal.user_id
        after = sub.last
        try:
            while after < sub.until:
                async with self.pool.acquire() as conn:
                    records = await event_log.read_after(conn, after, BATCH)
                    if not records:
                        break
                    after = records[-1].cursor
                    mine = [
                        r
                        for r in records
                        if r.cursor <= sub.until
                        and (r.user_id == user_id or (sub.admin_all and r.type.startswith(
                            RECORD_PREFIX)))
                    ]
                    changes = await lookup.prepare_batch(
                        conn, mine, lambda _record: sub.needs_paths
                    )
                for change in changes:
                    if change.kind is not None and change.cursor > sub.last and sub.wants(change):
                        await sink.put((sub, change))
                        sub.last = change.cursor
                if len(records) < BATCH:
                    break
        except SinkClosed:
            return
        except Exception:
            logger.exception("catch-up from the log failed")
            sink.close(LOG_UNREADABLE)
            return
        # The hand-over: synchronous from here on, so no live change can slip in between.
        held, sub.held = sub.held, None
        if sub.until > sub.last:
            sub.last = sub.until
        for change in held:
            self._deliver(sub, change)

    # -- following the log -----------------------------------------------------------------

    def _on_local_commit(self, records: list[LogRecord]) -> None:
        tx_id = max(r.tx_id for r in records)
        self._note_commit(tx_id)
        self._wakeup.announce(tx_id)

    def _note_commit(self, tx_id: int) -> None:
        if tx_id > self._target_tx:
            self._target_tx = tx_id
        self._wake.set()

    async def _follow(self) -> None:
        poll = max(0.01, self.settings.stream_poll_seconds)
        retry: float | None = None  # a shorter wait: committed records are not readable yet
        failures = 0
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(retry if retry is not None else poll):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._drain()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                logger.warning("realtime fan-out could not read the log (%s)", type(exc).__name__)
                await asyncio.sleep(min(poll, 0.1 * 2**min(failures, 6)))
                continue
            hidden = self.cursor.tx_id < self._target_tx
            retry = min(poll, HIDDEN_RETRY_MAX, (retry or 0.001) * 2) if hidden else None

    async def _drain(self) -> None:
        while True:
            async with self.pool.acquire() as conn:
                if not self._sinks and await self._skip_to_head(conn):
                    return
                records = await event_log.read_after(conn, self.cursor, BATCH)
                self.reads += 1
                if not records:
                    return
                if records[-1].cursor > self._fence:
                    self._fence = records[-1].cursor
                changes = await lookup.prepare_batch(conn, records, self._wants_path)
            self._dispatch(changes)
            if len(records) < BATCH:
                return

    async def _skip_to_head(self, conn: asyncpg.Connection) -> bool:
        """With no connection here, moves past what was committed without reading it: a batch
        of 100,000 events would otherwise be read and decoded by every idle process (measured:
        as much of PostgreSQL's time as inserting the events). False when a connection came
        while the head was asked for: then the records are read as usual.

        A subscription made later loses nothing: it starts at the log's head, or catches up
        from the log itself up to the fence."""
        head = await event_log.head(conn)
        if self._sinks:
            return False
        self._fence = max(self._fence, head)
        self.cursor = max(self.cursor, head)
        return True

    def _wants_path(self, record: LogRecord) -> bool:
        return record.user_id is not None and self._path_users.get(record.user_id, 0) > 0

    # -- dispatch --------------------------------------------------------------------------

    def _dispatch(self, changes: list[Change]) -> None:
        for change in changes:
            record = change.record
            if record.type in CONTROL_TYPES:
                self._control(record)
            if change.kind is None:
                continue
            user_id = record.user_id
            subs = self._subs.get(user_id) if user_id is not None else None
            if subs:
                for sub in tuple(subs):
                    self._deliver(sub, change)
            if change.kind == ACTIVITY and self._all_activities:
                for sub in tuple(self._all_activities):
                    if sub.sink.principal.user_id != user_id:
                        self._deliver(sub, change)
        if changes:
            self.cursor = changes[-1].cursor

    def _deliver(self, sub: Subscription, change: Change) -> None:
        if change.cursor <= sub.last or sub.sink.closed or not sub.wants(change):
            return
        if sub.held is not None:
            if change.cursor > sub.until:
                if len(sub.held) >= sub.sink.limit:
                    sub.sink.close(TOO_SLOW)
                else:
                    sub.held.append(change)
            return
        sub.last = change.cursor
        sub.sink.offer((sub, change))

    def _control(self, record: LogRecord) -> None:
        """Acts on records that change what a credential may receive."""
        sinks = self._sinks.get(record.user_id) if record.user_id is not None else None
        if not sinks:
            return
        d = record.data
        for sink in tuple(sinks):
            principal = sink.principal
            if record.type == "session.ended":
                if principal.credential_hash == d.get("sessionHash"):
                    sink.close(SESSION_ENDED)
            elif record.type == "user.password_changed":
                # Every session of the user ends with the old password but the one changing it.
                kept = d.get("keptSession")
                if kept is not None and principal.is_session and principal.credential_hash != kept:
                    sink.close(SESSION_ENDED)
            elif principal.token_id is None or principal.token_id != d.get("tokenId"):
                continue
            elif record.type == "token.revoked":
                sink.close(TOKEN_REVOKED)
            elif "permissions" in d and not sink.access.full:
                try:
                    sink.access = Access.from_permissions(d["permissions"])
                    sink.access_version += 1
                except (KeyError, TypeError, AttributeError):
                    sink.close(CREDENTIAL_GONE)
