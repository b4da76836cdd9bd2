"""What a request's path and query string may hold, checked once before any route sees them.

PostgreSQL refuses NUL in text: a NUL reaching a query (`/{channel}/events/a%00b`, `/wo%00rk`,
`?tags=a%00`) used to fail there with a 500. No identity, file name or number this API serves
holds a NUL or another control character, so such a path names nothing (404), and a NUL in a
query string is a bad parameter (400), whichever route it is for.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette.types import Scope

from app.domain.errors import ApiError, invalid_parameters, sub_error

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def refusal(scope: Scope) -> ApiError | None:
    """Why the request's target is refused before routing, or None."""
    if _CONTROL.search(scope["path"]):
        return ApiError(404, "UNKNOWN_RESOURCE", "No such resource")
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        # Named as Starlette reads them (latin-1, then percent-decoded as UTF-8).
        names = sorted({
            name.replace("\x00", "\\0")
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            if "\x00" in name or "\x00" in value
        })
        if names:
            return invalid_parameters(
                [sub_error(name, f"{name!r} may not contain NUL characters") for name in names]
            )
    return None
