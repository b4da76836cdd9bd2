"""What a credential may do where: pure functions over a token's grants.

A shared token holds grants `{channelId, folderPermissions: [{folderId, type}]}`. A grant on a
folder covers its descendants (`folderId: null` covers the whole channel), and where two grants
meet, the higher level wins. Sessions and personal tokens have full access.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app.domain.errors import sub_error
from app.domain.ids import is_identity

NONE = 0
READ = 1
EVENTS_WRITE = 2
MANAGE = 3

LEVELS = {"read-only": READ, "events-write": EVENTS_WRITE, "manage": MANAGE}


@dataclass(frozen=True)
class Access:
    """The grants of one credential. `full` stands for a session or a personal token."""

    full: bool
    # channel id -> folder id (None: the channel's root) -> level
    grants: dict[str, dict[str | None, int]] = field(default_factory=dict)

    @classmethod
    def from_permissions(cls, permissions: list[dict[str, Any]]) -> Access:
        grants: dict[str, dict[str | None, int]] = {}
        for perm in permissions:
            folders = grants.setdefault(perm["channelId"], {})
            for fp in perm.get("folderPermissions", []):
                level = LEVELS[fp["type"]]
                key = fp.get("folderId")
                folders[key] = max(folders.get(key, NONE), level)
        return cls(full=False, grants=grants)

    def channels(self) -> set[str]:
        """Channels where the credential holds any grant (irrelevant when `full`)."""
        return {c for c, folders in self.grants.items() if folders}

    def can_see_channel(self, channel_id: str) -> bool:
        return self.full or bool(self.grants.get(channel_id))

    def channel_level(self, channel_id: str) -> int:
        """The level over the channel as a whole (a root grant), not over some of its folders."""
        if self.full:
            return MANAGE
        return self.grants.get(channel_id, {}).get(None, NONE)

    def folder_level(self, channel_id: str, path: Iterable[str | None]) -> int:
        """The level over a folder given its path: the folder id, then its ancestors' ids.

        `path` of a mark event without folder is empty: only a root grant covers it.
        """
        if self.full:
            return MANAGE
        folders = self.grants.get(channel_id)
        if not folders:
            return NONE
        level = folders.get(None, NONE)
        for folder_id in path:
            level = max(level, folders.get(folder_id, NONE))
        return level

    def granted_folders(self, channel_id: str, minimum: int = READ) -> set[str | None]:
        """Folder ids whose subtrees are granted at `minimum` or above (None: the whole channel)."""
        if self.full:
            return {None}
        return {f for f, level in self.grants.get(channel_id, {}).items() if level >= minimum}


def parse_permissions(value: Any, param: str = "permissions") -> tuple[list[dict[str, Any]], list]:
    """Validates the `permissions` of a token; returns (normalised value, sub-errors)."""
    errors: list[dict[str, Any]] = []
    if not isinstance(value, list):
        return [], [sub_error(param, "permissions must be an array")]
    normalised: list[dict[str, Any]] = []
    for i, perm in enumerate(value):
        where = f"{param}[{i}]"
        if not isinstance(perm, dict) or not is_identity(perm.get("channelId")):
            errors.append(sub_error(where, "each permission needs a valid channelId"))
            continue
        if set(perm) - {"channelId", "folderPermissions"}:
            errors.append(sub_error(where, "unknown keys in a permission"))
            continue
        fps = perm.get("folderPermissions", [])
        if not isinstance(fps, list):
            errors.append(sub_error(where, "folderPermissions must be an array"))
            continue
        clean = []
        for j, fp in enumerate(fps):
            fwhere = f"{where}.folderPermissions[{j}]"
            if (
                not isinstance(fp, dict)
                or set(fp) - {"folderId", "type"}
                or fp.get("type") not in LEVELS
                or not (fp.get("folderId") is None or is_identity(fp.get("folderId")))
            ):
                errors.append(
                    sub_error(fwhere, "needs folderId (id or null) and type "
                                      "(read-only, events-write or manage)")
                )
                continue
            clean.append({"folderId": fp.get("folderId"), "type": fp["type"]})
        normalised.append({"channelId": perm["channelId"], "folderPermissions": clean})
    return normalised, errors
