"""Who is acting: a user through a session or a token, with the rights it carries, and the
`meta` every record they cause holds (docs/api.md §1, "credentials")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from app.identity.permissions import Access
from app.logging_setup import request_id

SESSION = "session"
TOKEN = "token"
PERSONAL = "personal"  # the token type with the user's full rights


@dataclass(frozen=True)
class Principal:
    user_id: UUID
    user_name: str
    admin: bool
    kind: str  # SESSION or TOKEN
    credential_hash: str
    access: Access
    token_id: str | None = None
    token_type: str | None = None  # `personal` or `shared`, for a token
    # When a session ends unless it is used again (None for a token): its open streams are
    # closed then (app/realtime/session_expiry.py).
    expires: float | None = None

    @property
    def is_session(self) -> bool:
        return self.kind == SESSION

    @property
    def is_shared_token(self) -> bool:
        """A token that is not the user's own personal one: a third party's, bounded by its
        grants (any type but `personal`, so that an unknown type is never trusted)."""
        return self.kind != SESSION and self.token_type != PERSONAL

    def actor(self) -> dict[str, Any]:
        """Who did it, as `meta.actor` of the records they cause (never the secret itself)."""
        actor: dict[str, Any] = {
            "kind": self.kind,
            "userId": str(self.user_id),
            "userName": self.user_name,
        }
        if self.token_id is not None:
            actor["tokenId"] = self.token_id
        else:
            actor["sessionId"] = self.credential_hash[:16]
        return actor


def meta(principal: Principal | None, **extra: Any) -> dict[str, Any]:
    """The `meta` of the records a request appends: the actor and the request id."""
    m: dict[str, Any] = {"requestId": request_id.get()}
    if principal is not None:
        m["actor"] = principal.actor()
    m.update(extra)
    return m
