"""Helpers of the integration tests: the operator's key, users and their credentials, error ids,
and databases of a test's own. Imported by the tests; `tests/conftest.py` holds fixtures only."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from app.store import database as db
from app.store.migrate import migrate

OPERATOR_KEY = "operator-key-for-tests"
PASSWORD = "correct horse battery"
MULTIPART_BOUNDARY = "attachment-test-boundary"


def auth(credential: str) -> dict[str, str]:
    return {"Authorization": credential}


def error_id(response: httpx.Response) -> str:
    return response.json()["error"]["id"]


async def create_user(
    client: httpx.AsyncClient, name: str = "alice", *, admin: bool = False
) -> str:
    """Creates a user through the operator route and returns a session id for them."""
    r = await client.post(
        "/system/users",
        json={"userName": name, "password": PASSWORD, "admin": admin},
        headers={"Authorization": OPERATOR_KEY},
    )
    assert r.status_code == 201, r.text
    r = await client.post("/login", json={"userName": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["sessionID"]


async def make_channel(
    client: httpx.AsyncClient, credential: str, name: str = "Work", **fields: Any
) -> str:
    """A new channel (201 asserted); its id."""
    r = await client.post("/channels", json={"name": name, **fields}, headers=auth(credential))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def make_folder(client: httpx.AsyncClient, credential: str, channel: str, name: str,
                      parent: str | None = None) -> str:
    """A new folder of `channel` (under `parent`; 201 asserted); its id."""
    path = f"/{channel}/folders" + (f"/{parent}" if parent else "")
    r = await client.post(path, json={"name": name}, headers=auth(credential))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def multipart(parts: list[tuple[bytes, bytes | None, bytes, bytes | None]]) -> tuple[bytes, dict]:
    """A multipart/form-data body built byte by byte (no client library second-guessing the
    names): each part is (name, filename or None, content, content type or None)."""
    body = b""
    for name, filename, content, ctype in parts:
        body += b"--" + MULTIPART_BOUNDARY.encode() + b"\r\n"
        disposition = b'Content-Disposition: form-data; name="' + name + b'"'
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        body += disposition + b"\r\n"
        if ctype is not None:
            body += b"Content-Type: " + ctype + b"\r\n"
        body += b"\r\n" + content + b"\r\n"
    body += b"--" + MULTIPART_BOUNDARY.encode() + b"--\r\n"
    return body, {"Content-Type": f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"}


def with_database(url: str, name: str) -> str:
    """`url` naming the database `name` on the same server."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def migrated_pool(url: str, max_size: int = 10) -> asyncpg.Pool:
    """A pool on the database of `url`, its migrations applied first."""
    conn = await db.connect(url)
    await migrate(conn)
    await conn.close()
    return await db.create_pool(url, 1, max_size)


@contextlib.asynccontextmanager
async def fresh_database(url: str) -> AsyncIterator[str]:
    """A new, empty database beside the one of `url` (embedded or server), dropped after: for
    tests that need to see migrations from zero, or a database of their own."""
    name = f"activity_fresh_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield with_database(url, name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
