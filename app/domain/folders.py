"""Decisions about a channel's folder tree: pure functions over the tree as it is.

The commands (app/commands/folders.py) load the channel's folders into a `Tree` (under the
channel stream's lock), ask these functions what to do, and append what they return. The
tree is small (a channel's folders, not its events), so holding it whole keeps every rule a few
lines of plain Python: sibling names, moves that would make a cycle, the set a deletion removes,
and the view a `GET` answers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.errors import ApiError, id_unavailable, invalid_operation, name_unavailable, unknown

# Deep enough for any filing scheme; bounded so that a path walk, a recursive view and its JSON
# (each level nests two JSON containers; orjson refuses past 255) always stay well inside limits.
MAX_DEPTH = 100

STATES = ("default", "trashed", "all")

# Record types of the channel's stream (app/domain/ids.py `channel_stream`). All but deleted
# carry the folder's whole new state (`{channelId, folder}`); deleted carries `{channelId,
# folderIds, parentId, mergeEventsWithParent, time}`.
FOLDER_CREATED = "folder.created"
FOLDER_UPDATED = "folder.updated"
FOLDER_MOVED = "folder.moved"
FOLDER_TRASHED = "folder.trashed"
FOLDER_DELETED = "folder.deleted"


def unknown_folder(folder_id: str, status: int = 404) -> ApiError:
    """UNKNOWN_FOLDER: 404 when the folder is the request's target, 400 when a parameter
    names it."""
    error = unknown("UNKNOWN_FOLDER", "folder", folder_id)
    error.status = status
    return error


@dataclass(frozen=True)
class Folder:
    """One folder as the read model holds it (no children: they are the tree's business)."""

    id: str
    channel_id: str
    name: str
    parent_id: str | None
    hidden: bool
    client_data: dict[str, Any]
    trashed: bool
    created: float
    modified: float

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Folder:
        return cls(
            id=row["folder_id"],
            channel_id=row["channel_id"],
            name=row["name"],
            parent_id=row["parent_id"],
            hidden=row["hidden"],
            client_data=row["client_data"],
            trashed=row["trashed"],
            created=row["created"],
            modified=row["modified"],
        )

    def state(self) -> dict[str, Any]:
        """The API shape without `children`: what the log records carry."""
        return {
            "id": self.id,
            "channelId": self.channel_id,
            "name": self.name,
            "parentId": self.parent_id,
            "hidden": self.hidden,
            "clientData": self.client_data,
            "trashed": self.trashed,
            "created": self.created,
            "modified": self.modified,
        }

    def changed(self, **changes: Any) -> Folder:
        return dataclasses.replace(self, **changes)


class Tree:
    """A channel's folders, indexed by id and by parent (children sorted by name)."""

    def __init__(self, folders: Iterable[Folder]) -> None:
        self._by_id: dict[str, Folder] = {f.id: f for f in folders}
        self._children: dict[str | None, list[Folder]] = {}
        for folder in self._by_id.values():
            self._children.setdefault(folder.parent_id, []).append(folder)
        for siblings in self._children.values():
            siblings.sort(key=lambda f: (f.name, f.id))

    def __contains__(self, folder_id: object) -> bool:
        return folder_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, folder_id: str | None) -> Folder | None:
        return self._by_id.get(folder_id) if folder_id is not None else None

    def children(self, folder_id: str | None) -> list[Folder]:
        """The folder's children (None: the channel's top folders), sorted by name."""
        return self._children.get(folder_id, [])

    def path(self, folder_id: str) -> list[str]:
        """[the folder, its parent, ..., its top folder]; [] if it does not exist.

        Bounded by the tree's size, so a cycle (which the rules never let happen) cannot hang.
        """
        path: list[str] = []
        current = self._by_id.get(folder_id)
        while current is not None and len(path) <= len(self._by_id):
            path.append(current.id)
            current = self._by_id.get(current.parent_id) if current.parent_id else None
        return path

    def subtree(self, folder_id: str) -> list[str]:
        """The folder's id, then every descendant's, parents before their children."""
        if folder_id not in self._by_id:
            return []
        found = [folder_id]
        for current in found:  # grows while it is walked: a breadth-first walk
            found.extend(child.id for child in self.children(current))
        return found

    def height(self, folder_id: str) -> int:
        """Levels from the folder down to its deepest descendant (1: no children)."""
        depth = {folder_id: 1}
        for current in self.subtree(folder_id):
            for child in self.children(current):
                depth[child.id] = depth[current] + 1
        return max(depth.values())

    def replaced(self, folder: Folder) -> Tree:
        """The tree with one folder added or changed."""
        return Tree([*(f for f in self._by_id.values() if f.id != folder.id), folder])

    def totals(self, own: Mapping[str, float]) -> dict[str, float]:
        """Each folder's own amount plus its descendants' (time counts)."""
        totals = {folder_id: 0.0 for folder_id in self._by_id}
        for folder_id in reversed(self.subtree_order()):
            totals[folder_id] += own.get(folder_id, 0.0)
            parent = self._by_id[folder_id].parent_id
            if parent in totals:
                totals[parent] += totals[folder_id]
        return totals

    def subtree_order(self) -> list[str]:
        """Every folder reachable from the root, parents before their children."""
        found = [f.id for f in self.children(None)]
        for current in found:
            found.extend(child.id for child in self.children(current))
        return found


# --- rules of change ---------------------------------------------------------------------------


def check_name_free(
    tree: Tree, parent_id: str | None, name: str, itself: str | None = None
) -> None:
    """400 ITEM_NAME_ALREADY_EXISTS when a sibling (trashed ones included) has the name (the
    sibling may be outside a shared token's grants: the answer does not describe it)."""
    for sibling in tree.children(parent_id):
        if sibling.name == name and sibling.id != itself:
            raise name_unavailable(name)


