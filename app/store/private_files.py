"""Folders and files only the server's own user may open: the data folder, the attachments'
blobs and the exports (each holds a user's data).

Modes are set explicitly, never left to the umask: under the usual 022 a file would be created
0644 and a folder 0755, readable by every account of the machine. Folders are 0700 and files
0600; `os.open` and `mkdir` are given those modes, and a `chmod` follows, because the umask
only ever takes bits away (a 277 umask would leave a folder the server cannot write in) and
because a folder may already exist, left wider by an earlier version.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600
# The data folder when the embedded PostgreSQL runs under root: pgserver then runs PostgreSQL as
# a user of its own, which must pass through the data folder to its `pgdata/` (0700, its own).
# It may traverse the folder, not list it; `files/` and `exports/` stay 0700 to everyone else.
TRAVERSABLE_FOLDER_MODE = 0o711


def private_folder(path: Path, mode: int = FOLDER_MODE) -> Path:
    """`path` as a folder only its owner may open: created 0700 with every missing parent
    (0700 too), or narrowed to 0700 when it exists already."""
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process may create it as well
            folder.mkdir(mode=FOLDER_MODE)
        _chmod(folder, FOLDER_MODE)
    _chmod(path, mode)
    return path


def data_folder(path: Path) -> Path:
    """The data folder, private (traversable only, see TRAVERSABLE_FOLDER_MODE, where the
    embedded PostgreSQL runs as another user: root's processes, with a `pgdata/` in it)."""
    embedded_as_root = os.geteuid() == 0 and (path / "pgdata").is_dir()
    return private_folder(path, TRAVERSABLE_FOLDER_MODE if embedded_as_root else FOLDER_MODE)


def new_private_file(path: Path, *, exclusive: bool = True) -> BinaryIO:
    """`path` opened for writing as a new 0600 file (`exclusive`: refused if it exists, else
    emptied). The caller closes it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def _chmod(path: Path, mode: int) -> None:
    try:
        os.chmod(path, mode)
    except PermissionError:
        # A folder the operator made for us and still owns: its modes are the operator's.
        logger.warning("cannot set the mode of %s to %o (not its owner)", path, mode)
