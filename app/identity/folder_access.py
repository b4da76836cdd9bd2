"""What a credential may do where in a channel: the checks over a folder's path.

Pure decisions over a `Principal` and a path the caller has read (app/read/folders.py
`folder_path`, or `Tree.path`). A folder the credential cannot read is refused exactly like one
that does not exist (UNKNOWN_FOLDER), so a token learns nothing about what lies outside its
grants; one it can read but not change as asked is 403.
"""

from __future__ import annotations

from app.domain.errors import forbidden
from app.domain.folders import unknown_folder
from app.identity.permissions import READ
from app.identity.principal import Principal


def can_read(principal: Principal, channel_id: str, path: list[str] | None) -> bool:
    """Whether the credential may read what lies at `path` (None or []: the channel's root)."""
    return principal.access.folder_level(channel_id, path or []) >= READ


def check_level(
    principal: Principal,
    channel_id: str,
    folder_id: str | None,
    path: list[str] | None,
    level: int,
    *,
    missing_status: int = 404,
) -> None:
    """Refuses unless the credential holds `level` over the folder (None: the channel's top).

    `path` is the folder's path (None or [] when it does not exist): a folder that does not
    exist or cannot be read is UNKNOWN_FOLDER (`missing_status`), one that can be read but not
    changed as asked is 403."""
    if folder_id is not None and not path:
        raise unknown_folder(folder_id, missing_status)
    granted = principal.access.folder_level(channel_id, path or [])
    if folder_id is not None and granted < READ:
        raise unknown_folder(folder_id, missing_status)
    if granted < level:
        raise forbidden()


def require_anywhere(principal: Principal, channel_id: str, level: int) -> None:
    """403 unless the credential holds `level` somewhere in the channel: checked before a
    request's body is read, so a credential that could never make the change learns nothing
    from the body's faults or the items it names."""
    if not principal.access.granted_folders(channel_id, level):
        raise forbidden()
