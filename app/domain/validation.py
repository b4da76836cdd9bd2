"""Reading request bodies and query strings: every problem is collected, then reported at once.

Handlers declare what they read (`Body.text("name", required=True)`, ...) and call `done()`;
the result is a 400 `INVALID_PARAMETERS_FORMAT` naming every offending parameter, or, for a
body that is not a JSON object, `INVALID_REQUEST_STRUCTURE`.

Every JSON the server reads (bodies, the `event` part of an upload, WebSocket messages) goes
through `parse_json`, which refuses what no field may hold, once, at the edge: a NUL character
anywhere (keys included) and nesting deeper than `MAX_DEPTH`. A NUL in a query string or a
path never reaches a handler either (app/http/request_target.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any, Protocol

import orjson

from app.domain.errors import ApiError, invalid_parameters, invalid_structure, sub_error
from app.domain.ids import IDENTITY

MISSING: Any = object()
MAX_TEXT = 10_000
# Sane bounds for timestamps (seconds since the epoch): year 1900 to year 2500.
MIN_TIME = -2_208_988_800.0
MAX_TIME = 16_725_225_600.0
# Arrays and objects nest at most this deep in any JSON read (the document itself is level 1).
# orjson writes at most 255 levels: clientData nested deeper was accepted, then failed to be
# written (500). 64 leaves room for any real clientData.
MAX_DEPTH = 64
# A NUL in JSON text can only be the escape `\u0000` (raw control characters are invalid),
# preceded by an even number of backslashes (after an odd number it is the text `u0000`).
# PostgreSQL refuses NUL in text and in jsonb, keys included.
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_INTEGER = re.compile(r"-?[0-9]+")


def parse_json(raw: bytes, what: str = "The body") -> Any:
    """`raw` parsed, or 400 naming `what` when it is not JSON or nests deeper than `MAX_DEPTH`
    (`INVALID_REQUEST_STRUCTURE`), or holds a NUL character (`INVALID_PARAMETERS_FORMAT`
    naming the fields that hold it)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if exc.msg.startswith("depth limit"):  # orjson's own limit, 1,024
            raise _too_deep(what) from None
        raise invalid_structure(f"{what} is not valid JSON: {exc.msg}") from None
    if _NUL_ESCAPE.search(raw):
        raise _holds_nul(what, value)
    if _nests_deeper(value, MAX_DEPTH):
        raise _too_deep(what)
    return value


def _holds_nul(what: str, value: Any) -> ApiError:
    """The refusal of a document holding a NUL: naming the fields of an object that hold one
    (in their value, at any depth, or in their own name), like any other bad field."""
    fields = [
        key.replace("\x00", "\\0")
        for key, item in (value.items() if isinstance(value, dict) else ())
        if "\x00" in key or _nul_inside(item)
    ]
    if not fields:
        return invalid_structure(f"{what} may not hold NUL characters (\\u0000)")
    return invalid_parameters(
        [sub_error(field, f"{field!r} may not hold NUL characters (\\u0000)") for field in fields]
    )


