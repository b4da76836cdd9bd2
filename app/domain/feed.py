"""The user activity feed (docs/api.md §6): the limits of its entries and queries, the record types
of an edit and a soft deletion, and its refusals. The entries are written by projections/feed.py
and read by app/read/feed.py."""

from __future__ import annotations

from app.domain.errors import ApiError

# Record types of a user's stream: an edit of an entry's text, a soft deletion. Being records,
# a rebuild gives them back.
ENTRY_UPDATED = "feed.entry_updated"
ENTRY_DELETED = "feed.entry_deleted"

MAX_ENTRY_TEXT = 1000  # characters of an entry's text
MAX_LIMIT = 1000  # entries a list answers at most
DEFAULT_LIMIT = 100


def unknown_entry(raw: str) -> ApiError:
    return ApiError(404, "UNKNOWN_RESOURCE", f"Unknown feed entry {raw!r}")


def entry_gone(entry_id: int) -> ApiError:
    return ApiError(410, "GONE", f"The feed entry {entry_id} was deleted")
