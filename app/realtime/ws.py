"""`GET /ws`: the changes over a WebSocket (docs/api.md §7), several subscriptions per socket.

Client messages (JSON objects):
- `{"op": "subscribe", "subscription"?, "channel"?, "folder"?, "activities"?, "since"?}`:
  `subscription` is a name the client chooses (else `s1`, `s2`, ...); `channel` and `folder`
  take an id or a list of ids; `since` is a change id to resume after.
  Answer: `{"op": "subscribed", "subscription", ...the filter}`, then the changes.
- `{"op": "unsubscribe", "subscription"}`: answer `{"op": "unsubscribed", "subscription"}`.
- `{"op": "ping"}`: answer `{"op": "pong"}`.
A change is the §7 message plus the `subscription` it answers to. A bad client message gets
`{"op": "error", "error": {id, message, ...}, "subscription"?}` and the socket stays open.

The server closes the socket after an `{"op": "error"}` message naming why: 4401 when the
credential is missing, revoked or ended, 4408 when the client is too slow (it resumes with
`since`), 1011 when the log cannot be read; a shutdown closes it with 1012.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from starlette.websockets import WebSocket

from app.domain.errors import ApiError, invalid_parameter, invalid_structure
from app.domain.ids import is_identity
from app.domain.validation import Body, parse_json
from app.edge.auth import authenticate
from app.logging_setup import redact_query
from app.realtime import filters
from app.realtime.fanout import Fanout
from app.realtime.sink import Sink, SinkClosed, Subscription, reconfirm, serve
from app.realtime.sse import resume_position
from app.store.database import is_database_unavailable, unavailable

logger = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS = 50
MAX_MESSAGE_CHARS = 64 * 1024
CREDENTIAL_CLOSE = 4401
_SUBSCRIBE_KEYS = {"op", "subscription", "channel", "folder", "activities", "since"}


class _RedactQueries(logging.Filter):
    """uvicorn logs a WebSocket's path with its query string, where `auth` is a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(a, str) and "?" in a for a in record.args
        ):
            record.args = tuple(
                _redact_path(a) if isinstance(a, str) else a for a in record.args
            )
        return True


def _redact_path(value: str) -> str:
    path, sep, query = value.partition("?")
    return path + sep + redact_query(query) if sep else value


logging.getLogger("uvicorn.error").addFilter(_RedactQueries())


async def _send_json(websocket: WebSocket, message: dict[str, Any]) -> None:
    await websocket.send_text(orjson.dumps(message).decode())


async def _refuse(websocket: WebSocket, exc: ApiError, code: int) -> None:
    with contextlib.suppress(Exception):
        await _send_json(websocket, {"op": "error", "error": exc.body()["error"]})
        await websocket.close(code, exc.error_id)


async def endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        principal = await authenticate(websocket)
    except ApiError as exc:
        await _refuse(websocket, exc, CREDENTIAL_CLOSE)
        return
    except Exception as exc:
        if not is_database_unavailable(exc):
            logger.exception("WebSocket authentication failed")
        await _refuse(websocket, unavailable(), 1011)
        return
    fanout: Fanout = websocket.app.state.fanout
    sink = Sink(principal, websocket.app.state.settings.stream_queue_size)
    fanout.attach(sink)
    try:
        try:
            await reconfirm(sink, websocket)
        except ApiError as exc:
            await _refuse(websocket, exc, CREDENTIAL_CLOSE)
            return
        await _Socket(websocket, fanout, sink).run()
    finally:
        fanout.detach(sink)


def _ids(body: Body, key: str) -> list[Any]:
    value = body.data.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return value
    body.fail(key, f"{key!r} must be an id or a list of ids")
    return []


