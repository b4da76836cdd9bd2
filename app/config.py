"""Settings, read once from the environment so every process of a deployment agrees."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _addresses(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name) or ""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """Every knob of the server; the README's settings table documents each one."""

    database_url: str | None = None
    data_dir: Path = Path(".activity-data")
    admin_key: str | None = field(default=None, repr=False)
    domain: str | None = None
    # Sessions end after `session_idle_seconds` unused, and `session_max_seconds` after the
    # login however busy they are.
    session_idle_seconds: float = 30 * 60
    session_max_seconds: float = 30 * 86400
    max_body_bytes: int = 16 * 1024 * 1024
    max_upload_bytes: int = 100 * 1024 * 1024
    # Login throttling (app/identity/login_throttle.py): failed logins per user name and per client
    # address within a window, the proxies whose X-Forwarded-For names the client (addresses
    # or networks), and the argon2 checks a process runs at once.
    login_max_failures: int = 5
    login_window_seconds: int = 60
    login_max_failures_per_address: int = 20
    trusted_proxies: tuple[str, ...] = ()
    password_checks: int = 2
    pool_min_size: int = 2
    pool_max_size: int = 10
    log_level: str = "info"
    run_activities: bool = True
    # Activities (app/activities): how long a request waits for its activity by default
    # (`Prefer: wait=N` overrides), the runner's lease and poll, how many activities a process
    # runs at once, how often progress is recorded at most, how long finished activities stay,
    # interrupted attempts before an activity fails, events per export step, and a pause at each
    # safe point of the activities this process starts, whichever process runs them (0 in
    # production: drills and tests use it to catch the work half-way).
    activity_wait_seconds: float = 10.0
    activity_lease_seconds: float = 30.0
    activity_poll_seconds: float = 1.0
    activity_workers: int = 4
    activity_progress_interval: float = 0.25
    activity_retention_days: float = 7.0
    activity_max_attempts: int = 3
    activity_export_page: int = 500
    activity_step_pause: float = 0.0
    # Realtime push (app/realtime): per-subscriber queue bound, SSE heartbeat, the fan-out's
    # fallback poll, and whether commits are announced to other processes by NOTIFY.
    stream_queue_size: int = 1000
    stream_heartbeat_seconds: float = 15.0
    stream_poll_seconds: float = 1.0
    stream_notify: bool = True

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("DATABASE_URL") or None,
            data_dir=Path(os.environ.get("ACTIVITY_DATA_DIR") or ".activity-data"),
            admin_key=os.environ.get("ACTIVITY_ADMIN_KEY") or None,
            domain=(os.environ.get("ACTIVITY_DOMAIN") or "").strip(".").lower() or None,
            session_idle_seconds=_float("ACTIVITY_SESSION_IDLE_MINUTES", 30) * 60,
            session_max_seconds=_float("ACTIVITY_SESSION_MAX_DAYS", 30) * 86400,
            max_body_bytes=_int("ACTIVITY_MAX_BODY_BYTES", 16 * 1024 * 1024),
            max_upload_bytes=_int("ACTIVITY_MAX_UPLOAD_BYTES", 100 * 1024 * 1024),
            login_max_failures=_int("ACTIVITY_LOGIN_MAX_FAILURES", 5),
            login_window_seconds=_int("ACTIVITY_LOGIN_WINDOW_SECONDS", 60),
            login_max_failures_per_address=_int("ACTIVITY_LOGIN_MAX_FAILURES_PER_ADDRESS", 20),
            trusted_proxies=_addresses("ACTIVITY_TRUSTED_PROXIES"),
            password_checks=_int("ACTIVITY_PASSWORD_CHECKS", 2),
            pool_min_size=_int("ACTIVITY_DB_POOL_MIN", 2),
            pool_max_size=_int("ACTIVITY_DB_POOL_MAX", 10),
            log_level=(os.environ.get("ACTIVITY_LOG_LEVEL") or "info").lower(),
            run_activities=_bool("ACTIVITY_RUN_ACTIVITIES", True),
            activity_wait_seconds=_float("ACTIVITY_WAIT_SECONDS", 10.0),
            activity_lease_seconds=_float("ACTIVITY_LEASE_SECONDS", 30.0),
            activity_poll_seconds=_float("ACTIVITY_POLL_SECONDS", 1.0),
            activity_workers=_int("ACTIVITY_WORKERS", 4),
            activity_progress_interval=_float("ACTIVITY_PROGRESS_INTERVAL", 0.25),
            activity_retention_days=_float("ACTIVITY_RETENTION_DAYS", 7.0),
            activity_max_attempts=_int("ACTIVITY_MAX_ATTEMPTS", 3),
            activity_export_page=_int("ACTIVITY_EXPORT_PAGE", 500),
            activity_step_pause=_float("ACTIVITY_STEP_PAUSE", 0.0),
            stream_queue_size=_int("ACTIVITY_STREAM_QUEUE_SIZE", 1000),
            stream_heartbeat_seconds=_float("ACTIVITY_STREAM_HEARTBEAT_SECONDS", 15.0),
            stream_poll_seconds=_float("ACTIVITY_STREAM_POLL_SECONDS", 1.0),
            stream_notify=_bool("ACTIVITY_STREAM_NOTIFY", True),
        )

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]
