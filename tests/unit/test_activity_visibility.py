"""Who sees and cancels which activities (app/identity/activity_visibility.py), over plain
principals. The rule on every path that shows an activity, driven against real servers:
tests/security/test_activity_visibility.py."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.identity import activity_visibility as visibility
from app.identity.permissions import Access
from app.identity.principal import SESSION, TOKEN, Principal

ALICE, BOB = uuid.uuid4(), uuid.uuid4()


def credential(kind: str, token_type: str | None = None, token_id: str | None = None, *,
               user: uuid.UUID = ALICE, admin: bool = False) -> Principal:
    return Principal(user_id=user, user_name="u", admin=admin, kind=kind, credential_hash="h",
                     access=Access(full=token_type != "shared"), token_id=token_id,
                     token_type=token_type)


SESSION_ = credential(SESSION)
PERSONAL = credential(TOKEN, "personal", "p1")
SHARED = credential(TOKEN, "shared", "t1")
ADMIN_SESSION = credential(SESSION, user=BOB, admin=True)
ADMIN_PERSONAL = credential(TOKEN, "personal", "p2", user=BOB, admin=True)
ADMIN_SHARED = credential(TOKEN, "shared", "t2", user=BOB, admin=True)
NO_TYPE = credential(TOKEN, None, "t3")  # a token of a type this server does not know
NO_ID = credential(TOKEN, "shared", None)


@pytest.mark.parametrize(("viewer", "owner", "started_by", "seen"), [
    (SESSION_, ALICE, {"userName": "alice", "tokenId": None}, True),
    (SESSION_, ALICE, {"userName": "alice", "tokenId": "t1"}, True),
    (SESSION_, BOB, {"userName": "bob", "tokenId": None}, False),
    (SESSION_, None, {"userName": None, "tokenId": None, "operator": True}, False),
    (PERSONAL, ALICE, {"userName": "alice", "tokenId": "t9"}, True),
    (PERSONAL, BOB, {"userName": "bob", "tokenId": None}, False),
    (SHARED, ALICE, {"userName": "alice", "tokenId": "t1"}, True),
    (SHARED, ALICE, {"userName": "alice", "tokenId": None}, False),
    (SHARED, ALICE, {"userName": "alice", "tokenId": "p1"}, False),
    (SHARED, ALICE, None, False),  # a startedBy this server cannot read
    (SHARED, ALICE, {"tokenId": ["t1"]}, False),
    (SHARED, BOB, {"userName": "bob", "tokenId": "t1"}, False),
    (ADMIN_SESSION, ALICE, {"userName": "alice", "tokenId": "t1"}, True),
    (ADMIN_SESSION, None, {"userName": None, "tokenId": None, "operator": True}, True),
    (ADMIN_PERSONAL, ALICE, {"userName": "alice", "tokenId": None}, False),
    (ADMIN_PERSONAL, BOB, {"userName": "bob", "tokenId": None}, True),
    (ADMIN_SHARED, BOB, {"userName": "bob", "tokenId": None}, False),
    (ADMIN_SHARED, BOB, {"userName": "bob", "tokenId": "t2"}, True),
    (NO_TYPE, ALICE, {"userName": "alice", "tokenId": None}, False),
    (NO_TYPE, ALICE, {"userName": "alice", "tokenId": "t3"}, True),
    (NO_ID, ALICE, {"userName": "alice", "tokenId": None}, False),
])
def test_visibility_rule(viewer: Principal, owner: uuid.UUID | None, started_by: Any,
                         seen: bool) -> None:
    starter = visibility.starter_of(started_by)
    assert visibility.may_see(viewer, owner, starter) is seen


def test_idempotency_key_spaces_follow_the_rule() -> None:
    spaces = {visibility.key_space(c) for c in (SESSION_, PERSONAL)}
    assert spaces == {str(ALICE)}  # the user's one space, as keys were stored before
    others = [visibility.key_space(c) for c in (SHARED, NO_TYPE, ADMIN_SESSION, None)]
    assert len({*others, *spaces}) == 5


def test_the_scope_as_sql_conditions_keeps_what_may_see_keeps() -> None:
    args: list[Any] = ["first"]
    assert visibility.sql_conditions(SHARED, args, "a.") == [
        "a.user_id = $2", "a.started_by->>'tokenId' = $3"]
    assert args == ["first", ALICE, "t1"]
    args = []
    assert visibility.sql_conditions(PERSONAL, args) == ["user_id = $1"] and args == [ALICE]
    args = []
    assert visibility.sql_conditions(ADMIN_SESSION, args) == [] and args == []
    assert visibility.sees_everyones(ADMIN_SESSION)
    assert not visibility.sees_everyones(ADMIN_PERSONAL)


def test_a_row_of_the_read_model_is_judged_like_the_activity() -> None:
    row = {"user_id": ALICE, "started_by": {"userName": "alice", "tokenId": "t1"}}
    assert visibility.may_see_row(SHARED, row) and visibility.may_see_row(SESSION_, row)
    assert not visibility.may_see_row(credential(TOKEN, "shared", "t9"), row)
    assert not visibility.may_see_row(ADMIN_PERSONAL, row)
