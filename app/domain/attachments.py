"""Decisions about an event's attachments: which file names are acceptable, and the event's
new state when files are added or removed. Pure functions over the API shape of an event."""

from __future__ import annotations

import re
from typing import Any

from app.domain.errors import ApiError, unknown

MAX_FILE_NAME_BYTES = 255
MAX_FILES_PER_EVENT = 1000
# A media type as `type/subtype`, with optional `; key=value` parameters: what HTTP accepts as
# Content-Type, without line breaks or other characters that could split a header.
_TOKEN = r"[A-Za-z0-9!#$&^_.+-]+"
MEDIA_TYPE = re.compile(
    rf'^{_TOKEN}/{_TOKEN}(\s*;\s*{_TOKEN}=({_TOKEN}|"[^"\\\x00-\x1f\x7f]*"))*$'
)
DEFAULT_TYPE = "application/octet-stream"

# Record types of the channel's stream: `{channelId, event, fileName}` (the event's whole new
# state), plus the removed file's `sha256` on removal.
ATTACHMENT_ADDED = "attachment.added"
ATTACHMENT_REMOVED = "attachment.removed"


def file_name_problem(name: str) -> str | None:
    """Why `name` cannot be an attachment's name, or None if it can.

    A name is a plain base name: no path separators (`/`, `\\`), not `.` nor `..`, no NUL or
    other control characters, not blank, at most 255 UTF-8 bytes. Such names are refused (400),
    never shortened to their last segment: a client learns its name was not taken as given.
    The store never uses the name as a path anyway (blobs are named by their hash).
    """
    if not name.strip():
        return "a file name may not be blank"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "a file name may not contain NUL or other control characters"
    if "/" in name or "\\" in name:
        return "a file name may not contain path separators"
    if name in (".", ".."):
        return "a file name may not be '.' or '..'"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_FILE_NAME_BYTES:
        return f"a file name may not exceed {MAX_FILE_NAME_BYTES} bytes"
    return None


def media_type_problem(value: str) -> str | None:
    if len(value) > 255 or not MEDIA_TYPE.match(value):
        return "the Content-Type of a file must be a media type like image/jpeg"
    return None


def unknown_attachment(file_name: str) -> ApiError:
    return unknown("UNKNOWN_ATTACHMENT", "attachment", file_name)


def with_files_added(
    event: dict[str, Any], files: list[dict[str, Any]], time: float
) -> list[dict[str, Any]]:
    """The event's successive states as each file is added (one `attachment.added` each).

    `files` are attachment descriptions `{fileName, type, size, sha256}`. A name the event
    already holds, or given twice, is refused as a whole: nothing is added.
    """
    held = dict(event.get("attachments") or {})
    names = [f["fileName"] for f in files]
    taken = sorted({n for n in names if n in held} | {n for n in names if names.count(n) > 1})
    if taken:
        raise ApiError(
            400,
            "ITEM_NAME_ALREADY_EXISTS",
            "The event already has a file named " + ", ".join(repr(n) for n in taken),
            data={"fileNames": taken},
        )
    if len(held) + len(files) > MAX_FILES_PER_EVENT:
        raise ApiError(
            400,
            "INVALID_OPERATION",
            f"An event holds at most {MAX_FILES_PER_EVENT} files",
        )
    states = []
    for f in files:
        held[f["fileName"]] = dict(f)
        states.append({**event, "attachments": dict(held), "modified": time})
    return states


def with_file_removed(event: dict[str, Any], file_name: str, time: float) -> dict[str, Any]:
    """The event's state once `file_name` is gone (404 UNKNOWN_ATTACHMENT if it never was)."""
    held = dict(event.get("attachments") or {})
    if file_name not in held:
        raise unknown_attachment(file_name)
    del held[file_name]
    return {**event, "attachments": held, "modified": time}