class _Socket:
    def __init__(self, websocket: WebSocket, fanout: Fanout, sink: Sink) -> None:
        self.websocket = websocket
        self.fanout = fanout
        self.sink = sink
        self.catch_ups: dict[str, asyncio.Task[None]] = {}
        self._counter = 0

    async def run(self) -> None:
        try:
            await serve(self.sink, self._read, self._write)
        finally:
            for task in self.catch_ups.values():
                task.cancel()

    # -- writing ---------------------------------------------------------------------------

    async def _write(self) -> None:
        sink = self.sink
        try:
            while True:
                try:
                    items = await sink.take()
                except SinkClosed as closed:
                    closing = closed.closing
                    await _send_json(self.websocket, {"op": "error", "error": closing.error()})
                    await self.websocket.close(closing.ws_code, closing.error_id)
                    return
                for item in items:
                    if isinstance(item, dict):
                        await _send_json(self.websocket, item)
                        continue
                    sub, change = item
                    if sink.subscriptions.get(sub.key) is sub:  # not unsubscribed since
                        await self.websocket.send_text(change.ws_frame(sub.key))
        except Exception:  # the client went away mid-send: nothing left to tell it
            return

    # -- reading ---------------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self._reply_error(invalid_structure("Messages must be JSON text, not binary"))
                continue
            await self._handle(text)

    def _reply_error(self, exc: ApiError, subscription: Any = None) -> None:
        reply: dict[str, Any] = {"op": "error", "error": exc.body()["error"]}
        if is_identity(subscription):
            reply["subscription"] = subscription
        self.sink.offer(reply)

    async def _handle(self, text: str) -> None:
        data: Any = None
        try:
            if len(text) > MAX_MESSAGE_CHARS:
                raise invalid_structure(f"A message may not exceed {MAX_MESSAGE_CHARS} characters")
            data = parse_json(text.encode(), "The message")
            if not isinstance(data, dict):
                raise invalid_structure("The message must be a JSON object")
            op = data.get("op")
            if op == "ping":
                Body(data, allowed={"op"}).done()
                self.sink.offer({"op": "pong"})
            elif op == "subscribe":
                await self._subscribe(data)
            elif op == "unsubscribe":
                self._unsubscribe(data)
            else:
                raise invalid_parameter("op", "op must be subscribe, unsubscribe or ping")
        except ApiError as exc:
            self._reply_error(exc, data.get("subscription") if isinstance(data, dict) else None)
        except Exception as exc:
            if is_database_unavailable(exc):
                self._reply_error(unavailable())
            else:
                logger.exception("WebSocket message failed")
                self._reply_error(ApiError(500, "UNEXPECTED_ERROR", "Unexpected error"))

    def _new_key(self) -> str:
        while True:
            self._counter += 1
            key = f"s{self._counter}"
            if key not in self.sink.subscriptions:
                return key

    async def _subscribe(self, data: dict[str, Any]) -> None:
        body = Body(data, allowed=_SUBSCRIBE_KEYS)
        key = body.identity("subscription")
        activities = body.text("activities", max_len=100)
        since_text = body.text("since", max_len=100)
        channels = _ids(body, "channel")
        folders = _ids(body, "folder")
        body.done()
        filt = filters.parse(channels, folders, activities)
        since = await resume_position(self.websocket.app.state.pool, since_text, "since")
        if key is not None and key in self.sink.subscriptions:
            raise invalid_parameter("subscription", f"the subscription {key!r} exists")
        if len(self.sink.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise invalid_parameter(
                "subscription", f"at most {MAX_SUBSCRIPTIONS} subscriptions per socket"
            )
        async with self.websocket.app.state.pool.acquire() as conn:
            await filters.check_targets(conn, self.sink.principal, filt)
        key = key or self._new_key()
        start = since if since is not None else await self.fanout.now()
        sub = self.fanout.subscribe(self.sink, filt, start, key)
        reply = {"op": "subscribed", "subscription": key, **filt.describe()}
        if since is not None:
            reply["since"] = str(since)
        self.sink.offer(reply)
        if sub.held is not None:
            self.catch_ups[key] = asyncio.create_task(self._catch_up(sub))

    async def _catch_up(self, sub: Subscription) -> None:
        try:
            await self.fanout.catch_up(sub)
        finally:
            if self.catch_ups.get(sub.key) is asyncio.current_task():
                del self.catch_ups[sub.key]

    def _unsubscribe(self, data: dict[str, Any]) -> None:
        body = Body(data, allowed={"op", "subscription"})
        key = body.identity("subscription", required=True)
        body.done()
        sub = self.sink.subscriptions.get(key)
        if sub is None:
            raise invalid_parameter("subscription", f"no subscription {key!r} on this socket")
        task = self.catch_ups.pop(key, None)
        if task is not None:
            task.cancel()
        self.fanout.unsubscribe(sub)
        self.sink.offer({"op": "unsubscribed", "subscription": key})
