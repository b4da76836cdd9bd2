"""Bad input, generated: schemathesis reads `/openapi.json` and sends generated requests, valid
and invalid, to a real server process. No answer may be a 5xx, none may hang, and every error
must come in the error shape of docs/api.md §1.

Both of schemathesis' modes run: positive (valid inputs) and negative (invalid ones). CI sends
a few hundred requests; `RUN_SLOW=1` sends at least `FUZZ_REQUESTS` (default 2,000).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable

from tests.support import auth, create_user

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.core.failures import FailureGroup  # noqa: E402 - after the skip
from schemathesis.specs.openapi.checks import (  # noqa: E402
    allow_header_conformance,
    response_schema_conformance,
)

REQUEST_TIMEOUT = 10  # seconds: an answer slower than this is a hang
MAX_TARGET = 64 * 1024  # bytes of a request's path and query uvicorn's parser takes
ROUNDS = 5  # at most: hypothesis stops early on operations with few distinct inputs
# Not fuzzed: endless streams (covered by the realtime tests) and ending our own session.
SKIP = {("GET", "/stream"), ("GET", "/ws"), ("POST", "/logout"), ("POST", "/change-password"),
        ("GET", "/compat/plex/:/eventsource/notifications"),
        ("GET", "/compat/plex/:/websockets/notifications")}


def _refused_by_the_http_server(response: Any) -> bool:
    """uvicorn's HTTP parser refuses a request target (path and query) past 64 KiB itself, with
    a plain-text 400, before the application sees it (docs/api.md §1.2). Valid
    inputs make such targets: a 10,000-character `comment` of the GET forms, percent-encoded."""
    parts = urlsplit(response.request.url)
    return (response.status_code == 400 and response.text == "Invalid HTTP request received."
            and len(parts.path) + len(parts.query) + 1 > MAX_TARGET)


def _problem(case: Any, response: Any) -> str | None:
    if _refused_by_the_http_server(response):
        return None
    if response.status_code >= 500:
        return f"{response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        try:
            body = response.json()
            error = body["error"]
            assert isinstance(error["id"], str) and isinstance(error["message"], str)
            assert set(error) <= {"id", "message", "data", "subErrors"}
        except Exception:
            return f"{response.status_code} not in the error shape: {response.text[:300]}"
        # The whole body as `/openapi.json` declares it for that answer (a dialect's own error
        # schema included), and a 405's `Allow` naming the methods the path has.
        try:
            case.validate_response(response, checks=[response_schema_conformance,
                                                     allow_header_conformance])
        except FailureGroup as failures:
            return f"{response.status_code} not as declared: {failures.exceptions[0]}"[:600]
    return None


async def _fuzz(start_server, total: int) -> None:
    server = start_server()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        session = await create_user(client, "alice")
        r = await client.post("/channels", json={"name": "Work"}, headers=auth(session))
        channel = r.json()["id"]
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [
        op.ok() for op in schema.get_all_operations()
        if op.ok() is not None and (op.ok().method.upper(), op.ok().path) not in SKIP
    ]
    # Each operation: valid and invalid inputs, half of them aimed at the real channel.
    per_run = max(5, math.ceil(total / (len(operations) * 3)))
    sent: Counter[str] = Counter()
    problems: list[str] = []

    def run(operation: Any, mode: Any, pin: bool, round_: int) -> None:
        params = {"channel": channel, "channel_id": channel} if pin else None
        pinned = {k: v for k, v in (params or {}).items()
                  if "{" + k + "}" in operation.path} or None
        strategy = operation.as_strategy(generation_mode=mode, path_parameters=pinned)

        @seed(round_)
        @settings(max_examples=per_run, deadline=None, database=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def send(case: Any) -> None:
            label = f"{operation.method.upper()} {operation.path}"
            try:
                response = case.call(base_url=server.url, headers=auth(session),
                                     timeout=REQUEST_TIMEOUT)
            except Exception as exc:  # a timeout is a hang
                problems.append(f"{label}: {type(exc).__name__} {exc}"[:300])
                return
            sent[label] += 1
            if problem := _problem(case, response):
                problems.append(f"{label} {case.path_parameters} {case.query} "
                                f"{str(case.body)[:300]}: {problem}")

        # Unsatisfiable: nothing invalid can be made for an operation that takes no input.
        with contextlib.suppress(Unsatisfiable):
            send()

    # Rounds of other seeds until `total` requests are sent: each round is reproducible.
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    for round_ in range(ROUNDS):
        for operation in operations:
            for mode in modes:
                run(operation, mode, pin=False, round_=round_)
            if "{channel" in operation.path and operation.method.upper() != "DELETE":
                run(operation, schemathesis.GenerationMode.POSITIVE, pin=True, round_=round_)
        if sum(sent.values()) >= total:
            break
    server.terminate()
    server.process.wait(30)
    log = server.log().lower()
    assert not problems, problems[:20]
    assert "unexpected error" not in log, log[log.find("unexpected error"):][:3000]
    assert sum(sent.values()) >= total, f"only {sum(sent.values())} requests: {sent}"


async def test_generated_requests_short(start_server) -> None:
    await _fuzz(start_server, total=300)


@pytest.mark.slow
async def test_generated_requests_full(start_server) -> None:
    await _fuzz(start_server, total=int(os.environ.get("FUZZ_REQUESTS", "2000")))
