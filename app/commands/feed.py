"""Feed commands (docs/api.md §6): edit an entry's text, soft-delete an entry. Each is a record of
the user's stream (`feed.entry_updated`, `feed.entry_deleted`) that projections/feed.py applies, so
a rebuild gives them back. The native routes and the compat dialects call these alike; who may is
app/identity/feed_access.py."""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from app.domain.feed import ENTRY_DELETED, ENTRY_UPDATED
from app.domain.ids import user_stream
from app.identity.principal import Principal, meta
from app.read.feed import entry_json, entry_row, load_entry
from app.store import transaction


async def _change_entry(
    pool: asyncpg.Pool, principal: Principal, entry_id: int, record_type: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    """Appends an edit or a soft deletion of the entry (404 unknown, 410 already deleted);
    gives back the entry as it now is, in the native shape."""

    async def command(tx: transaction.Tx) -> dict[str, Any]:
        stream = user_stream(principal.user_id)
        await tx.lock(stream)
        await load_entry(tx.conn, principal.user_id, entry_id)
        await tx.append(stream, record_type,
                        {"entryId": str(entry_id), **data, "time": time.time()},
                        user_id=principal.user_id)
        return entry_json(await entry_row(tx.conn, principal.user_id, entry_id))

    return await transaction.run(pool, command, meta=meta(principal))


async def edit_entry_text(
    pool: asyncpg.Pool, principal: Principal, entry_id: int, text: str
) -> dict[str, Any]:
    """Sets the entry's `text` (checked by the caller: app/domain/feed.py `MAX_ENTRY_TEXT`)."""
    return await _change_entry(pool, principal, entry_id, ENTRY_UPDATED, {"text": text})


async def delete_entry(pool: asyncpg.Pool, principal: Principal, entry_id: int
                       ) -> dict[str, Any]:
    """Soft delete: the entry stays, with `deletedAt`, `deletedBy`, `isActive: false`."""
    return await _change_entry(pool, principal, entry_id, ENTRY_DELETED, {})
