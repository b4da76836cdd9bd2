"""Compatibility dialects: four existing products' "activities" APIs, spoken by thin routes
over our own read models (`activities`, `user_feed`), so their unmodified clients work against
this server. Each dialect lives under its own prefix (a client's base URL) in one module that
holds its table of field correspondences:

- `/compat/plex` (app/compat/plex.py): Plex Media Server activities, for `plex-api-client` and
  `plexapi`, and their notification streams (app/compat/plex_notifications.py);
- `/compat/pieces` (app/compat/pieces.py): Pieces OS activities (feed entries), for
  `pieces-os-client`;
- `/compat/acronis/api/task_manager/v2` (app/compat/acronis.py): Acronis Task Manager v2
  activities;
- `/compat/aisquare/api/v1` (app/compat/aisquare.py): AISquare Studio user activities (feed
  entries).
"""
