"""`clientData`: a free JSON object for client apps, merged key by key on update.

`FIELD` declares the key for the request bodies that carry it (channels and folders, in
app/http): one declaration, so its reading, its size rule and its schema are the same for both,
without one HTTP module importing another.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.domain import body_types as declare

MAX_BYTES = 64 * 1024


def check(value: Any) -> str | None:
    """Why the value is not acceptable as clientData, or None."""
    if not isinstance(value, dict):
        return "clientData must be an object"
    if len(orjson.dumps(value)) > MAX_BYTES:
        return f"clientData may not exceed {MAX_BYTES} bytes"
    return None


def merge(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The given keys replace the current ones; a key set to null is removed."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _problem(value: Any) -> str | None:
    """The size rule; a value that is no object was already refused by its kind."""
    return check(value) if isinstance(value, dict) else None


FIELD = declare.obj(
    check=_problem,
    description=f"free JSON object, merged on update; at most {MAX_BYTES} bytes as JSON")
