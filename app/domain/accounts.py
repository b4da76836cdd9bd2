"""Accounts: the rules for user names and passwords, the profile fields, the refusals of the
account routes, and the record types of the user's own stream (users, sessions)."""

from __future__ import annotations

import re

from app.domain.errors import ApiError, invalid_parameter, name_exists

# Record types of a user's stream (app/domain/ids.py `user_stream`), read by
# projections/accounts.py (and the feed, projections/feed.py).
USER_CREATED = "user.created"
USER_UPDATED = "user.updated"
USER_PASSWORD_CHANGED = "user.password_changed"
SESSION_STARTED = "session.started"
SESSION_ENDED = "session.ended"

# Lower case, digits and dashes: a user name doubles as a host label (`alice.example.org`).
USER_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024

# The profile fields a user may change (`PUT /user-info`, a `user.updated` record), and their
# columns of `users` (projections/accounts.py writes them, app/read/accounts.py reads them).
PROFILE_COLUMNS = {"email": "email", "displayName": "display_name", "language": "language"}
PROFILE_FIELDS = tuple(PROFILE_COLUMNS)


def check_user_name(user_name: str) -> None:
    if not USER_NAME.fullmatch(user_name):
        raise invalid_parameter(
            "userName", "A user name has 3 to 40 lower-case letters, digits or dashes"
        )


def check_password(password: str, param: str = "password") -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise invalid_parameter(
            param, f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )


def check_new_password(old: str, new: str) -> None:
    """`POST /change-password`: a new password of the usual length, other than the old one."""
    if not MIN_PASSWORD <= len(new) <= MAX_PASSWORD or new == old:
        raise ApiError(
            400,
            "INVALID_NEW_PASSWORD",
            f"The new password must differ from the old one and have {MIN_PASSWORD} to "
            f"{MAX_PASSWORD} characters",
        )


def invalid_credentials() -> ApiError:
    return ApiError(401, "INVALID_CREDENTIALS", "Unknown user name or wrong password")


def wrong_password() -> ApiError:
    return ApiError(400, "WRONG_PASSWORD", "The old password is wrong")


def operator_refused() -> ApiError:
    return ApiError(401, "INVALID_CREDENTIALS", "The operator key is missing or wrong")


def user_name_taken(user_name: str) -> ApiError:
    return name_exists(f"The user name {user_name!r} is taken")
