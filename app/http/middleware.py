"""The outermost layer: request ids, `Server-Time`, the body size limit, the access log, and the
last line of defence that turns any unexpected fault into the JSON error of §1."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.domain.errors import ApiError
from app.edge.responses import error
from app.http import request_target
from app.logging_setup import redact_query, request_id
from app.store.database import is_database_unavailable, unavailable

access_log = logging.getLogger("app.access")
logger = logging.getLogger(__name__)

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Response headers scripts of any origin may read (docs/api.md §1, CORS). The CORS middleware sends
# them on every answer it sees; the answers made here, outside it, send them too.
EXPOSED_HEADERS = (
    "Server-Time", "X-Activity", "X-Plex-Activity", "Location", "X-Request-Id", "Retry-After"
)


class BodyTooLarge(Exception):
    pass


class ServerMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = given if _CLIENT_REQUEST_ID.match(given) else uuid.uuid4().hex[:16]
        token = request_id.set(rid)
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
            else:
                await self._http(scope, receive, send, headers, rid)
        finally:
            request_id.reset(token)

    async def _http(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes], rid: str
    ) -> None:
        started = time.perf_counter()
        is_upload = headers.get(b"content-type", b"").startswith(b"multipart/")
        limit = self.max_upload_bytes if is_upload else self.max_body_bytes
        state: dict[str, Any] = {"status": None, "received": 0}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                extra = [
                    (b"server-time", f"{time.time():.3f}".encode()),
                    (b"x-request-id", rid.encode()),
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    raise BodyTooLarge()
            return message

        try:
            declared = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        try:
            if declared > limit:
                raise BodyTooLarge()
            if refused := request_target.refusal(scope):
                raise refused
            await self.app(scope, receive_wrapper, send_wrapper)
        except ApiError as exc:  # only ours: the application answers its own
            await self._fail(send_wrapper, state, exc)
        except BodyTooLarge:
            await self._fail(
                send_wrapper,
                state,
                ApiError(413, "REQUEST_TOO_LARGE", f"The body exceeds {limit} bytes"),
            )
        except Exception as exc:
            if is_database_unavailable(exc):
                logger.warning("database unavailable: %s", type(exc).__name__)
                await self._fail(send_wrapper, state, unavailable())
            else:
                logger.exception("unexpected error")
                await self._fail(
                    send_wrapper,
                    state,
                    ApiError(500, "UNEXPECTED_ERROR", f"Unexpected error (request id {rid})"),
                )
        finally:
            query = scope.get("query_string", b"").decode("latin-1")
            access_log.info(
                '%s %s%s %s %.1fms',
                scope["method"],
                scope["path"],
                "?" + redact_query(query) if query else "",
                state["status"],
                (time.perf_counter() - started) * 1000,
            )

    @staticmethod
    async def _fail(send: Send, state: dict[str, Any], exc: ApiError) -> None:
        if state["status"] is not None:
            return  # the answer has begun: nothing more can be said on this connection
        response = error(exc)
        response.headers["access-control-allow-origin"] = "*"
        response.headers["access-control-expose-headers"] = ", ".join(EXPOSED_HEADERS)
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
