"""Every dialect's routes, each under its own prefix (the dialects: app/compat/__init__.py)."""

from __future__ import annotations

from app.compat import acronis, aisquare, pieces, plex, plex_notifications

routes = [
    *plex.routes, *plex_notifications.routes, *pieces.routes, *acronis.routes, *aisquare.routes,
]
