"""Folders of a channel (docs/api.md §3): the tree, create, modify, move, trash and delete for good.

Reading needs `read-only` over the folder, changing needs `manage` (over the parent to create a
folder, over both places to move one; a root grant for the channel's top level). A folder the
credential cannot read answers 404 `UNKNOWN_FOLDER`, exactly like one that does not exist.

Each write checks the credential twice: before it reads the body (a refused request learns
nothing from its body's faults), and in the command (app/commands/folders.py), against the tree
as it is once the channel's stream is locked (the decision and the records it appends see the
same state).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.commands import folders as folder_commands
from app.domain import body_types as declare
from app.domain import client_data
from app.domain.activities import FOLDER_DELETE, Spec
from app.domain.body_types import BodyType
from app.domain.folders import STATES, View, render, top_folders
from app.domain.ids import new_id
from app.domain.validation import Query
from app.edge.auth import authenticate
from app.edge.body import read_json
from app.edge.responses import JSONResponse, json
from app.http.activity_answers import start_and_answer
from app.identity.folder_access import check_level
from app.identity.permissions import MANAGE, READ
from app.identity.principal import Principal, meta
from app.read.channel_access import channel_for
from app.read.folders import folder_path, load_tree
from app.read.time_counts import folder_time_counts
from app.store import transaction


async def precheck_folder(
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


class NewFolder(BodyType):
    """`POST /{channel}/folders[/{parent}]`."""

    id: str | None = declare.identity(description="chosen by the client, or generated")
    name: str = declare.name(required=True)
    hidden: bool | None = declare.boolean()
    clientData: dict[str, Any] | None = client_data.FIELD


class FolderChanges(BodyType):
    """`PUT /{channel}/folders/{folder}`: what is absent stays."""

    name: str | None = declare.name()
    hidden: bool | None = declare.boolean()
    clientData: dict[str, Any] | None = client_data.FIELD
    trashed: bool | None = declare.boolean()


class FolderMove(BodyType):
    """`POST /{channel}/folders/{folder}/move`."""

    parentId: str | None = declare.identity(required=True, nullable=True,
                                            description="the new parent; null: the top level")


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
    await precheck_folder(request, principal, parent_id, MANAGE)
    new = NewFolder.read(await read_json(request))
    folder_id = new.id or new_id()

    async def command(tx: transaction.Tx) -> str:
        return await folder_commands.create_folder(
            tx,
            principal,
            channel_id,
            parent_id,
            folder_id=folder_id,
            name=new.name.strip(),
            hidden=bool(new.hidden),
            data=new.clientData or {},
        )

    created = await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json({"id": created}, status=201)


# --- PUT: modify -------------------------------------------------------------------------------


async def update_folder(request: Request) -> JSONResponse:
    """Name, hidden, clientData (merged; a null removes the key), and `trashed` (false restores
    a trashed folder; true trashes it, as the first DELETE does)."""
    principal = await authenticate(request)
    channel_id = request.path_params["channel"]
    folder_id = request.path_params["folder"]
    await precheck_folder(request, principal, folder_id, MANAGE)
    fields = FolderChanges.read(await read_json(request)).given_values()
    if "name" in fields:
        fields["name"] = fields["name"].strip()

    async def command(tx: transaction.Tx) -> dict[str, Any]:
        return await folder_commands.update_folder(tx, principal, channel_id, folder_id, fields)

    folder = await transaction.run(request.app.state.pool, command, meta=meta(principal))
    return json(folder)


# --- POST .../move -----------------------------------------------------------------------------


async def move_folder(request: Request) -> JSONResponse:
    principal = await authenticate(request)
    channel_id = request.path_params["channel"]
    folder_id = request.path_params["folder"]
    await precheck_folder(request, principal, folder_id, MANAGE)
    parent_id = FolderMove.read(await read_json(request)).parentId

    async def command(tx: transaction.Tx) -> dict[str, Any]:
        return await folder_commands.move_folder(tx, principal, channel_id, folder_id, parent_id)

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
    await precheck_folder(request, principal, folder_id, MANAGE)
    query = Query(request.query_params)
    merge = query.boolean("mergeEventsWithParent", default=None)
    query.done()

    async def command(tx: transaction.Tx) -> Spec | Response:
        outcome = await folder_commands.delete_folder(tx, principal, channel_id, folder_id, merge)
        if isinstance(outcome, folder_commands.DeletionChecked):
            # Refused now what the work would refuse; the runner deletes: the activity is
            # created in this transaction.
            return Spec(
                type=FOLDER_DELETE,
                title=f"Delete folder {outcome.name!r} for good",
                subtitle=f"{len(outcome.folder_ids)} folder(s)",
                params={"channelId": channel_id, "folderId": folder_id, "merge": merge},
                context={"channelId": channel_id, "folderId": folder_id},
            )
        return json(outcome)

    return await start_and_answer(request, principal, command)


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
