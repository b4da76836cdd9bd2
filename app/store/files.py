"""The file store of attachments: blobs on disk, named by the SHA-256 of their content.

Layout under `<data_dir>/files/`: `<sha256[:2]>/<sha256>` for each blob, and `tmp/` for files
being received. A blob's name is its hash, computed by the server while the bytes arrive, so
`sha256` in an event's attachments is exact and identical files are stored once. The name a
client gives a file is metadata in the event (`events.attachments`), never part of a path here:
no file name can make the store touch anything outside its folder. Folders are created 0700
and blobs 0600 (app/store/private_files.py): only the server's user may read them.

This module only handles the disk. Who may remove a blob, and when, is `app/store/file_gc.py`'s job
(a blob can be shared by several events, even of different users).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread
from starlette.applications import Starlette

from app.store.private_files import new_private_file, private_folder

logger = logging.getLogger(__name__)

SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Bytes are hashed and written in chunks of this size, off the event loop.
FLUSH_BYTES = 1 << 20
# A temporary file untouched for this long belongs to no live upload (the process that wrote
# it died): the store removes it when it starts.
STALE_TEMPORARY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Blob:
    sha256: str
    size: int


class BlobWriter:
    """One file being received: written to a temporary file in the store's folder (so placing
    it later is a link on the same file system), hashed and counted as it comes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self._handle: BinaryIO | None = new_private_file(path)  # closed by finish
        self._hasher = hashlib.sha256()
        self._buffer = bytearray()

    async def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= FLUSH_BYTES:
            chunk = bytes(self._buffer)
            self._buffer.clear()
            await anyio.to_thread.run_sync(self._write, chunk)

    def _write(self, chunk: bytes) -> None:
        assert self._handle is not None
        self._hasher.update(chunk)  # hashlib releases the GIL on large buffers
        self._handle.write(chunk)

    async def finish(self) -> Blob:
        """Writes what is left and syncs it to disk: the blob may be referenced once placed."""
        chunk = bytes(self._buffer)
        self._buffer.clear()

        def finish() -> str:
            assert self._handle is not None
            self._write(chunk)
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None
            return self._hasher.hexdigest()

        return Blob(await anyio.to_thread.run_sync(finish), self.size)

    def discard(self) -> None:
        """Closes and removes the temporary file (idempotent)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self.path.unlink(missing_ok=True)


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"

    def prepare(self) -> None:
        """Creates the folders (owner-only, narrowed if they exist) and removes temporary
        files that no live upload owns."""
        private_folder(self.root)
        private_folder(self.tmp)
        horizon = time.time() - STALE_TEMPORARY_SECONDS
        for entry in self.tmp.iterdir():
            try:
                if entry.is_file() and entry.stat().st_mtime < horizon:
                    entry.unlink()
            except OSError:
                logger.warning("could not remove the stale temporary file %s", entry.name)

    def path_of(self, sha256: str) -> Path:
        """Where the blob lives. Only a well-formed hash ever becomes a path."""
        if not SHA256.match(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256

    def writer(self) -> BlobWriter:
        private_folder(self.tmp)
        return BlobWriter(self.tmp / f"{uuid.uuid4().hex}.part")

    def place(self, temporary: Path, blob: Blob) -> None:
        """Puts a received file at its content address, unless the blob is already there.

        Blocking (run it in a thread). A hard link leaves the temporary file in place, so a
        command retried after a conflict can place it again; where links are not supported,
        a copy is renamed into place (atomic either way: a blob is never seen half-written).
        """
        final = self.path_of(blob.sha256)
        try:
            if final.stat().st_size == blob.size:
                return
        except FileNotFoundError:
            pass
        private_folder(final.parent)
        try:
            os.link(temporary, final)
        except FileExistsError:
            # Placed by a concurrent upload of the same content, or a damaged blob: replace it.
            if final.stat().st_size != blob.size:
                self._copy_into_place(temporary, final)
        except OSError:
            self._copy_into_place(temporary, final)
        self._sync_folder(final.parent)

    def _copy_into_place(self, temporary: Path, final: Path) -> None:
        copy = self.tmp / f"{uuid.uuid4().hex}.copy"
        try:
            with open(temporary, "rb") as source, new_private_file(copy) as handle:
                shutil.copyfileobj(source, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(copy, final)
        finally:
            copy.unlink(missing_ok=True)

    @staticmethod
    def _sync_folder(folder: Path) -> None:
        try:
            fd = os.open(folder, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def open(self, sha256: str) -> BinaryIO | None:
        """The blob opened for reading (blocking), or None if it is not in the store. An open
        blob can still be read to the end if it is removed meanwhile."""
        try:
            return open(self.path_of(sha256), "rb")  # the caller closes it
        except (FileNotFoundError, ValueError):
            return None

    def remove(self, sha256: str) -> bool:
        """Removes the blob (blocking). Only the collector calls this, under the blob's lock."""
        try:
            self.path_of(sha256).unlink()
        except FileNotFoundError:
            return False
        return True

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()


def store_of(app: Starlette) -> FileStore:
    """The application's store (set up by the file service; built on demand otherwise)."""
    store = getattr(app.state, "files", None)
    if store is None:
        store = FileStore(Path(app.state.settings.data_dir) / "files")
        app.state.files = store
    return store
