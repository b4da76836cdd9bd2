"""Who sees and cancels which activities: the one rule of every path that shows an activity
(REST, the compat dialects, SSE and WebSocket, the export's download, cancel, and the replay of
an `Idempotency-Key`).

- a shared token: only the activities it started itself. An activity's result is data (a
  batch's events, an export's whole channel), and a token granted one folder must not read it
  through an activity someone else started in the same channel;
- the user's sessions and personal tokens: all the user's activities (they hold the user's
  full rights anyway);
- an admin user's *session*: everyone's, the operator's included. Not an admin's token: a
  token is handed to a program and lives long, the admin's seat needs the password.

Who started an activity is its `startedBy.tokenId` (null for a session and the operator), the
same for activities recorded before this rule: a token id is random and never reused, so
nothing else could claim them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from app.identity.principal import Principal


@dataclass(frozen=True)
class Scope:
    """The activities a credential sees: those of `owner` (None: every user's and the
    operator's) started by the token `starter` (None: by whoever started them)."""

    owner: UUID | None
    starter: str | None


# A starter no activity has (token ids are never empty): a shared token without an id sees
# nothing rather than everything.
_NOBODY = ""


def scope(viewer: Principal) -> Scope:
    if viewer.admin and viewer.is_session:
        return Scope(owner=None, starter=None)
    if viewer.is_shared_token:
        return Scope(owner=viewer.user_id, starter=viewer.token_id or _NOBODY)
    return Scope(owner=viewer.user_id, starter=None)


def sees_everyones(viewer: Principal) -> bool:
    return scope(viewer).owner is None


def starter_of(started_by: Any) -> str | None:
    """The token that started an activity, from its `startedBy`; None for a session, the
    operator, or a `startedBy` this server cannot read."""
    token_id = started_by.get("tokenId") if isinstance(started_by, dict) else None
    return token_id if isinstance(token_id, str) and token_id else None


def may_see(viewer: Principal, owner: UUID | None, starter: str | None) -> bool:
    """Whether `viewer` may see (and cancel) an activity of `owner` started by the token
    `starter` (see `starter_of`)."""
    allowed = scope(viewer)
    if allowed.owner is not None and owner != allowed.owner:
        return False
    return allowed.starter is None or starter == allowed.starter


def may_see_row(viewer: Principal, row: Mapping[str, Any]) -> bool:
    """`may_see` for a row of the `activities` read model."""
    return may_see(viewer, row["user_id"], starter_of(row["started_by"]))


def sql_conditions(viewer: Principal, args: list[Any], table: str = "") -> list[str]:
    """The scope as conditions on the `activities` read model (`table` its alias with a dot),
    their values appended to `args`: the lists read only what `may_see` keeps."""
    allowed = scope(viewer)
    conditions = []
    if allowed.owner is not None:
        args.append(allowed.owner)
        conditions.append(f"{table}user_id = ${len(args)}")
    if allowed.starter is not None:
        args.append(allowed.starter)
        conditions.append(f"{table}started_by->>'tokenId' = ${len(args)}")
    return conditions


def key_space(viewer: Principal | None) -> str:
    """Whose `Idempotency-Key`s a credential finds: the user's sessions and personal tokens
    share the user's (the user id, as before this rule), a shared token has its own, and the
    operator has one."""
    if viewer is None:
        return "operator"
    if viewer.is_shared_token:
        return f"{viewer.user_id}/token/{viewer.token_id}"
    return str(viewer.user_id)
