"""Data access tokens (docs/api.md §2 "Token"): their types, record types and refusals."""

from __future__ import annotations

from app.domain.errors import ApiError, unknown

# Record types of a user's stream, read by projections/tokens.py.
TOKEN_CREATED = "token.created"
TOKEN_UPDATED = "token.updated"
TOKEN_REVOKED = "token.revoked"

SHARED = "shared"  # bounded by its grants; `personal` (app/identity/principal.py) has them all
TOKEN_TYPES = ("personal", SHARED)


def unknown_token(token_id: str) -> ApiError:
    return unknown("UNKNOWN_TOKEN", "token", token_id)
