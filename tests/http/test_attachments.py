"""Attachments (docs/api.md §3): upload, download, delete, limits, names, permissions, and the blobs
left on disk (the store under `<data_dir>/files`, checked on the file system itself)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import pytest

from app.store import file_gc
from app.store.files import FileStore
from tests.reliability.invariants import rebuild_differences
from tests.support import auth, create_user, error_id, make_channel, make_folder, multipart

# --- helpers ----------------------------------------------------------------------------------


def files(*items: tuple[str, bytes, str]) -> tuple[bytes, dict]:
    """Every part a file: (file name, content, content type); quotes escaped as curl does."""
    return multipart([
        (f"f{i}".encode(), n.encode().replace(b'"', b'\\"'), c, t.encode())
        for i, (n, c, t) in enumerate(items)
    ])


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def blob_path(data_dir: Path, digest: str) -> Path:
    return data_dir / "files" / digest[:2] / digest


def modified_at(path: Path) -> float:
    return path.stat().st_mtime


def every_file(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


async def gone(path: Path) -> bool:
    """Waits for the collector (it runs after the commit, in the background) to remove `path`;
    a generous ceiling, not a timing assertion."""
    for _ in range(1000):
        if not await anyio.Path(path).exists():
            return True
        await asyncio.sleep(0.01)
    return False


async def make_event(
    client: httpx.AsyncClient, session: str, channel: str, folder: str | None = None
) -> str:
    body: dict[str, Any] = {"time": time.time(), "folderId": folder}
    r = await client.post(f"/{channel}/events", json=body, headers=auth(session))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def make_token(
    client: httpx.AsyncClient, session: str, channel: str, folder: str | None, level: str
) -> str:
    r = await client.post(
        "/tokens",
        json={"name": f"t-{secrets.token_hex(4)}", "type": "shared", "permissions": [
            {"channelId": channel, "folderPermissions": [{"folderId": folder, "type": level}]}]},
        headers=auth(session),
    )
    assert r.status_code == 201, r.text
    return r.json()["token"]


async def attach(
    client: httpx.AsyncClient, credential: str, channel: str, event: str, *items: tuple
) -> httpx.Response:
    body, headers = files(*items)
    return await client.post(
        f"/{channel}/events/{event}", content=body, headers={**headers, **auth(credential)}
    )


async def event_of(client: httpx.AsyncClient, session: str, channel: str, event: str) -> dict:
    r = await client.get(f"/{channel}/events", params={"state": "all", "limit": 1000},
                         headers=auth(session))
    assert r.status_code == 200, r.text
    (found,) = [e for e in r.json() if e["id"] == event]
    return found


@pytest.fixture
async def channel(client: httpx.AsyncClient, session: str) -> str:
    return await make_channel(client, session)


# --- upload and download ----------------------------------------------------------------------


async def test_upload_then_download_round_trip(client, session, channel, data_dir):
    event = await make_event(client, session, channel)
    photo = secrets.token_bytes(300_000)  # more than one flush, not a multiple of it
    notes = "café ☕\n".encode()
    r = await attach(client, session, channel, event,
                     ("photo.jpg", photo, "image/jpeg"), ("notes.txt", notes, "text/plain"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == event
    assert body["attachments"] == {
        "photo.jpg": {"fileName": "photo.jpg", "type": "image/jpeg", "size": len(photo),
                      "sha256": sha(photo)},
        "notes.txt": {"fileName": "notes.txt", "type": "text/plain", "size": len(notes),
                      "sha256": sha(notes)},
    }
    # The event as every read sees it.
    assert (await event_of(client, session, channel, event))["attachments"] == body["attachments"]

    r = await client.get(f"/{channel}/events/{event}/photo.jpg", headers=auth(session))
    assert r.status_code == 200
    assert r.content == photo
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["content-length"] == str(len(photo))
    assert r.headers["content-disposition"].startswith("inline;")
    assert r.headers["x-content-type-options"] == "nosniff"

    r = await client.get(f"/{channel}/events/{event}/notes.txt", headers=auth(session))
    assert r.content == notes
    assert r.headers["content-type"] == "text/plain"  # as stored: no charset added

    # On disk: one blob per content, named by its hash, holding exactly the bytes.
    assert blob_path(data_dir, sha(photo)).read_bytes() == photo
    assert blob_path(data_dir, sha(notes)).read_bytes() == notes


async def test_files_are_added_to_those_already_there(client, session, channel):
    event = await make_event(client, session, channel)
    assert (await attach(client, session, channel, event, ("a.txt", b"a", "text/plain"))).is_success
    r = await attach(client, session, channel, event, ("b.bin", b"b", "application/x-thing"))
    assert r.status_code == 200, r.text
    assert sorted(r.json()["attachments"]) == ["a.txt", "b.bin"]


async def test_a_part_without_content_type_is_octet_stream(client, session, channel):
    event = await make_event(client, session, channel)
    body, headers = multipart([(b"file", b"raw", b"\x00\x01", None)])
    r = await client.post(f"/{channel}/events/{event}", content=body,
                          headers={**headers, **auth(session)})
    assert r.status_code == 200, r.text
    assert r.json()["attachments"]["raw"]["type"] == "application/octet-stream"


async def test_an_html_file_is_served_as_a_sandboxed_download(client, session, channel):
    event = await make_event(client, session, channel)
    page = b"<script>alert(document.cookie)</script>"
    assert (await attach(client, session, channel, event, ("x.html", page, "text/html"))).is_success
    r = await client.get(f"/{channel}/events/{event}/x.html", headers=auth(session))
    assert r.content == page
    assert r.headers["content-type"] == "text/html"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in r.headers["content-security-policy"]


async def test_create_an_event_with_files(client, session, channel, data_dir):
    content = secrets.token_bytes(5000)
    body, headers = multipart([
        (b"event", None, b'{"time": %f, "comment": "with a file"}' % time.time(),
         b"application/json"),
        (b"file", b"scan.pdf", content, b"application/pdf"),
    ])
    r = await client.post(f"/{channel}/events", content=body, headers={**headers, **auth(session)})
    assert r.status_code == 201, r.text
    event = await event_of(client, session, channel, r.json()["id"])
    assert event["comment"] == "with a file"
    assert event["attachments"] == {"scan.pdf": {
        "fileName": "scan.pdf", "type": "application/pdf", "size": 5000, "sha256": sha(content)}}
    r = await client.get(f"/{channel}/events/{event['id']}/scan.pdf", headers=auth(session))
    assert r.content == content
    assert blob_path(data_dir, sha(content)).is_file()


async def test_a_refused_create_with_files_keeps_no_blob(client, session, channel, data_dir):
    content = secrets.token_bytes(100)
    body, headers = multipart([
        (b"event", None, b'{"time": "yesterday"}', None),
        (b"file", b"a.bin", content, None),
    ])
    r = await client.post(f"/{channel}/events", content=body, headers={**headers, **auth(session)})
    assert r.status_code == 400, r.text
    assert not blob_path(data_dir, sha(content)).exists()
    assert not list((data_dir / "files" / "tmp").iterdir())


async def test_unicode_and_odd_names_are_kept_as_given(client, session, channel):
    event = await make_event(client, session, channel)
    names = ["résumé 2024.pdf", 'say "hi"; x=1.txt', "%2e%2e%2fx", "..x", "x..", " lead"]
    for name in names:
        r = await attach(client, session, channel, event, (name, name.encode(), "text/plain"))
        assert r.status_code == 200, (name, r.text)
    r = await client.get(f"/{channel}/events/{event}/" + quote('say "hi"; x=1.txt'),
                         headers=auth(session))
    assert r.content == b'say "hi"; x=1.txt'
    disposition = r.headers["content-disposition"]
    assert disposition.count('"') == 2  # the name's own quotes never end the header's
    assert "filename*=UTF-8''say%20%22hi%22%3B%20x%3D1.txt" in disposition
    for name in names:
        r = await client.get(f"/{channel}/events/{event}/{quote(name, safe='')}",
                             headers=auth(session))
        assert r.status_code == 200, name
        assert r.content == name.encode()


# --- errors -----------------------------------------------------------------------------------


async def test_same_name_is_refused(client, session, channel):
    event = await make_event(client, session, channel)
    assert (await attach(client, session, channel, event, ("a.txt", b"1", "text/plain"))).is_success
    r = await attach(client, session, channel, event, ("a.txt", b"2", "text/plain"))
    assert r.status_code == 400
    assert error_id(r) == "ITEM_NAME_ALREADY_EXISTS"
    # Twice in one request: nothing of it is added.
    r = await attach(client, session, channel, event,
                     ("b.txt", b"1", "text/plain"), ("b.txt", b"2", "text/plain"))
    assert error_id(r) == "ITEM_NAME_ALREADY_EXISTS"
    r = await attach(client, session, channel, event,
                     ("c.txt", b"1", "text/plain"), ("a.txt", b"2", "text/plain"))
    assert error_id(r) == "ITEM_NAME_ALREADY_EXISTS"
    assert list((await event_of(client, session, channel, event))["attachments"]) == ["a.txt"]
    r = await client.get(f"/{channel}/events/{event}/a.txt", headers=auth(session))
    assert r.content == b"1"


async def test_a_refused_upload_leaves_no_blob_and_no_temporary_file(
    client, session, channel, data_dir, pool
):
    event = await make_event(client, session, channel)
    assert (await attach(client, session, channel, event, ("a.txt", b"1", "text/plain"))).is_success
    fresh = secrets.token_bytes(2000)
    r = await attach(client, session, channel, event, ("a.txt", fresh, "text/plain"))
    assert error_id(r) == "ITEM_NAME_ALREADY_EXISTS"
    assert not blob_path(data_dir, sha(fresh)).exists()
    assert not list((data_dir / "files" / "tmp").iterdir())
    async with pool.acquire() as conn:  # the upload settled its intent rows
        assert await conn.fetchval("SELECT count(*) FROM file_gc_queue") == 0


async def test_unknown_attachment_and_unknown_event(client, session, channel):
    event = await make_event(client, session, channel)
    r = await client.get(f"/{channel}/events/{event}/nothing.txt", headers=auth(session))
    assert r.status_code == 404
    assert error_id(r) == "UNKNOWN_ATTACHMENT"
    r = await client.delete(f"/{channel}/events/{event}/nothing.txt", headers=auth(session))
    assert r.status_code == 404
    assert error_id(r) == "UNKNOWN_ATTACHMENT"
    r = await client.get(f"/{channel}/events/nope/a.txt", headers=auth(session))
    assert r.status_code == 404
    assert error_id(r) == "UNKNOWN_EVENT"
    r = await attach(client, session, channel, "nope", ("a.txt", b"1", "text/plain"))
    assert r.status_code == 404
    assert error_id(r) == "UNKNOWN_EVENT"
    r = await client.get(f"/nochannel/events/{event}/a.txt", headers=auth(session))
    assert error_id(r) == "UNKNOWN_CHANNEL"


async def test_size_limit(make_client, data_dir):
    small = await make_client(max_upload_bytes=4096)
    session = await create_user(small, "bob")
    channel = await make_channel(small, session)
    event = await make_event(small, session, channel)
    big = secrets.token_bytes(5000)
    # Declared too large: refused before a byte is read.
    r = await attach(small, session, channel, event, ("big.bin", big, "application/x-big"))
    assert r.status_code == 413
    assert error_id(r) == "REQUEST_TOO_LARGE"
    # Streamed without a declared length: refused once the limit is passed.
    body, headers = files(("big.bin", big, "application/x-big"))

    async def chunks():
        for i in range(0, len(body), 1000):
            yield body[i:i + 1000]

    r = await small.post(f"/{channel}/events/{event}", content=chunks(),
                         headers={**headers, **auth(session)})
    assert r.status_code == 413
    assert error_id(r) == "REQUEST_TOO_LARGE"
    assert (await event_of(small, session, channel, event))["attachments"] == {}
    assert not blob_path(data_dir, sha(big)).exists()
    assert not list((data_dir / "files" / "tmp").iterdir())
    # Under the limit: accepted.
    r = await attach(small, session, channel, event, ("ok.bin", big[:3000], "application/x-ok"))
    assert r.status_code == 200, r.text


async def test_malformed_bodies_are_refused(client, session, channel):
    event = await make_event(client, session, channel)
    url = f"/{channel}/events/{event}"
    r = await client.post(url, json={"a": 1}, headers=auth(session))
    assert (r.status_code, error_id(r)) == (400, "INVALID_REQUEST_STRUCTURE")
    r = await client.post(url, content=b"x", headers={
        "Content-Type": "multipart/form-data", **auth(session)})  # no boundary
    assert (r.status_code, error_id(r)) == (400, "INVALID_REQUEST_STRUCTURE")
    body, headers = files(("a.txt", b"12345", "text/plain"))
    r = await client.post(url, content=body[:-30], headers={**headers, **auth(session)})
    assert (r.status_code, error_id(r)) == (400, "INVALID_REQUEST_STRUCTURE")  # truncated
    body, headers = multipart([(b"field", None, b"value", None)])
    r = await client.post(url, content=body, headers={**headers, **auth(session)})
    assert (r.status_code, error_id(r)) == (400, "INVALID_REQUEST_STRUCTURE")  # not a file
    body, headers = multipart([])
    r = await client.post(url, content=body, headers={**headers, **auth(session)})
    assert (r.status_code, error_id(r)) == (400, "INVALID_REQUEST_STRUCTURE")  # no file
    for bad_type in (b"not a type", b"image/png\x7f", b"text/plain; x=\"a\x01\""):
        body, headers = multipart([(b"f", b"a.txt", b"1", bad_type)])
        r = await client.post(url, content=body, headers={**headers, **auth(session)})
        assert (r.status_code, error_id(r)) == (400, "INVALID_PARAMETERS_FORMAT"), bad_type
    assert (await event_of(client, session, channel, event))["attachments"] == {}


@pytest.mark.parametrize(
    "name",
    [b"../x", b"..\\x", b"/etc/passwd", b"a/../../x", b"..", b".", b"x\x00.txt", b"\x00",
     b"dir\\x", b"C:\\temp\\x", b"", b"   ", b"a\x1fb", b"\xff\xfe"],
)
async def test_names_that_leave_their_place_touch_nothing(client, session, channel, data_dir,
                                                          name):
    event = await make_event(client, session, channel)
    before = every_file(data_dir)
    passwd = modified_at(Path("/etc/passwd"))
    content = b"escape attempt " + secrets.token_bytes(8)
    body, headers = multipart([(b"file", name, content, b"text/plain")])
    r = await client.post(f"/{channel}/events/{event}", content=body,
                          headers={**headers, **auth(session)})
    assert r.status_code == 400, r.text
    assert error_id(r) in ("INVALID_PARAMETERS_FORMAT", "INVALID_REQUEST_STRUCTURE")
    # Nothing new anywhere in the data folder (the collector may have removed old blobs)...
    assert every_file(data_dir) - before == set()
    assert not blob_path(data_dir, sha(content)).exists()
    # ...nor where the names point.
    for place in (Path("/x"), data_dir.parent / "x", data_dir / "x", data_dir / "files" / "x"):
        assert not place.exists()
    assert modified_at(Path("/etc/passwd")) == passwd
    assert (await event_of(client, session, channel, event))["attachments"] == {}


async def test_path_like_names_in_the_url_are_unknown_attachments(client, session, channel):
    event = await make_event(client, session, channel)
    assert (await attach(client, session, channel, event, ("a.txt", b"1", "text/plain"))).is_success
    for name in ("..%2F..%2Fpasswd", "%2Fetc%2Fpasswd", "%2E%2E", "a.txt%00"):
        r = await client.get(f"/{channel}/events/{event}/{name}", headers=auth(session))
        assert r.status_code == 404, name


# --- deletion and the blobs on disk -----------------------------------------------------------


async def test_delete_an_attachment(client, session, channel, data_dir):
    event = await make_event(client, session, channel)
    content = secrets.token_bytes(1000)
    await attach(client, session, channel, event,
                 ("a.bin", content, "application/x-a"), ("keep.txt", b"keep", "text/plain"))
    r = await client.delete(f"/{channel}/events/{event}/a.bin", headers=auth(session))
    assert r.status_code == 200, r.text
    assert list(r.json()["attachments"]) == ["keep.txt"]
    assert (await event_of(client, session, channel, event))["attachments"] == r.json()[
        "attachments"]
    r = await client.get(f"/{channel}/events/{event}/a.bin", headers=auth(session))
    assert error_id(r) == "UNKNOWN_ATTACHMENT"
    assert await gone(blob_path(data_dir, sha(content)))
    r = await client.get(f"/{channel}/events/{event}/keep.txt", headers=auth(session))
    assert r.content == b"keep"


async def test_a_shared_blob_lives_until_its_last_reference_goes(
    client, session, channel, data_dir, pool
):
    content = secrets.token_bytes(4000)
    first = await make_event(client, session, channel)
    second = await make_event(client, session, channel)
    for event, name in ((first, "one.bin"), (second, "two.bin")):
        r = await attach(client, session, channel, event, (name, content, "application/x-s"))
        assert r.status_code == 200, r.text
    path = blob_path(data_dir, sha(content))
    r = await client.delete(f"/{channel}/events/{first}/one.bin", headers=auth(session))
    assert r.status_code == 200
    # Let the collector do all it would do: the blob stays, the other event still has it.
    await file_gc.collect_due(pool, FileStore(data_dir / "files"))
    assert path.read_bytes() == content
    r = await client.get(f"/{channel}/events/{second}/two.bin", headers=auth(session))
    assert r.content == content
    r = await client.delete(f"/{channel}/events/{second}/two.bin", headers=auth(session))
    assert r.status_code == 200
    assert await gone(path)


async def test_a_trashed_then_deleted_event_removes_its_files(client, session, channel, data_dir):
    mine = secrets.token_bytes(3000)
    shared = secrets.token_bytes(3000)
    event = await make_event(client, session, channel)
    other = await make_event(client, session, channel)
    await attach(client, session, channel, event,
                 ("mine.bin", mine, "application/x-m"), ("shared.bin", shared, "application/x-s"))
    await attach(client, session, channel, other, ("shared.bin", shared, "application/x-s"))
    for _ in range(2):  # trash, then delete for good
        r = await client.delete(f"/{channel}/events/{event}", headers=auth(session))
        assert r.status_code == 200, r.text
    assert await gone(blob_path(data_dir, sha(mine)))
    assert blob_path(data_dir, sha(shared)).read_bytes() == shared
    r = await client.get(f"/{channel}/events/{other}/shared.bin", headers=auth(session))
    assert r.content == shared


async def test_a_deleted_channel_removes_its_files(client, session, data_dir):
    channel = await make_channel(client, session, "Doomed")
    content = secrets.token_bytes(3000)
    event = await make_event(client, session, channel)
    await attach(client, session, channel, event, ("a.bin", content, "application/x-a"))
    for _ in range(2):  # trash, then delete for good
        r = await client.delete(f"/channels/{channel}", headers=auth(session))
        assert r.status_code == 200, r.text
    assert await gone(blob_path(data_dir, sha(content)))


async def test_a_deleted_folder_removes_its_files(client, session, channel, data_dir):
    folder = await make_folder(client, session, channel, "Receipts")
    content = secrets.token_bytes(3000)
    event = await make_event(client, session, channel, folder)
    await attach(client, session, channel, event, ("a.bin", content, "application/x-a"))
    r = await client.delete(f"/{channel}/folders/{folder}", headers=auth(session))
    assert r.status_code == 200, r.text
    r = await client.delete(f"/{channel}/folders/{folder}", params={
        "mergeEventsWithParent": "false"}, headers=auth(session))
    assert r.status_code == 200, r.text
    assert await gone(blob_path(data_dir, sha(content)))


async def test_a_blob_left_by_a_dead_upload_is_collected_after_its_lease(pool, data_dir):
    """The process died between placing the blob and committing: only the intent row is left."""
    store = FileStore(data_dir / "files")
    content = secrets.token_bytes(500)
    writer = store.writer()
    await writer.write(content)
    blob = await writer.finish()
    intents = await file_gc.intend(pool, [blob.sha256])
    store.place(writer.path, blob)
    writer.discard()
    path = blob_path(data_dir, blob.sha256)
    await file_gc.collect_due(pool, store)
    assert path.read_bytes() == content  # still leased: the upload may yet commit
    await file_gc.collect_due(pool, store, now=time.time() + file_gc.INTENT_LEASE_SECONDS + 1)
    assert not path.exists()
    async with pool.acquire() as conn:
        assert not await conn.fetchval(
            "SELECT count(*) FROM file_gc_queue WHERE id = ANY($1::bigint[])",
            intents[blob.sha256],
        )


async def test_an_upload_puts_back_a_blob_collected_before_its_commit(pool, data_dir):
    """The collector removed the blob (unreferenced then) between two uploads of the same
    content: the second one, holding the blob's lock, places it again from its own file."""
    store = FileStore(data_dir / "files")
    content = secrets.token_bytes(700)
    writers = []
    for _ in range(2):
        writer = store.writer()
        await writer.write(content)
        writers.append((writer, await writer.finish()))
    store.place(writers[0][0].path, writers[0][1])
    assert store.remove(writers[0][1].sha256)
    async with pool.acquire() as conn, conn.transaction():
        await file_gc.hold(conn, [writers[1][1].sha256])
        store.place(writers[1][0].path, writers[1][1])
    assert blob_path(data_dir, writers[1][1].sha256).read_bytes() == content
    for writer, _ in writers:
        writer.discard()
    assert not writers[1][0].path.exists()


