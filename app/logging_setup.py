"""Logging: a request id in every line, and secrets kept out of every line."""

from __future__ import annotations

import contextvars
import logging
import re

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Query parameters whose values are secrets: a browser's EventSource sends its credential as `auth`,
# plexapi as `X-Plex-Token` (app/compat/plex.py).
_SECRET_PARAMS = re.compile(r"(?i)(^|&)(auth|token|password|sessionid|x-plex-token)=[^&]*")


def redact_query(query: str) -> str:
    return _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}{m.group(2)}=***", query)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def configure(level: str = "info") -> None:
    """Sets up the root logger once per process (uvicorn's access log is replaced by ours)."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("pgserver").setLevel(logging.WARNING)
