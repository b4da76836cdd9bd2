"""The ASGI application: routes, the conventions every route shares, and the lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import activities as activities_service
from app import compat, db, file_gc, openapi, private_files, realtime
from app.config import Settings
from app.errors import ApiError
from app.http import (
    activities,
    admin,
    attachments,
    channels,
    events,
    feed,
    folders,
    health,
    page,
    system,
    tokens,
)
from app.http.middleware import EXPOSED_HEADERS, ServerMiddleware
from app.http.responses import error
from app.migrate import migrate

log = logging.getLogger(__name__)

# Services that live as long as the application (the realtime fan-out, the activities runner):
# each is entered after the pool exists and left before it closes.
Service = Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]
SERVICES: list[Service] = [realtime.service, file_gc.service, activities_service.service]

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
    return error(ApiError(exc.status_code, error_id, message, headers=exc.headers))


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            private_files.data_folder(settings.data_dir)  # before anything lands in it
            url = settings.database_url
            if url is None:
                url = stack.enter_context(db.EmbeddedPostgres(settings.data_dir)).url
            pool = await db.create_pool(url, settings.pool_min_size, settings.pool_max_size)
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
            *admin.routes,
            *tokens.routes,
            *realtime.routes,
            *channels.routes,
            *activities.routes,
            *feed.routes,
            *compat.routes,  # `/compat/...`: before the channel-scoped routes
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
    return app


def app_from_env() -> Starlette:
    """The factory uvicorn's workers call (`activity-server serve --workers N`)."""
    from app.logs import configure

    settings = Settings.from_env()
    configure(settings.log_level)
    return create_app(settings)


