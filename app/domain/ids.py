"""Identities: what a client may choose, what the server generates, and stream names."""

from __future__ import annotations

import re
import secrets
from uuid import UUID

# Always `fullmatch`ed: `match` lets `$` end before a trailing newline (`"work\n"`).
IDENTITY = re.compile(r"^[a-zA-Z0-9._-]{1,100}$")
# A number in a path (a feed entry id): ASCII digits only. `str.isdigit` also takes `²` (which
# `int` refuses) and `٣` (which `int` reads as 3).
_NUMBER = re.compile(r"[0-9]{1,18}")

# First segments of this API's routes (and their neighbours), which a channel id would shadow.
RESERVED_CHANNEL_IDS = frozenset(
    {
        ".",
        "..",
        "channels",
        "activities",
        "tokens",
        "stream",
        "ws",
        "system",
        "login",
        "logout",
        "user-info",
        "change-password",
        "user-activity",
        "health",
        "ready",
        "openapi.json",
        "compat",
        "static",
        "favicon.ico",
        "robots.txt",
        "index.html",
        "api",
    }
)

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_id() -> str:
    """A 25-character random id (24 base-36 digits, about 124 bits), valid as an Identity.

    One read of the system's random source per id, then plain arithmetic: a batch makes
    100,000 ids, and drawing each character from `secrets.choice` cost 0.3 ms an id."""
    number = int.from_bytes(secrets.token_bytes(16), "big")
    digits = []
    for _ in range(24):
        number, digit = divmod(number, 36)
        digits.append(_ALPHABET[digit])
    return "c" + "".join(digits)


def is_identity(value: object) -> bool:
    return isinstance(value, str) and IDENTITY.fullmatch(value) is not None


def number_id(raw: str) -> int | None:
    """The number a path segment names (ASCII digits, at most 18), or None."""
    return int(raw) if _NUMBER.fullmatch(raw) else None


def uuid_id(raw: str) -> UUID | None:
    """The UUID a client gives (in ASCII: `UUID` also reads Unicode digits), or None."""
    if not raw.isascii():
        return None
    try:
        return UUID(raw)
    except ValueError:
        return None


# Stream names. Everything a user owns starts with their id, the key we would shard by.
def user_stream(user_id: UUID) -> str:
    """The user's account: profile, password, sessions, tokens and the list of channels."""
    return f"user-{user_id}"


def channel_stream(user_id: UUID, channel_id: str) -> str:
    """A channel's content: folders and events. One stream, so its rules are checked together."""
    return f"channel-{user_id}-{channel_id}"
