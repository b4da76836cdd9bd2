"""Folder commands (docs/api.md §3): create, modify, move, trash and delete for good.

Changing needs `manage` (over the parent to create a folder, over both places to move one; a
root grant for the channel's top level). Each command locks the channel's stream, then checks
the credential against the tree as it is (app/domain/folders.py decides): the decision and the
records it appends see the same state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from app.domain import client_data
from app.domain.errors import forbidden, invalid_operation
from app.domain.folders import (
    FOLDER_CREATED,
    FOLDER_DELETED,
    FOLDER_MOVED,
    FOLDER_TRASHED,
    FOLDER_UPDATED,
    Folder,
    Tree,
    check_deletion,
    check_name_free,
    deletion_set,
    moved,
    new_folder,
    whole,
)
from app.domain.ids import channel_stream
from app.identity.folder_access import check_level
from app.identity.permissions import EVENTS_WRITE, MANAGE
from app.identity.principal import Principal
from app.read.channel_access import channel_for_change
from app.read.events import has_events_in
from app.read.folders import load_tree
from app.store import transaction


async def locked_tree(tx: transaction.Tx, principal: Principal, channel_id: str) -> Tree:
    """Locks the channel's stream (and holds its row), then loads the tree to decide on."""
    await tx.lock(channel_stream(principal.user_id, channel_id))
    await channel_for_change(tx.conn, principal, channel_id)
    return await load_tree(tx.conn, principal.user_id, channel_id)


def folder_at(
    principal: Principal, channel_id: str, tree: Tree, folder_id: str, level: int
) -> Folder:
    check_level(principal, channel_id, folder_id, tree.path(folder_id), level)
    folder = tree.get(folder_id)
    assert folder is not None  # check_level refused a missing folder
    return folder


async def append_state(
    tx: transaction.Tx, principal: Principal, record_type: str, folder: Folder
) -> None:
    await tx.append(
        channel_stream(principal.user_id, folder.channel_id),
        record_type,
        {"channelId": folder.channel_id, "folder": folder.state()},
        user_id=principal.user_id,
    )


async def create_folder(
    tx: transaction.Tx,
    principal: Principal,
    channel_id: str,
    parent_id: str | None,
    *,
    folder_id: str,
    name: str,
    hidden: bool,
    data: dict[str, Any],
) -> str:
    """A new folder under `parent_id` (None: the channel's top); its id."""
    tree = await locked_tree(tx, principal, channel_id)
    path = tree.path(parent_id) if parent_id else []
    check_level(principal, channel_id, parent_id, path, MANAGE)
    folder = new_folder(
        tree,
        folder_id=folder_id,
        channel_id=channel_id,
        parent_id=parent_id,
        name=name,
        hidden=hidden,
        client_data=client_data.merge({}, data),
        now=time.time(),
    )
    await append_state(tx, principal, FOLDER_CREATED, folder)
    return folder.id


async def update_folder(
    tx: transaction.Tx,
    principal: Principal,
    channel_id: str,
    folder_id: str,
    fields: dict[str, Any],
) -> dict[str, Any]:
    """Name, hidden, clientData (merged; a null removes the key), and `trashed` (false restores
    a trashed folder; true trashes it, as the first DELETE does), as far as `fields` has them
    (`name` stripped). The folder as it ends up, with its children."""
    tree = await locked_tree(tx, principal, channel_id)
    folder = folder_at(principal, channel_id, tree, folder_id, MANAGE)
    name = fields.get("name", folder.name)
    if name != folder.name:
        check_name_free(tree, folder.parent_id, name, itself=folder.id)
    trashed = fields.get("trashed", folder.trashed)
    changed = folder.changed(
        name=name,
        hidden=fields.get("hidden", folder.hidden),
        client_data=client_data.merge(folder.client_data, fields.get("clientData") or {}),
        trashed=trashed,
        modified=time.time(),
    )
    record = FOLDER_TRASHED if trashed and not folder.trashed else FOLDER_UPDATED
    await append_state(tx, principal, record, changed)
    return whole(tree.replaced(changed), changed)