def check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise invalid_operation(f"Folders may not nest deeper than {MAX_DEPTH} levels")


def new_folder(
    tree: Tree,
    *,
    folder_id: str,
    channel_id: str,
    parent_id: str | None,
    name: str,
    hidden: bool,
    client_data: dict[str, Any],
    now: float,
) -> Folder:
    """The folder to create, or the reason it cannot be (id or sibling name taken, too deep).

    The parent is known to exist (the caller checked it, with the permission)."""
    if folder_id in tree:  # perhaps a folder outside the grants: not described
        raise id_unavailable(folder_id)
    check_name_free(tree, parent_id, name)
    check_depth(len(tree.path(parent_id)) + 1 if parent_id else 1)
    return Folder(
        id=folder_id,
        channel_id=channel_id,
        name=name,
        parent_id=parent_id,
        hidden=hidden,
        client_data=client_data,
        trashed=False,
        created=now,
        modified=now,
    )


def moved(tree: Tree, folder: Folder, parent_id: str | None, now: float) -> Folder | None:
    """The folder under its new parent; None when it is there already (nothing to record).

    400 INVALID_OPERATION into itself or one of its descendants (the tree would get a cycle and
    lose the subtree from the root), ITEM_NAME_ALREADY_EXISTS among the new siblings."""
    if parent_id is not None and folder.id in tree.path(parent_id):
        raise invalid_operation(
            "A folder cannot move into itself or one of its descendants",
            data={"folderId": folder.id, "parentId": parent_id},
        )
    if parent_id == folder.parent_id:
        return None
    check_name_free(tree, parent_id, folder.name, itself=folder.id)
    check_depth((len(tree.path(parent_id)) if parent_id else 0) + tree.height(folder.id))
    return folder.changed(parent_id=parent_id, modified=now)


def deletion_set(tree: Tree, folder_id: str) -> list[str]:
    """What deleting a folder for good removes: the folder and all its descendants."""
    return tree.subtree(folder_id)


def check_deletion(folder: Folder, has_events: bool, merge: bool | None) -> None:
    """Whether a trashed folder may be deleted for good as asked.

    Its events (trashed ones too) go with it or move to its parent: the caller must say which
    (400 MISSING_PARAMETER), and a top folder has no parent to merge into (INVALID_OPERATION).
    """
    if merge and folder.parent_id is None:
        raise invalid_operation(
            "A top folder has no parent to merge its events with",
            data={"folderId": folder.id},
        )
    if has_events and merge is None:
        raise ApiError(
            400,
            "MISSING_PARAMETER",
            "The folder or its descendants hold events: say whether to merge them with the "
            "parent folder (mergeEventsWithParent=true) or delete them (false)",
            data={"param": "mergeEventsWithParent"},
        )


# --- the view a GET answers --------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """What `GET /{channel}/folders` shows.

    `state`: `default` leaves out every folder in the trash (trashed itself or below a trashed
    folder); `trashed` shows the folders in the trash and, to keep the tree whole, the folders
    on the way to them (these show `trashed: false`); `all` shows everything. Without
    `include_hidden`, a hidden folder is left out with its subtree.
    """

    include_hidden: bool = False
    state: str = "default"


def top_folders(tree: Tree, granted: set[str | None]) -> list[Folder]:
    """The roots of what a credential sees: the channel's top folders for a root grant, else
    each granted folder that is not below another granted one, sorted by name."""
    if None in granted:
        return tree.children(None)
    tops = []
    for folder_id in granted:
        path = tree.path(folder_id) if folder_id is not None else []
        if path and not granted.intersection(path[1:]):
            tops.append(tree.get(folder_id))
    return sorted((f for f in tops if f is not None), key=lambda f: (f.name, f.id))


def render(
    tree: Tree,
    roots: list[Folder],
    view: View,
    time_counts: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """The API shape of the folders at `roots` with their children, as `view` selects them.

    Trash and hidden state pass down: a folder below a trashed (hidden) folder counts as
    trashed (hidden), even if the ancestor lies above the roots.
    """
    inherited: dict[str, tuple[bool, bool]] = {}

    def flags(folder: Folder) -> tuple[bool, bool]:
        """(in the trash, hidden), its own flags or any ancestor's."""
        if folder.id not in inherited:
            parent = tree.get(folder.parent_id)
            up = flags(parent) if parent is not None else (False, False)
            inherited[folder.id] = (up[0] or folder.trashed, up[1] or folder.hidden)
        return inherited[folder.id]

    for root in roots:  # resolve the ancestors top-down once: no deep recursion later
        for folder_id in reversed(tree.path(root.id)):
            if (ancestor := tree.get(folder_id)) is not None:
                flags(ancestor)

    def shown(folder: Folder) -> dict[str, Any] | None:
        in_trash, hidden = flags(folder)
        if (hidden and not view.include_hidden) or (in_trash and view.state == "default"):
            return None
        children = [c for c in (shown(child) for child in tree.children(folder.id)) if c]
        if view.state == "trashed" and not in_trash and not children:
            return None
        out = folder.state()
        out["children"] = children
        if time_counts is not None:
            out["timeCount"] = time_counts.get(folder.id, 0.0)
        return out

    return [f for f in (shown(root) for root in roots) if f is not None]


def whole(tree: Tree, folder: Folder, time_counts: Mapping[str, float] | None = None) -> dict:
    """One folder with its whole subtree (every state, hidden ones too): what a change of the
    folder answers."""
    (shown,) = render(tree, [folder], View(include_hidden=True, state="all"), time_counts)
    return shown
