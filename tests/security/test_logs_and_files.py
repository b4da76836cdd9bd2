"""Finding 5 of the security issue, logs and files: what an outside client can make the server
write into its log (forged lines, NUL bytes, credentials under a disguised name), and who else
on the machine can read what the server keeps on disk (attachments, exports, the data folder).

The log attacks go through a real server process, logging as deployed (app/logging_setup.py at
`info`, uvicorn's own WebSocket lines included); the file modes are checked on the file system, with
a permissive umask in force while the server creates them. """

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from app.store import database as db
from tests.realtime.server import ServerProcess
from tests.support import OPERATOR_KEY, auth, create_user

WAIT = 30.0  # how long a test waits for its lines to reach the log (a bound, not a timing)


# --- the log ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[ServerProcess]:
    process = ServerProcess(database_url, OPERATOR_KEY, ACTIVITY_LOG_LEVEL="info").wait_ready()
    yield process
    process.stop()


async def raw_request(server: ServerProcess, target: str) -> bytes:
    """Sends `GET target` byte for byte (no client library re-encoding the target)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                     .encode("latin-1"))
        await writer.drain()
        return await asyncio.wait_for(reader.read(), WAIT)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def log_after(server: ServerProcess, client: httpx.AsyncClient) -> str:
    """The server's log once every line of the requests made so far is in it: a marker request
    is made last, and the log read until its access line is there."""
    marker = uuid.uuid4().hex
    await client.get("/health", params={"marker": marker})
    deadline = time.monotonic() + WAIT
    while marker not in (log := server.log()):
        assert time.monotonic() < deadline, "the marker request never reached the log"
        await asyncio.sleep(0.05)
    return log


@pytest.fixture
async def rest(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as client:
        yield client


async def test_a_percent_encoded_newline_in_the_path_cannot_forge_a_log_line(
    server: ServerProcess, rest: httpx.AsyncClient
) -> None:
    forged = f"FORGED-{uuid.uuid4().hex[:8]} INFO [-] app.access: GET /channels 200"
    for newline in ("%0A", "%0D%0A", "%0D", "%E2%80%A8"):  # LF, CRLF, CR, U+2028
        answer = await raw_request(server, "/nowhere" + newline + forged.replace(" ", "%20"))
        assert answer.startswith(b"HTTP/1.1 404"), answer[:200]
    log = await log_after(server, rest)
    assert forged in log, "the requests are not in the log: the test would prove nothing"
    for line in log.splitlines():
        assert not line.startswith("FORGED-"), f"a forged line in the log: {line!r}"
    assert "/nowhere\\nFORGED-" in log  # the newline is there, escaped, in its own line


async def test_nul_and_other_control_bytes_never_reach_the_log(
    server: ServerProcess, rest: httpx.AsyncClient
) -> None:
    mark = uuid.uuid4().hex[:8]
    answer = await raw_request(server, f"/nul{mark}%00%1B[2J%7F%C2%85end")
    assert answer.startswith(b"HTTP/1.1 404"), answer[:200]
    log = await log_after(server, rest)
    line = next(line for line in log.splitlines() if f"/nul{mark}" in line)
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in line), repr(line)
    assert f"/nul{mark}\\x00\\x1b[2J\\x7f\\x85end" in line


async def test_a_credential_under_a_percent_encoded_parameter_name_is_redacted(
    server: ServerProcess, rest: httpx.AsyncClient
) -> None:
    session = await create_user(rest, f"logs{uuid.uuid4().hex[:8]}")
    r = await rest.post("/tokens", headers=auth(session), json={"name": "app"})
    token = r.json()["token"]
    # Each request is answered as the credential's: the server decodes the names it reads.
    for target in (f"/channels?au%74h={session}", f"/channels?%61uth={token}",
                   f"/compat/plex/activities?X-Plex-Tok%65n={token}"):
        r = await rest.get(httpx.URL(server.url + target))
        assert r.status_code == 200, (target, r.text)
    # uvicorn logs a WebSocket's target itself (its line, not ours).
    async with websockets.connect(f"{server.ws_url}/ws?au%74h={token}") as ws:
        await ws.send('{"op": "ping"}')
        assert "pong" in await asyncio.wait_for(ws.recv(), WAIT)
    log = await log_after(server, rest)
    for line in ("GET /channels?au%74h=", "GET /channels?%61uth=",
                 "GET /compat/plex/activities?X-Plex-Tok%65n=", '"WebSocket /ws?au%74h='):
        assert line in log, f"{line!r} is not in the log: the test would prove nothing"
    assert session not in log
    assert token not in log
    assert "GET /channels?au%74h=*** 200" in log  # the name as sent, the value hidden


# --- files on disk ----------------------------------------------------------------------------


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(root: Path) -> dict[str, int]:
    """Every folder and file under `root` (itself included) -> its mode."""
    found = {".": mode(root)}
    for entry in root.rglob("*"):
        found[str(entry.relative_to(root))] = mode(entry)
    return found


def owner_only(found: dict[str, int], root: Path) -> dict[str, str]:
    """The entries of `found` whose mode is not 0700 (folders) or 0600 (files)."""
    wrong = {}
    for name, bits in found.items():
        wanted = 0o700 if (root / name).is_dir() else 0o600
        if bits != wanted:
            wrong[name] = oct(bits)
    return wrong


async def test_attachments_are_owner_only_whatever_the_umask(
    client: httpx.AsyncClient, session: str, data_dir: Path
) -> None:
    r = await client.post("/channels", json={"name": "Files"}, headers=auth(session))
    channel = r.json()["id"]
    r = await client.post(f"/{channel}/events", json={"comment": "x"}, headers=auth(session))
    event = r.json()["id"]
    with umask(0o000):
        r = await client.post(f"/{channel}/events/{event}", headers=auth(session),
                              files={"f": ("notes.txt", uuid.uuid4().bytes, "text/plain")})
        assert r.status_code == 200, r.text
    digest = r.json()["attachments"]["notes.txt"]["sha256"]
    store = data_dir / "files"
    assert (store / digest[:2] / digest).is_file()
    assert owner_only(modes(store), store) == {}
    assert mode(data_dir) == 0o700


async def test_exports_are_owner_only_whatever_the_umask(
    client: httpx.AsyncClient, session: str, data_dir: Path
) -> None:
    r = await client.post("/channels", json={"name": "Exported"}, headers=auth(session))
    channel = r.json()["id"]
    with umask(0o000):
        r = await client.post(f"/{channel}/export",
                              headers={**auth(session), "Prefer": "wait=60"})
        assert r.status_code == 200, r.text
    exports = data_dir / "exports"
    assert (exports / f"{r.headers['X-Activity']}.jsonl").is_file()
    assert owner_only(modes(exports), exports) == {}


async def test_the_data_folder_is_created_owner_only_whatever_the_umask(
    make_client, tmp_path: Path
) -> None:
    fresh = tmp_path / "new" / "data"
    with umask(0o000):
        await make_client(data_dir=fresh)
    assert owner_only(modes(fresh), fresh) == {}
    assert mode(tmp_path / "new") == 0o700  # a folder the server had to create on the way


async def test_an_existing_data_folder_is_narrowed_to_owner_only(
    make_client, tmp_path: Path
) -> None:
    old = tmp_path / "data"
    (old / "files" / "tmp").mkdir(parents=True, mode=0o777)
    (old / "exports").mkdir(mode=0o777)
    for folder in (old, old / "files", old / "files" / "tmp", old / "exports"):
        folder.chmod(0o755)  # as an earlier version left them under the default umask
    await make_client(data_dir=old)
    assert owner_only(modes(old), old) == {}


def test_the_embedded_database_folder_is_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with umask(0o000), db.EmbeddedPostgres(data) as embedded:
        assert embedded.url
        # As root, pgserver runs PostgreSQL as a user of its own, which must pass through the
        # data folder to reach pgdata/: it may traverse it, never list or read it.
        expected = 0o711 if os.geteuid() == 0 else 0o700
        assert mode(data) == expected
        assert mode(data / "pgdata") == 0o700