# --- permissions ------------------------------------------------------------------------------


async def test_a_read_only_token_reads_but_cannot_add_or_delete(client, session, channel):
    event = await make_event(client, session, channel)
    await attach(client, session, channel, event, ("a.txt", b"1", "text/plain"))
    token = await make_token(client, session, channel, None, "read-only")
    r = await client.get(f"/{channel}/events/{event}/a.txt", headers=auth(token))
    assert r.status_code == 200
    assert r.content == b"1"
    r = await attach(client, token, channel, event, ("b.txt", b"2", "text/plain"))
    assert (r.status_code, error_id(r)) == (403, "FORBIDDEN")
    r = await client.delete(f"/{channel}/events/{event}/a.txt", headers=auth(token))
    assert (r.status_code, error_id(r)) == (403, "FORBIDDEN")
    assert list((await event_of(client, session, channel, event))["attachments"]) == ["a.txt"]


async def test_an_events_write_token_adds_and_deletes(client, session, channel):
    event = await make_event(client, session, channel)
    token = await make_token(client, session, channel, None, "events-write")
    r = await attach(client, token, channel, event, ("b.txt", b"2", "text/plain"))
    assert r.status_code == 200, r.text
    r = await client.delete(f"/{channel}/events/{event}/b.txt", headers=auth(token))
    assert r.status_code == 200, r.text


