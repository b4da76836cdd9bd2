"""The web page (docs/api.md §4): `GET /` and the few files it loads from `/static/`.

The files ship inside the package (`app/static/`, package data), so an installed server serves
them without a build step or a separate web server. Only the files that are there are served,
by their plain name (no sub-folders, no `..`); anything else answers the API's JSON 404.

Every answer carries a strict Content-Security-Policy (this server only, no inline script or
style, no framing): whatever a user typed into a name or a comment can never run as code in
another user's page, even if a rendering bug let it into the document.
"""

from __future__ import annotations

import mimetypes
import re
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.domain.errors import ApiError

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Small files that change with each release: the browser asks again, cheaply.
    "Cache-Control": "no-cache",
}
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
          ".html": "text/html"}


def _read(name: str) -> bytes | None:
    """The bytes of `app/static/<name>`, or None if there is no such file."""
    if not _NAME.fullmatch(name):
        return None
    entry = resources.files("app").joinpath("static", name)
    if not entry.is_file():
        return None
    return entry.read_bytes()


def _unknown(request: Request) -> ApiError:
    return ApiError(404, "UNKNOWN_RESOURCE", f"No such resource: {request.url.path}")


def _answer(content: bytes, media_type: str) -> Response:
    if media_type.startswith("text/") or media_type.endswith("+xml"):
        media_type += "; charset=utf-8"
    return Response(content, media_type=media_type, headers=SECURITY_HEADERS)


async def index(request: Request) -> Response:
    """The page itself; `?msg=CONFIRMED` and the like are read by its script."""
    content = _read("index.html")
    if content is None:  # an installation without its package data
        raise _unknown(request)
    return _answer(content, "text/html")


async def static_file(request: Request) -> Response:
    name = request.path_params["name"]
    content = _read(name)
    if content is None:
        raise _unknown(request)
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    media_type = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return _answer(content, media_type)


routes = [
    Route("/", index, methods=["GET"]),
    Route("/static/{name}", static_file, methods=["GET"]),
]
