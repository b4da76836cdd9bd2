"""Channels: their record types (in the owner's user stream, app/domain/ids.py
`user_stream`) and the error that names an unknown one."""

from __future__ import annotations

from app.domain.errors import ApiError, unknown

CREATED = "channel.created"
UPDATED = "channel.updated"
TRASHED = "channel.trashed"
DELETED = "channel.deleted"


def unknown_channel(channel_id: str) -> ApiError:
    return unknown("UNKNOWN_CHANNEL", "channel", channel_id)
