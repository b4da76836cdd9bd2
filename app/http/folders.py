"""Folders of a channel (API.md §3): the tree, create, modify, move, trash and delete for good.

Reading needs `read-only` over the folder, changing needs `manage` (over the parent to create a
folder, over both places to move one; a root grant for the channel's top level). A folder the
credential cannot read answers 404 `UNKNOWN_FOLDER`, exactly like one that does not exist.

Each write checks the credential twice: before it reads the body (a refused request learns
nothing from its body's faults), and in the command, against the tree as it is once the
channel's stream is locked (the decision and the records it appends see the same state).
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.domain import client_data
from app.domain.activities import Spec
from app.domain.errors import forbidden, invalid_operation
from app.domain.folders import (
    STATES,
    Folder,
    Tree,
    View,
    check_deletion,
    check_name_free,
    deletion_set,
    moved,
    new_folder,
    render,
    top_folders,
    whole,
)
from app.domain.ids import channel_stream, new_id
from app.domain.validation import Body, Query
from app.edge.auth import authenticate
from app.edge.body import read_json
from app.edge.responses import JSONResponse, json
from app.http.activity_answers import start_and_answer
from app.http.data_access import channel_for, channel_for_change, folder_path, unknown_folder
from app.identity.permissions import EVENTS_WRITE, MANAGE, READ
from app.identity.principal import Principal, meta
from app.read.time_counts import folder_time_counts
from app.store import transaction

_COLUMNS = (
    "folder_id, channel_id, name, parent_id, hidden, client_data, trashed, created, modified"
)


async def load_tree(conn: asyncpg.Connection, user_id: Any, channel_id: str) -> Tree:
    """The channel's whole folder tree, from the read model."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM folders WHERE user_id = $1 AND channel_id = $2",
        user_id,
        channel_id,
    )
    return Tree(Folder.from_row(row) for row in rows)


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


async def precheck(
    request: Request, principal: Principal, folder_id: str | None, level: int
) -> None:
    """The channel and the folder exist for the credential, which holds `level` there."""
    channel_id = request.path_params["channel"]
    async with request.app.state.pool.acquire() as conn:
        await channel_for(conn, principal, channel_id)
        path: list[str] | None = []
        if folder_id is not None:
            path = await folder_path(conn, principal.user_id, channel_id, folder_id)
    check_level(principal, channel_id, folder_id, path, level)


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


def _check_client_data(body: Body) -> None:
    data = body.obj("clientData")
    if isinstance(data, dict) and (problem := client_data.check(data)):
        body.fail("clientData", problem)


# --- GET: the tree -----------------------------------------------------------------------------


async def list_folders(request: Request) -> JSONResponse:
    """The tree from the channel's top (for a folder-scoped token: its granted folders) or the
    children of `folder`, as `includeHidden` and `state` select, with `timeCount` on request."""
    principal = await authenticate(request)
    channel_id = request.path_params["channel"]
    folder_id = request.path_params.get("folder")
    query = Query(request.query_params)
    view = View(
        include_hidden=query.boolean("includeHidden"),
        state=query.text("state", choices=STATES, default="default"),
    )
    base = query.number("timeCountBase")
    query.done()
    async with request.app.state.pool.acquire() as conn, conn.transaction(
        isolation="repeatable_read", readonly=True
    ):
        await channel_for(conn, principal, channel_id)
        tree = await load_tree(conn, principal.user_id, channel_id)
        if folder_id is not None:
            check_level(principal, channel_id, folder_id, tree.path(folder_id), READ)
            roots = tree.children(folder_id)
        else:
            roots = top_folders(tree, principal.access.granted_folders(channel_id))
        counts = None
        if base is not None:
            counts = await folder_time_counts(conn, principal.user_id, channel_id, tree, base)
    return json(render(tree, roots, view, counts))


# --- POST: create ------------------------------------------------------------------------------


async def create_folder(request: Request) -> JSONResponse:
    principal = await authenticate(request)
    channel_id = request.path_params["channel"]
    parent_id = request.path_params.get("folder")
    await precheck(request, principal, parent_id, MANAGE)
    body = Body(await read_json(request), allowed={"id", "name", "hidden", "clientData"})
    body.identity("id")
    body.name("name", required=True)
    body.boolean("hidden")
    _check_client_data(body)
    body.done()
    folder_id = body.data.get("id") or new_id()

    async def command(tx: transaction.Tx) -> str:
        tree = await locked_tree(tx, principal, channel_id)
        path = tree.path(parent_id) if parent_id else []
        check_level(principal, channel_id, parent_id, path, MANAGE)
        folder = new_folder(
            tree,
            folder_id=folder_id,
            channel_id=channel_id,
            parent_id=parent_id,
            name=body.data["name"].strip(),
            hidden=bool(body.data.get("hidden", False)),
            client_data=client_data.merge({}, body.data.get("clientData") or {}),
            now=time.time(),
        )
        await append_state(tx, principal, "folder.created", folder)
        return folder.id

    created = await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json({"id": created}, status=201)


# --- PUT: modify -------------------------------------------------------------------------------


