"""`clientData`: a free JSON object for client apps, merged key by key on update."""

from __future__ import annotations

from typing import Any

import orjson

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
