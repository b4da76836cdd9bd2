"""Logging: a request id in every line, secrets kept out of every line, and one line per record
whatever a client sends.

A log line quotes what clients chose (the decoded path, a query string, a file or folder name):
a newline in it would end our line and start one the client wrote, a NUL or an escape sequence
would reach whatever reads the log. Every message is written with its control characters
escaped, at the one place every line goes through (the handler's formatter).
"""

from __future__ import annotations

import contextvars
import logging
import re
from urllib.parse import unquote_plus

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Query parameters whose values are secrets: a browser's EventSource sends its credential as `auth`,
# plexapi as `X-Plex-Token` (app/compat/plex.py). Compared with the name as the server reads it.
_SECRET_PARAMS = frozenset({"auth", "token", "password", "sessionid", "x-plex-token"})

# C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators (which some log
# viewers break lines at); the backslash too, so that an escape in the log is never ambiguous.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\\\\]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def escape_controls(text: str) -> str:
    """`text` on one line, printable: control characters as `\\n`, `\\x00`, `\\u2028`, ..."""
    return _CONTROL.sub(_escape, text)


def redact_query(query: str) -> str:
    """The query string as sent, with the value of every secret parameter replaced by `***`.

    Names are compared once percent-decoded, as the server reads them (`au%74h` is `auth`,
    `X-Plex-Tok%65n` is `X-Plex-Token`): a disguised name must not carry a secret into the log.
    """
    pairs = []
    for pair in query.split("&"):
        name, sep, _ = pair.partition("=")
        if sep and unquote_plus(name).lower() in _SECRET_PARAMS:
            pair = f"{name}=***"
        pairs.append(pair)
    return "&".join(pairs)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class OneLineFormatter(logging.Formatter):
    """Escapes the control characters of each message. A traceback after it keeps its lines:
    it is the server's own text, written only for the errors it logs with one."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


def configure(level: str = "info") -> None:
    """Sets up the root logger once per process (uvicorn's access log is replaced by ours)."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        OneLineFormatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("pgserver").setLevel(logging.WARNING)
