"""The JSON body of a request, read through the one parser every JSON input takes
(app/domain/validation.py `parse_json`: no NUL, bounded nesting)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from app.domain.validation import parse_json


async def read_json(request: Request) -> Any:
    """The body's JSON; an empty body reads as `{}` (routes whose fields are all optional)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    return parse_json(raw)