async def move_folder(
    tx: transaction.Tx,
    principal: Principal,
    channel_id: str,
    folder_id: str,
    parent_id: str | None,
) -> dict[str, Any]:
    """The folder under `parent_id` (None: the channel's top), with its children."""
    tree = await locked_tree(tx, principal, channel_id)
    folder = folder_at(principal, channel_id, tree, folder_id, MANAGE)
    path = tree.path(parent_id) if parent_id else []
    check_level(principal, channel_id, parent_id, path, MANAGE, missing_status=400)
    changed = moved(tree, folder, parent_id, time.time())
    if changed is None:  # already there: nothing changes, nothing is recorded
        return whole(tree, folder)
    await append_state(tx, principal, FOLDER_MOVED, changed)
    return whole(tree.replaced(changed), changed)


@dataclass(frozen=True)
class DeletionChecked:
    """A DELETE of a trashed folder, checked: what deleting it for good would remove. Nothing
    is recorded yet: `delete_for_good` does it (the `folder.delete` activity's work)."""

    name: str
    folder_ids: list[str]


async def delete_folder(
    tx: transaction.Tx,
    principal: Principal,
    channel_id: str,
    folder_id: str,
    merge: bool | None,
) -> dict[str, Any] | DeletionChecked:
    """Trashes the folder (the folder, with its children); a trashed one is checked for its
    deletion for good (`DeletionChecked`: refused now what the work would refuse, same checks,
    same state)."""
    tree = await locked_tree(tx, principal, channel_id)
    folder = folder_at(principal, channel_id, tree, folder_id, MANAGE)
    if folder.trashed:
        folder_ids = await check_delete_for_good(tx, principal, channel_id, folder_id, merge)
        return DeletionChecked(name=folder.name, folder_ids=folder_ids)
    trashed = folder.changed(trashed=True, modified=time.time())
    await append_state(tx, principal, FOLDER_TRASHED, trashed)
    return whole(tree.replaced(trashed), trashed)


async def check_delete_for_good(
    tx: transaction.Tx,
    principal: Principal,
    channel_id: str,
    folder_id: str,
    merge: bool | None,
) -> list[str]:
    """Whether the trashed folder may be deleted for good as asked (raises if not); the ids
    the deletion would remove. Locks and loads everything itself."""
    tree = await locked_tree(tx, principal, channel_id)
    folder = folder_at(principal, channel_id, tree, folder_id, MANAGE)
    if not folder.trashed:
        raise invalid_operation("Only a trashed folder can be deleted for good")
    folder_ids = deletion_set(tree, folder_id)
    has_events = await has_events_in(tx.conn, principal.user_id, channel_id, folder_ids)
    check_deletion(folder, has_events, merge)
    if merge and has_events and folder.parent_id is not None:
        parent_path = tree.path(folder.parent_id)
        if principal.access.folder_level(channel_id, parent_path) < EVENTS_WRITE:
            raise forbidden("Merging the events needs events-write over the parent folder")
    return folder_ids


async def delete_for_good(
    tx: transaction.Tx,
    principal: Principal,
    channel_id: str,
    folder_id: str,
    merge: bool | None,
) -> dict[str, Any]:
    """Deletes a trashed folder and its descendants in one record, all or nothing.

    Self-contained (it locks, loads and checks everything itself): the activities runner
    calls it in the transaction that ends the `folder.delete` activity. Events of the deleted
    folders (trashed ones too) are moved to the parent (`merge`) or deleted by the events
    projection's `folder.deleted` handler; merging needs `events-write` over the parent.
    """
    folder_ids = await check_delete_for_good(tx, principal, channel_id, folder_id, merge)
    tree = await load_tree(tx.conn, principal.user_id, channel_id)
    folder = tree.get(folder_id)
    assert folder is not None  # checked above, under the channel's lock
    await tx.append(
        channel_stream(principal.user_id, channel_id),
        FOLDER_DELETED,
        {
            "channelId": channel_id,
            "folderIds": folder_ids,
            "parentId": folder.parent_id,
            "mergeEventsWithParent": bool(merge),
            "time": time.time(),
        },
        user_id=principal.user_id,
    )
    return {"folderDeletion": {"id": folder_id}}
