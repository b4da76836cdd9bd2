"""Where the files of `channel.export` live: one `<activity id>.jsonl` under the data
directory's `exports`, written under a temporary `.part` name until published
(app/activities/export.py), removed with the activity (app/activities/retention.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.config import Settings


def exports_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "exports"


def export_path(settings: Settings, activity_id: Any) -> Path:
    return exports_dir(settings) / f"{activity_id}.jsonl"