async def update_folder(request: Request) -> JSONResponse:
    """Name, hidden, clientData (merged; a null removes the key), and `trashed` (false restores
    a trashed folder; true trashes it, as the first DELETE does)."""
    principal = await authenticate(request)
    channel_id = request.path_params["channel"]
    folder_id = request.path_params["folder"]
    await precheck(request, principal, folder_id, MANAGE)
    body = Body(
        await read_json(request), allowed={"name", "hidden", "clientData", "trashed"}
    )
    body.name("name")
    body.boolean("hidden")
    _check_client_data(body)
    body.boolean("trashed")
    body.done()

    async def command(tx: transaction.Tx) -> dict[str, Any]:
        tree = await locked_tree(tx, principal, channel_id)
        folder = folder_at(principal, channel_id, tree, folder_id, MANAGE)
        name = body.data["name"].strip() if body.has("name") else folder.name
        if name != folder.name:
            check_name_free(tree, folder.parent_id, name, itself=folder.id)
        trashed = body.data.get("trashed", folder.trashed)
        changed = folder.changed(
            name=name,
            hidden=body.data.get("hidden", folder.hidden),
            client_data=client_data.merge(folder.client_data, body.data.get("clientData") or {}),
            trashed=trashed,
            modified=time.time(),
        )
        record = "folder.trashed" if trashed and not folder.trashed else "folder.updated"
        await append_state(tx, principal, record, changed)
        return whole(tree.replaced(changed), changed)

    folder = await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json(folder)


# --- POST .../move -----------------------------------------------------------------------------


async def move_folder(request: Request) -> JSONResponse:
    principal = await authenticate(request)
    channel_id = request.path_params["channel"]
    folder_id = request.path_params["folder"]
    await precheck(request, principal, folder_id, MANAGE)
    body = Body(await read_json(request), allowed={"parentId"})
    body.identity("parentId", required=True, nullable=True)
    body.done()
    parent_id: str | None = body.data["parentId"]

    async def command(tx: transaction.Tx) -> dict[str, Any]:
        tree = await locked_tree(tx, principal, channel_id)
        folder = folder_at(principal, channel_id, tree, folder_id, MANAGE)
        path = tree.path(parent_id) if parent_id else []
        check_level(principal, channel_id, parent_id, path, MANAGE, missing_status=400)
        changed = moved(tree, folder, parent_id, time.time())
        if changed is None:  # already there: nothing changes, nothing is recorded
            return whole(tree, folder)
        await append_state(tx, principal, "folder.moved", changed)
        return whole(tree.replaced(changed), changed)

    folder = await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json(folder)


# --- DELETE: trash, then delete for good -------------------------------------------------------


async def delete_folder(request: Request) -> Response:
    """Trashes the folder (200, the folder); a trashed one is deleted for good with its
    descendants, its events merged or deleted: an activity (`folder.delete`) whose answer,
    once done, is 200 `{"folderDeletion": {"id"}}` (see app/http/activity_answers.py)."""
    principal = await authenticate(request)
    channel_id = request.path_params["channel"]
    folder_id = request.path_params["folder"]
    await precheck(request, principal, folder_id, MANAGE)
    query = Query(request.query_params)
    merge = query.boolean("mergeEventsWithParent", default=None)
    query.done()

    async def command(tx: transaction.Tx) -> Spec | Response:
        tree = await locked_tree(tx, principal, channel_id)
        folder = folder_at(principal, channel_id, tree, folder_id, MANAGE)
        if folder.trashed:
            # Refuse now what the work would refuse (same checks, same state), then let the
            # runner delete: the activity is created in this transaction.
            folder_ids = await check_delete_for_good(tx, principal, channel_id, folder_id, merge)
            return Spec(
                type="folder.delete",
                title=f"Delete folder {folder.name!r} for good",
                subtitle=f"{len(folder_ids)} folder(s)",
                params={"channelId": channel_id, "folderId": folder_id, "merge": merge},
                context={"channelId": channel_id, "folderId": folder_id},
            )
        trashed = folder.changed(trashed=True, modified=time.time())
        await append_state(tx, principal, "folder.trashed", trashed)
        return json(whole(tree.replaced(trashed), trashed))

    return await start_and_answer(request, principal, command)


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
    has_events = await tx.conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM events
                          WHERE user_id = $1 AND channel_id = $2 AND folder_id = ANY($3))""",
        principal.user_id,
        channel_id,
        folder_ids,
    )
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
        "folder.deleted",
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


# Channel-scoped: after every fixed path in the application's route list.
routes = [
    Route("/{channel}/folders", list_folders, methods=["GET"]),
    Route("/{channel}/folders", create_folder, methods=["POST"]),
    Route("/{channel}/folders/{folder}", list_folders, methods=["GET"]),
    Route("/{channel}/folders/{folder}", create_folder, methods=["POST"]),
    Route("/{channel}/folders/{folder}", update_folder, methods=["PUT"]),
    Route("/{channel}/folders/{folder}", delete_folder, methods=["DELETE"]),
    Route("/{channel}/folders/{folder}/move", move_folder, methods=["POST"]),
]
