"""Who may use the user activity feed (docs/api.md §6), over the native routes and the compat
dialects alike.

The feed tells everything the user did (logins, tokens, every channel): only a credential with
full access (a session or a personal token) may read or change it; a shared token gets 403.
"""

from __future__ import annotations

from app.domain.errors import forbidden
from app.identity.principal import Principal


def check_feed_access(principal: Principal) -> Principal:
    """The principal, if the feed is theirs to read; else 403 `FORBIDDEN`."""
    if not principal.access.full:
        raise forbidden("The activity feed needs a session or a personal token")
    return principal