async def test_a_folder_token_sees_only_its_folders_files(client, session, channel):
    mine = await make_folder(client, session, channel, "Mine")
    other = await make_folder(client, session, channel, "Other")
    in_mine = await make_event(client, session, channel, mine)
    in_other = await make_event(client, session, channel, other)
    off_folder = await make_event(client, session, channel)
    for event in (in_mine, in_other, off_folder):
        await attach(client, session, channel, event, ("a.txt", event.encode(), "text/plain"))
    token = await make_token(client, session, channel, mine, "events-write")
    r = await client.get(f"/{channel}/events/{in_mine}/a.txt", headers=auth(token))
    assert r.content == in_mine.encode()
    assert (await attach(client, token, channel, in_mine, ("b.txt", b"b", "text/plain"))
            ).status_code == 200
    for event in (in_other, off_folder):  # outside its folders: as if it did not exist
        r = await client.get(f"/{channel}/events/{event}/a.txt", headers=auth(token))
        assert (r.status_code, error_id(r)) == (404, "UNKNOWN_EVENT")
        r = await attach(client, token, channel, event, ("b.txt", b"b", "text/plain"))
        assert (r.status_code, error_id(r)) == (404, "UNKNOWN_EVENT")
        r = await client.delete(f"/{channel}/events/{event}/a.txt", headers=auth(token))
        assert (r.status_code, error_id(r)) == (404, "UNKNOWN_EVENT")
    other_channel = await make_channel(client, session, "Elsewhere")
    elsewhere = await make_event(client, session, other_channel)
    r = await client.get(f"/{other_channel}/events/{elsewhere}/a.txt", headers=auth(token))
    assert (r.status_code, error_id(r)) == (404, "UNKNOWN_CHANNEL")


