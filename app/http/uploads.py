"""Multipart uploads (docs/api.md §3): on create, a part named `event` holds the event's JSON and
every other part is a file; on `POST /{channel}/events/{event}`, every part is a file.

Files are streamed into the file store while they arrive (never held in memory, never spooled
elsewhere), hashed and counted on the way, so the event's `sha256` and `size` are exact. How to
use it, in a route that records an event with its files:

    async with receive_upload(request, with_event=True) as upload:
        body = Body(upload.event, allowed=...)            # the `event` part, parsed JSON
        async def command(tx):
            ...                                           # lock, read, decide
            attachments = await upload.publish(tx.conn)   # blobs in place, held until commit
            event["attachments"] = attachments            # {fileName: {fileName, type, ...}}
            await tx.append(...)
        await transaction.run(pool, command, meta=...)

Leaving the block removes the temporary files and settles the blobs: the ones the transaction
referenced stay; the ones nothing refers to (it failed, or was refused) are removed.

Limits: the whole body at most `settings.max_upload_bytes` (413 REQUEST_TOO_LARGE), the `event`
part at most `settings.max_body_bytes`, at most MAX_FILES files. A bad shape is 400
INVALID_REQUEST_STRUCTURE; a file name that is not a plain base name (`../x`, `/etc/passwd`,
`a\\b`, NUL bytes) is refused with 400 INVALID_PARAMETERS_FORMAT (app/domain/attachments.py).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread
import asyncpg
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from app.domain.attachments import DEFAULT_TYPE, file_name_problem, media_type_problem
from app.domain.errors import ApiError, invalid_parameter, invalid_structure
from app.domain.validation import MISSING, parse_json
from app.store import file_gc
from app.store.files import Blob, BlobWriter, FileStore, store_of

MAX_FILES = 100
EVENT_PART = "event"


def too_large(limit: int, what: str = "The body") -> ApiError:
    return ApiError(413, "REQUEST_TOO_LARGE", f"{what} exceeds {limit} bytes")


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/")


@dataclass(frozen=True)
class StoredFile:
    """A received file: its metadata, and the temporary file it waits in until published."""

    file_name: str
    type: str
    blob: Blob
    temporary: Path

    @property
    def sha256(self) -> str:
        return self.blob.sha256

    @property
    def size(self) -> int:
        return self.blob.size

    def attachment(self) -> dict[str, Any]:
        """The entry of `event.attachments` (docs/api.md §2)."""
        return {"fileName": self.file_name, "type": self.type, "size": self.size,
                "sha256": self.sha256}


@dataclass
class Upload:
    store: FileStore
    event: Any = MISSING  # the `event` part's JSON (MISSING when there is none)
    files: list[StoredFile] = field(default_factory=list)
    _writers: list[BlobWriter] = field(default_factory=list)
    _intents: dict[str, list[int]] = field(default_factory=dict)

    def attachments(self) -> list[dict[str, Any]]:
        return [f.attachment() for f in self.files]

    async def publish(self, conn: asyncpg.Connection) -> dict[str, dict[str, Any]]:
        """Puts the blobs in the store and holds them (inside the command's transaction) so no
        collector removes them before the commit. Returns `{fileName: attachment}`."""
        await file_gc.hold(conn, (f.sha256 for f in self.files))

        def place_all() -> None:
            for f in self.files:
                self.store.place(f.temporary, f.blob)

        await anyio.to_thread.run_sync(place_all)
        return {f.file_name: f.attachment() for f in self.files}

    def _discard(self) -> None:
        for writer in self._writers:
            writer.discard()


@contextlib.asynccontextmanager
async def receive_upload(request: Request, *, with_event: bool) -> AsyncIterator[Upload]:
    """Reads the multipart body into the store's temporary folder (see the module's doc)."""
    app = request.app
    upload = Upload(store_of(app))
    try:
        await _Reader(request, upload, with_event).read()
        upload._intents = await file_gc.intend(app.state.pool, (f.sha256 for f in upload.files))
        yield upload
    finally:
        await anyio.to_thread.run_sync(upload._discard)
        if upload._intents:
            await file_gc.settle(app.state.pool, upload.store, upload._intents)


def read_event_upload(request: Request) -> contextlib.AbstractAsyncContextManager[Upload]:
    """`receive_upload(request, with_event=True)`, for `POST /{channel}/events` (multipart):
    `async with read_event_upload(request) as upload: ...`."""
    return receive_upload(request, with_event=True)


@dataclass
class _Part:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    name: str = ""
    file_name: str | None = None
    type: str = DEFAULT_TYPE
    data: bytearray | None = None  # the `event` part
    writer: BlobWriter | None = None  # a file part


class _Reader:
    """Feeds the body to python-multipart's streaming parser. Its callbacks only note what
    happened; the notes are acted on between chunks, where awaiting (disk writes) is allowed."""

    def __init__(self, request: Request, upload: Upload, with_event: bool) -> None:
        settings = request.app.state.settings
        self.request = request
        self.upload = upload
        self.with_event = with_event
        self.max_body = settings.max_upload_bytes
        self.max_event = settings.max_body_bytes
        self.notes: list[tuple[str, Any]] = []
        self.part: _Part | None = None
        self.header_name = b""
        self.header_value = b""
        self.names: set[str] = set()
        self.ended = False

    async def read(self) -> None:
        ctype, params = parse_options_header(self.request.headers.get("content-type"))
        boundary = params.get(b"boundary")
        if ctype != b"multipart/form-data" or not boundary:
            raise invalid_structure("The body must be multipart/form-data with a boundary")
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": lambda: self.notes.append(("begin", None)),
                "on_header_field": lambda d, s, e: self.notes.append(("field", d[s:e])),
                "on_header_value": lambda d, s, e: self.notes.append(("value", d[s:e])),
                "on_header_end": lambda: self.notes.append(("header", None)),
                "on_headers_finished": lambda: self.notes.append(("headers", None)),
                "on_part_data": lambda d, s, e: self.notes.append(("data", d[s:e])),
                "on_part_end": lambda: self.notes.append(("end", None)),
                "on_end": lambda: self.notes.append(("finished", None)),
            },
        )
        received = 0
        try:
            async for chunk in self.request.stream():
                received += len(chunk)
                if received > self.max_body:
                    raise too_large(self.max_body)
                parser.write(chunk)
                await self._act()
            parser.finalize()
            await self._act()
        except FormParserError:
            raise invalid_structure("The multipart body is malformed") from None
        except ClientDisconnect:
            raise invalid_structure("The client went away before the end of the body") from None
        if not self.ended:
            raise invalid_structure("The multipart body ends before its closing boundary")
        if self.with_event and self.upload.event is MISSING:
            raise invalid_structure(f"A part named {EVENT_PART!r} must hold the event's JSON")
        if not self.with_event and not self.upload.files:
            raise invalid_structure("There is no file to attach")

    async def _act(self) -> None:
        notes, self.notes = self.notes, []
        for kind, value in notes:
            if kind == "begin":
                self.part = _Part()
            elif kind == "field":
                self.header_name += value
            elif kind == "value":
                self.header_value += value
            elif kind == "header":
                assert self.part is not None
                self.part.headers.append((self.header_name.lower(), self.header_value))
                self.header_name = self.header_value = b""
            elif kind == "headers":
                self._start_part()
            elif kind == "data":
                await self._data(value)
            elif kind == "end":
                await self._end_part()
            elif kind == "finished":
                self.ended = True

    def _start_part(self) -> None:
        part = self.part
        assert part is not None
        headers = dict(part.headers)
        disposition, options = disposition_params(headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise invalid_structure("Each part needs `Content-Disposition: form-data; name=...`")
        part.name = _text(options[b"name"], "name")
        if self.with_event and part.name == EVENT_PART:
            if self.upload.event is not MISSING or part.data is not None:
                raise invalid_structure(f"Only one part may be named {EVENT_PART!r}")
            part.data = bytearray()
            self.upload.event = None  # seen (its JSON comes at the part's end)
            return
        if b"filename" not in options:
            raise invalid_structure(f"The part {part.name!r} is not a file (it has no filename)")
        file_name = _text(options[b"filename"], "fileName")
        if problem := file_name_problem(file_name):
            raise invalid_parameter("fileName", problem)
        if file_name in self.names:
            raise ApiError(400, "ITEM_NAME_ALREADY_EXISTS",
                           f"Two files of the request are named {file_name!r}",
                           data={"fileNames": [file_name]})
        if len(self.names) >= MAX_FILES:
            raise invalid_structure(f"At most {MAX_FILES} files per request")
        raw_type = headers.get(b"content-type")
        if raw_type is not None:
            media_type = raw_type.decode("latin-1").strip()
            if problem := media_type_problem(media_type):
                raise invalid_parameter("type", problem)
            part.type = media_type
        self.names.add(file_name)
        part.file_name = file_name
        part.writer = self.upload.store.writer()
        self.upload._writers.append(part.writer)

    async def _data(self, data: bytes) -> None:
        part = self.part
        assert part is not None
        if part.writer is not None:
            await part.writer.write(data)
        elif part.data is not None:
            part.data += data
            if len(part.data) > self.max_event:
                raise too_large(self.max_event, f"The {EVENT_PART!r} part")

    async def _end_part(self) -> None:
        part, self.part = self.part, None
        assert part is not None
        if part.writer is not None:
            assert part.file_name is not None
            blob = await part.writer.finish()
            self.upload.files.append(StoredFile(part.file_name, part.type, blob, part.writer.path))
        elif part.data is not None:
            raw = bytes(part.data)
            self.upload.event = parse_json(raw, f"The {EVENT_PART!r} part") if raw.strip() else {}


_PARAM = re.compile(rb';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def disposition_params(value: bytes) -> tuple[bytes, dict[bytes, bytes]]:
    """`Content-Disposition` of a part: (disposition, {parameter: raw bytes}).

    python-multipart's own reader shortens a `filename` that looks like a Windows path to its
    last segment; this one keeps the name exactly as sent, so that such a name is refused like
    any other path rather than silently taken for another. `filename*` is ignored (RFC 7578
    forbids it in form data); a quoted value loses its quotes and backslash escapes of `\\`
    and `"` only, as browsers send them.
    """
    kind, _, rest = value.partition(b";")
    params: dict[bytes, bytes] = {}
    for match in _PARAM.finditer(b";" + rest):
        key, raw = match.group(1).lower(), match.group(2).strip()
        if b"*" in key:
            continue
        if len(raw) >= 2 and raw[:1] == raw[-1:] == b'"':
            raw = raw[1:-1].replace(b"\\\\", b"\\").replace(b'\\"', b'"')
        params.setdefault(key, raw)
    return kind.strip().lower(), params


def _text(raw: bytes, param: str) -> str:
    """A header parameter as sent: UTF-8 (what browsers and curl send), else refused."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_parameter(param, f"{param!r} must be UTF-8") from None
