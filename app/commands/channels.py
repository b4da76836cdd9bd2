"""The mutations of channels: create, update, trash (then delete for good, an activity), each
in the owner's user stream, under its lock. The request's fields arrive checked
(app/http/channels.py reads them); the rules that need the read model are decided here."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import asyncpg

from app.domain import channels as channel_records
from app.domain import client_data
from app.domain.activities import Spec, channel_delete_spec
from app.domain.channels import unknown_channel
from app.domain.errors import id_exists, invalid_operation, name_exists
from app.domain.ids import user_stream
from app.identity.principal import Principal
from app.read.channels import channel_json, load_channel, name_taken
from app.store.transaction import Tx


async def _locked_channel(
    tx: Tx, principal: Principal, channel_id: str
) -> tuple[str, asyncpg.Record]:
    """Locks the owner's user stream and reads the channel (404 `UNKNOWN_CHANNEL` if none)."""
    stream = user_stream(principal.user_id)
    await tx.lock(stream)
    row = await load_channel(tx.conn, principal.user_id, channel_id)
    if row is None:
        raise unknown_channel(channel_id)
    return stream, row


async def _check_name_free(tx: Tx, principal: Principal, name: str) -> None:
    """A user's channels have distinct names (checked under the user stream's lock)."""
    if await name_taken(tx.conn, principal.user_id, name):
        raise name_exists(f"A channel named {name!r} exists")


async def create_channel(
    tx: Tx, principal: Principal, channel_id: str, name: str, fields: Mapping[str, Any]
) -> None:
    """`fields`: the checked body (`enforceNoEventsOverlap`, `clientData`, both optional)."""
    stream = user_stream(principal.user_id)
    await tx.lock(stream)
    if await load_channel(tx.conn, principal.user_id, channel_id):
        raise id_exists(f"A channel with id {channel_id!r} exists")
    await _check_name_free(tx, principal, name)
    await tx.append(
        stream,
        channel_records.CREATED,
        {
            "channelId": channel_id,
            "name": name,
            "enforceNoEventsOverlap": fields.get("enforceNoEventsOverlap", True),
            "clientData": client_data.merge({}, fields.get("clientData") or {}),
            "time": time.time(),
        },
        user_id=principal.user_id,
    )


async def update_channel(
    tx: Tx, principal: Principal, channel_id: str, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """`fields`: the checked body (`name`, `enforceNoEventsOverlap`, `clientData`, `trashed`,
    each optional: what is absent stays). Gives back the channel as it is now."""
    stream, row = await _locked_channel(tx, principal, channel_id)
    name = fields["name"].strip() if "name" in fields else row["name"]
    if name != row["name"]:
        await _check_name_free(tx, principal, name)
    await tx.append(
        stream,
        channel_records.UPDATED,
        {
            "channelId": channel_id,
            "name": name,
            "enforceNoEventsOverlap": fields.get(
                "enforceNoEventsOverlap", row["enforce_no_events_overlap"]
            ),
            "clientData": client_data.merge(row["client_data"], fields.get("clientData") or {}),
            "trashed": fields.get("trashed", row["trashed"]),
            "time": time.time(),
        },
        user_id=principal.user_id,
    )
    return channel_json(await load_channel(tx.conn, principal.user_id, channel_id))


async def delete_channel(tx: Tx, principal: Principal, channel_id: str) -> Spec | dict[str, Any]:
    """Trashes the channel, giving back the trashed channel; a trashed one is deleted for good
    with all its folders and events: an activity (`channel.delete`, its Spec given back)."""
    stream, row = await _locked_channel(tx, principal, channel_id)
    if row["trashed"]:
        return channel_delete_spec(channel_id, row["name"])
    await tx.append(
        stream,
        channel_records.TRASHED,
        {"channelId": channel_id, "time": time.time()},
        user_id=principal.user_id,
    )
    return channel_json(await load_channel(tx.conn, principal.user_id, channel_id))


async def delete_for_good(tx: Tx, principal: Principal, channel_id: str) -> dict[str, Any]:
    """Deletes a trashed channel with everything in it: one record, all or nothing (each read
    model drops the channel's rows in its `channel.deleted` handler). Called by the activities
    runner in the transaction that ends the `channel.delete` activity."""
    stream, row = await _locked_channel(tx, principal, channel_id)
    if not row["trashed"]:
        raise invalid_operation("Only a trashed channel can be deleted for good")
    await tx.append(
        stream,
        channel_records.DELETED,
        {"channelId": channel_id, "time": time.time()},
        user_id=principal.user_id,
    )
    return {"channelDeletion": {"id": channel_id}}
