"""Finding 3 of the security issue: login throttling holds under concurrency.

Failures were counted after the argon2 check, so 60 parallel wrong-password logins for one
user were all evaluated before the first 429. Now an attempt is reserved in PostgreSQL before
the check (atomic across processes), a client address has a budget across user names, and a
process runs a bounded number of argon2 checks at once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

import httpx
from argon2.exceptions import VerifyMismatchError

from app.identity import secrets as secrets_
from tests.support import PASSWORD, auth, create_user, error_id

WRONG = "not the password at all"


async def _login(client: httpx.AsyncClient, name: str = "alice", password: str = WRONG,
                 **headers: str) -> httpx.Response:
    return await client.post("/login", json={"userName": name, "password": password},
                             headers=headers)


def _outcomes(answers: list[httpx.Response]) -> Counter[int]:
    for r in answers:
        if r.status_code == 429:
            assert error_id(r) == "TOO_MANY_REQUESTS", r.text
            assert int(r.headers["retry-after"]) >= 1, r.headers
        else:
            assert r.status_code == 401 and error_id(r) == "INVALID_CREDENTIALS", r.text
    return Counter(r.status_code for r in answers)


async def test_parallel_wrong_logins_evaluate_at_most_the_failure_budget(
    start_server, client_of
) -> None:
    """60 guesses at once, spread over two server processes: only the budget is evaluated."""
    env = {"ACTIVITY_LOGIN_MAX_FAILURES": "5", "ACTIVITY_LOGIN_WINDOW_SECONDS": "600",
           "ACTIVITY_LOGIN_MAX_FAILURES_PER_ADDRESS": "1000"}
    first, second = client_of(start_server(**env)), client_of(start_server(**env))
    await create_user(first, "alice")
    # create_user logged in once: a success, which leaves the whole budget.
    answers = await asyncio.gather(*(_login(first if i % 2 else second) for i in range(60)))
    assert _outcomes(answers) == {401: 5, 429: 55}
    # The right password waits for the window too.
    r = await _login(first, password=PASSWORD)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


async def test_one_address_has_a_failure_budget_across_user_names(start_server, client_of):
    rest = client_of(start_server(ACTIVITY_LOGIN_MAX_FAILURES_PER_ADDRESS="4"))
    names = [f"guess-{i}" for i in range(20)]
    answers = await asyncio.gather(*(_login(rest, name) for name in names))
    assert _outcomes(answers) == {401: 4, 429: 16}


async def test_forwarded_for_does_not_dodge_the_address_budget(start_server, client_of):
    """By default no proxy is trusted: X-Forwarded-For is the client's own say."""
    rest = client_of(start_server(ACTIVITY_LOGIN_MAX_FAILURES_PER_ADDRESS="4"))
    answers = [await _login(rest, f"guess-{i}", **{"X-Forwarded-For": f"203.0.113.{i}"})
               for i in range(8)]
    assert _outcomes(answers) == {401: 4, 429: 4}


async def test_trusted_proxy_forwards_the_client_address(start_server, client_of):
    rest = client_of(start_server(ACTIVITY_LOGIN_MAX_FAILURES_PER_ADDRESS="2",
                                  ACTIVITY_TRUSTED_PROXIES="127.0.0.1"))
    one = {"X-Forwarded-For": "198.51.100.7, 203.0.113.1"}  # the proxy appended the client
    answers = [await _login(rest, f"guess-{i}", **one) for i in range(3)]
    assert _outcomes(answers) == {401: 2, 429: 1}
    # Another client behind the same proxy has a budget of its own.
    r = await _login(rest, "guess-9", **{"X-Forwarded-For": "203.0.113.2"})
    assert r.status_code == 401


async def test_successful_logins_do_not_use_the_address_budget(start_server, client_of):
    rest = client_of(start_server(ACTIVITY_LOGIN_MAX_FAILURES_PER_ADDRESS="2"))
    await create_user(rest, "alice")
    for _ in range(4):
        assert (await _login(rest, password=PASSWORD)).status_code == 200


async def test_argon2_checks_at_once_are_bounded_per_process(client, monkeypatch) -> None:
    """A burst of logins (distinct names, within every budget) waits for a few argon2 slots
    instead of filling the thread pool; default: 2 checks at once."""
    lock = threading.Lock()
    running = peak = 0

    class CountingHasher:
        def verify(self, _hash: str, _password: str) -> bool:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.2)  # long enough for the burst's checks to overlap if they may
            with lock:
                running -= 1
            raise VerifyMismatchError()

    monkeypatch.setattr(secrets_, "_hasher", CountingHasher())
    answers = await asyncio.gather(*(_login(client, f"burst-{i}") for i in range(10)))
    assert {r.status_code for r in answers} == {401}
    assert 1 <= peak <= 2


async def test_change_password_guesses_use_the_login_budget(start_server, client_of) -> None:
    """A stolen session cannot try old passwords faster than the login form allows: each wrong
    `oldPassword` takes a unit of the user's login budget, and past it even the right one waits."""
    rest = client_of(start_server(ACTIVITY_LOGIN_MAX_FAILURES="3",
                                  ACTIVITY_LOGIN_MAX_FAILURES_PER_ADDRESS="1000"))
    session = await create_user(rest, "alice")

    async def change(old: str) -> httpx.Response:
        return await rest.post("/change-password", headers=auth(session),
                               json={"oldPassword": old, "newPassword": "a brand new password"})

    wrong = [await change(f"guess number {i}") for i in range(3)]
    assert [error_id(r) for r in wrong] == ["WRONG_PASSWORD"] * 3, [r.text for r in wrong]
    r = await change(PASSWORD)
    assert r.status_code == 429 and error_id(r) == "TOO_MANY_REQUESTS", r.text
    assert int(r.headers["retry-after"]) >= 1
    # The same budget as the login's.
    assert (await _login(rest, password=PASSWORD)).status_code == 429


async def test_a_right_old_password_gives_its_unit_back(start_server, client_of) -> None:
    rest = client_of(start_server(ACTIVITY_LOGIN_MAX_FAILURES="2",
                                  ACTIVITY_LOGIN_MAX_FAILURES_PER_ADDRESS="1000"))
    session = await create_user(rest, "alice")
    assert (await _login(rest)).status_code == 401  # one failure of two
    r = await rest.post("/change-password", headers=auth(session),
                        json={"oldPassword": PASSWORD, "newPassword": "a brand new password"})
    assert r.status_code == 200, r.text
    # The success cleared the user's count: two more guesses are checked before a 429.
    assert [(await _login(rest)).status_code for _ in range(3)] == [401, 401, 429]
