"""Which of Plex's notification types a stream sends, and what a subscription selects
(app/compat/plex_notifications.py; the streams themselves: tests/compat/test_plex_notifications.py).
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from app.compat import plex_notifications


def test_filters_pick_the_notification_types():
    assert plex_notifications.parse_types(None).wants("activity")  # Plex's default: -log
    assert not plex_notifications.parse_types(None).wants("log")
    for value, sends_activities in [("activity", True), ("playing,activity", True),
                                    ("playing", False), ("-activity", False),
                                    ("-log,playing", True), ("", True)]:
        assert plex_notifications.parse_types(value).wants("activity") is sends_activities
    principal = SimpleNamespace(admin=False, is_session=True, is_shared_token=False,
                                user_id=uuid.uuid4(), token_id=None)
    assert plex_notifications.subscription(principal, parse("activity")).activities == "mine"
    nothing = plex_notifications.subscription(principal, parse("-activity"))
    assert (nothing.activities, nothing.data) == (None, False)  # selects no change at all
    admin = SimpleNamespace(**{**vars(principal), "admin": True})
    assert plex_notifications.subscription(admin, parse("activity")).activities == "all"


def parse(value: str) -> plex_notifications.Types:
    return plex_notifications.parse_types(value)