async def test_no_credential_no_file(client, session, channel):
    event = await make_event(client, session, channel)
    await attach(client, session, channel, event, ("a.txt", b"1", "text/plain"))
    r = await client.get(f"/{channel}/events/{event}/a.txt")
    assert (r.status_code, error_id(r)) == (401, "INVALID_TOKEN")


# --- the log ----------------------------------------------------------------------------------


async def test_records_carry_the_full_event_and_rebuild_gives_the_same(
    client, session, channel, pool
):
    event = await make_event(client, session, channel)
    await attach(client, session, channel, event,
                 ("a.txt", b"1", "text/plain"), ("b.txt", b"2", "text/plain"))
    r = await client.delete(f"/{channel}/events/{event}/a.txt", headers=auth(session))
    final = r.json()
    async with pool.acquire() as conn:
        records = await conn.fetch(
            "SELECT type, data FROM event_log WHERE type LIKE 'attachment.%' ORDER BY position"
        )
        assert [(r["type"], r["data"]["fileName"]) for r in records] == [
            ("attachment.added", "a.txt"), ("attachment.added", "b.txt"),
            ("attachment.removed", "a.txt")]
        assert list(records[0]["data"]["event"]["attachments"]) == ["a.txt"]
        assert records[-1]["data"]["event"] == final
        assert await rebuild_differences(conn) == {}
