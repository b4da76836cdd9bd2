"""Real clients for the realtime tests: SSE over httpx streaming, and the `websockets` client."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

WAIT = 20.0  # generous: how long a test waits for something that should come at once


@dataclass
class Frame:
    id: str | None = None
    event: str | None = None
    data: Any = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    @property
    def is_change(self) -> bool:
        return self.data is not None and self.event not in (None, "close")


class StreamEnded(Exception):
    pass


class SseStream:
    """One `GET /stream` read frame by frame (comments and `retry:` kept for the tests)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._cm = client.stream("GET", url, params=params, headers=headers,
                                 timeout=httpx.Timeout(WAIT, read=None))
        self.response: httpx.Response | None = None
        self._lines: Any = None

    async def __aenter__(self) -> SseStream:
        self.response = await self._cm.__aenter__()
        self._lines = self.response.aiter_lines()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._cm.__aexit__(*exc)

    @property
    def status(self) -> int:
        assert self.response is not None
        return self.response.status_code

    async def frame(self, within: float = WAIT) -> Frame:
        """The next frame; StreamEnded when the server ends the stream."""
        frame = Frame()
        seen = False
        async with asyncio.timeout(within):
            while True:
                try:
                    line = await anext(self._lines)
                except StopAsyncIteration:
                    raise StreamEnded() from None
                if line == "":
                    if seen:
                        return frame
                    continue
                seen = True
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "":
                    frame.comments.append(value)
                elif name == "id":
                    frame.id = value
                elif name == "event":
                    frame.event = value
                elif name == "data":
                    frame.data = json.loads(value)
                elif name == "retry":
                    frame.retry = int(value)

    async def change(self, within: float = WAIT) -> Frame:
        """The next change frame (skipping comments); a `close` frame is returned too."""
        while True:
            frame = await self.frame(within)
            if frame.is_change or frame.event == "close":
                return frame


async def ws_connect(url: str, credential: str | None = None, **kwargs: Any) -> ClientConnection:
    headers = {"Authorization": credential} if credential else None
    return await websockets.connect(url, additional_headers=headers, **kwargs)


async def ws_json(ws: ClientConnection, within: float = WAIT) -> dict[str, Any]:
    async with asyncio.timeout(within):
        return json.loads(await ws.recv())


async def ws_change(ws: ClientConnection, within: float = WAIT) -> dict[str, Any]:
    """The next change message (skipping protocol answers other than errors)."""
    while True:
        message = await ws_json(ws, within)
        if "op" not in message or message["op"] == "error":
            return message


async def ws_subscribe(ws: ClientConnection, **subscription: Any) -> dict[str, Any]:
    await ws.send(json.dumps({"op": "subscribe", **subscription}))
    answer = await ws_json(ws)
    assert answer["op"] == "subscribed", answer
    return answer
