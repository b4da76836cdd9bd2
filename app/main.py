"""The ASGI application: routes, the conventions every route shares, and the lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from app.activities.service import service as activities_service
from app.compat.routes import routes as compat_routes
from app.config import Settings
from app.domain.errors import ApiError
from app.edge.responses import error
from app.http import (
    accounts,
    activities,
    attachments,
    channels,
    events,
    feed,
    folders,
    health,
    openapi,
    page,
    system,
    tokens,
)
from app.http.client_address import trusted_networks
from app.http.middleware import EXPOSED_HEADERS, ServerMiddleware
from app.identity.password_checks import PasswordChecks
from app.logging_setup import configure
from app.realtime.service import routes as realtime_routes
from app.realtime.service import service as realtime_service
from app.store import database, file_gc, private_files
from app.store.migrate import migrate

# Services that live as long as the application (the realtime fan-out, the activities runner):
# each is entered after the pool exists and left before it closes.
Service = Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]
SERVICES: list[Service] = [realtime_service, file_gc.service, activities_service]

_HTTP_ERRORS = {
    404: ("UNKNOWN_RESOURCE", "No such resource"),
    405: ("METHOD_NOT_ALLOWED", "This method is not allowed here"),
}


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error_id, message = _HTTP_ERRORS.get(exc.status_code, ("INVALID_REQUEST", str(exc.detail)))
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return error(ApiError(exc.status_code, error_id, message, headers=headers))


_METHOD_RANK = {m: i for i, m in enumerate(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"))}


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on the request's path. Starlette's own 405 names only the
    first route that matched the path, while a path is often served by several (`GET` and
    `POST /channels` are two routes)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return sorted(methods, key=lambda m: (_METHOD_RANK.get(m, len(_METHOD_RANK)), m))


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    trusted_networks(settings.trusted_proxies)  # a mistyped proxy address fails the start

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            private_files.data_folder(settings.data_dir)  # before anything lands in it
            url = settings.database_url
            if url is None:
                url = stack.enter_context(database.EmbeddedPostgres(settings.data_dir)).url
            pool = await database.create_pool(url, settings.pool_min_size, settings.pool_max_size)
            stack.push_async_callback(pool.close)
            async with pool.acquire() as conn:
                await migrate(conn)
            app.state.pool = pool
            app.state.database_url = url
            for service in SERVICES:
                await stack.enter_async_context(service(app))
            yield

    app = Starlette(
        routes=[
            *health.routes,
            *page.routes,  # `/` and `/static/{name}`: before the channel-scoped routes
            Route("/openapi.json", openapi.openapi_json, methods=["GET"]),
            *system.routes,
            *accounts.routes,
            *tokens.routes,
            *realtime_routes,
            *channels.routes,
            *activities.routes,
            *feed.routes,
            *compat_routes,  # `/compat/...`: before the channel-scoped routes
            *folders.routes,  # channel-scoped: after every fixed first segment
            *activities.channel_routes,
            *events.routes,
            # Last: `/{channel}/events/{event}` (POST) must not take `/events/start` and the like.
            *attachments.routes,
        ],
        middleware=[
            Middleware(
                ServerMiddleware,
                max_body_bytes=settings.max_body_bytes,
                max_upload_bytes=settings.max_upload_bytes,
            ),
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["*"],
                allow_headers=["*"],
                expose_headers=list(EXPOSED_HEADERS),
            ),
        ],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.password_checks = PasswordChecks(settings.password_checks)
    return app


def app_from_env() -> Starlette:
    """The factory uvicorn's workers call (`activity-server serve --workers N`)."""
    settings = Settings.from_env()
    configure(settings.log_level)
    return create_app(settings)