def _nul_inside(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _too_deep(what: str) -> ApiError:
    return invalid_structure(f"{what} may nest arrays and objects at most {MAX_DEPTH} levels deep")


def _nests_deeper(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels deep. Level by level rather than
    recursively: what orjson reads (1,024 levels) is deeper than Python's recursion limit."""
    level = [value] if isinstance(value, dict | list) else []
    for _ in range(limit):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


def is_number(value: Any) -> bool:
    """A finite JSON number (`true` is an int to Python, not a number here)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


class _Reader:
    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def fail(self, param: str, message: str) -> Any:
        self.errors.append(sub_error(param, message))
        return MISSING

    def done(self) -> None:
        if self.errors:
            raise invalid_parameters(self.errors)


class Body(_Reader):
    """A JSON object body. Keys outside `allowed` are refused, so typos do not pass silently."""

    def __init__(self, data: Any, allowed: Iterable[str] | None = None) -> None:
        super().__init__()
        if not isinstance(data, dict):
            raise invalid_structure("The body must be a JSON object")
        self.data: dict[str, Any] = data
        if allowed is not None:
            for key in data:
                if key not in allowed:
                    self.fail(key, f"Unknown parameter {key!r}")

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str, required: bool, nullable: bool) -> tuple[bool, Any]:
        """(present-and-to-be-checked, value). An absent key reads as None: use `has` to tell
        an absent key from an explicit null where that matters (updates)."""
        if key not in self.data:
            if required:
                self.fail(key, f"{key!r} is required")
            return False, None
        value = self.data[key]
        if value is None:
            if not nullable:
                self.fail(key, f"{key!r} may not be null")
                return False, MISSING
            return False, None
        return True, value

    def text(
        self,
        key: str,
        *,
        required: bool = False,
        nullable: bool = False,
        min_len: int = 0,
        max_len: int = MAX_TEXT,
    ) -> Any:
        check, value = self._get(key, required, nullable)
        if not check:
            return value
        if not isinstance(value, str):
            return self.fail(key, f"{key!r} must be a string")
        if not min_len <= len(value) <= max_len:
            return self.fail(key, f"{key!r} must have {min_len} to {max_len} characters")
        return value

    def name(self, key: str = "name", *, required: bool = False) -> Any:
        """A display name: non-empty once stripped, at most 255 characters."""
        value = self.text(key, required=required, min_len=1, max_len=255)
        if isinstance(value, str) and not value.strip():
            return self.fail(key, f"{key!r} may not be blank")
        return value

    def identity(self, key: str, *, required: bool = False, nullable: bool = False) -> Any:
        check, value = self._get(key, required, nullable)
        if not check:
            return value
        if not isinstance(value, str) or not IDENTITY.fullmatch(value):
            return self.fail(key, f"{key!r} must match {IDENTITY.pattern}")
        return value

    def boolean(self, key: str, *, required: bool = False, nullable: bool = False) -> Any:
        check, value = self._get(key, required, nullable)
        if check and not isinstance(value, bool):
            return self.fail(key, f"{key!r} must be a boolean")
        return value

    def number(
        self,
        key: str,
        *,
        required: bool = False,
        nullable: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> Any:
        check, value = self._get(key, required, nullable)
        if not check:
            return value
        if not is_number(value):
            return self.fail(key, f"{key!r} must be a number")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            return self.fail(key, f"{key!r} is out of range")
        return float(value)

    def time(self, key: str, *, required: bool = False, nullable: bool = False) -> Any:
        return self.number(key, required=required, nullable=nullable, minimum=MIN_TIME,
                           maximum=MAX_TIME)

    def obj(self, key: str, *, required: bool = False, nullable: bool = False) -> Any:
        check, value = self._get(key, required, nullable)
        if check and not isinstance(value, dict):
            return self.fail(key, f"{key!r} must be an object")
        return value

    def array(self, key: str, *, required: bool = False, nullable: bool = False) -> Any:
        check, value = self._get(key, required, nullable)
        if check and not isinstance(value, list):
            return self.fail(key, f"{key!r} must be an array")
        return value


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class Params(Protocol):
    """A query string's parameters (Starlette's `QueryParams`, or any multi-mapping)."""

    def get(self, key: str) -> str | None: ...

    def getlist(self, key: str) -> list[str]: ...


class Query(_Reader):
    """Query-string parameters. Repeatable ones also accept comma-separated values."""

    def __init__(self, params: Params) -> None:
        super().__init__()
        self.params = params

    def text(self, key: str, *, choices: Iterable[str] | None = None, default: Any = None) -> Any:
        value = self.params.get(key)
        if value is None:
            return default
        if len(value) > MAX_TEXT:
            return self.fail(key, f"{key!r} is not acceptable")
        if choices is not None and value not in choices:
            return self.fail(key, f"{key!r} must be one of {', '.join(choices)}")
        return value

    def boolean(self, key: str, default: bool = False) -> Any:
        value = self.params.get(key)
        if value is None:
            return default
        if value.lower() in _TRUE or value == "":
            return True
        if value.lower() in _FALSE:
            return False
        return self.fail(key, f"{key!r} must be true or false")

    def number(
        self, key: str, *, default: Any = None, minimum: float = MIN_TIME, maximum: float = MAX_TIME
    ) -> Any:
        value = self.params.get(key)
        if value is None or value == "":
            return default
        try:
            number = ascii_float(value)
        except ValueError:
            return self.fail(key, f"{key!r} must be a number")
        if not math.isfinite(number) or not minimum <= number <= maximum:
            return self.fail(key, f"{key!r} is out of range")
        return number

    def integer(self, key: str, *, default: Any = None, minimum: int = 0,
                maximum: int = 1_000_000_000) -> Any:
        value = self.params.get(key)
        if value is None or value == "":
            return default
        if not _INTEGER.fullmatch(value):
            return self.fail(key, f"{key!r} must be an integer")
        number = int(value) if len(value) <= 20 else None  # longer: out of any range here
        if number is None or not minimum <= number <= maximum:
            return self.fail(key, f"{key!r} must be between {minimum} and {maximum}")
        return number

    def many(self, key: str) -> list[str]:
        """All values of a repeatable parameter, comma-separated ones split; [] when absent."""
        values: list[str] = []
        for raw in self.params.getlist(key):
            values.extend(part.strip() for part in raw.split(",") if part.strip())
        for value in values:
            if len(value) > 1000:
                self.fail(key, f"{key!r} holds an unacceptable value")
                return []
        return values


def ascii_float(text: str) -> float:
    """A number written with ASCII digits; ValueError otherwise (`float` also reads `٣` and
    the other Unicode digits)."""
    if not text.isascii():
        raise ValueError(text)
    return float(text)


def require(condition: bool, error: ApiError) -> None:
    if not condition:
        raise error
