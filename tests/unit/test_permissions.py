"""What a credential may do where (app/identity/permissions.py): a shared token's grants, read
as levels over channels and folder paths, and the validation of the grants a token is made
with. The same rules through the API: tests/http/test_permissions_folders.py and
test_permissions_events.py."""

from __future__ import annotations

from typing import Any

import pytest

from app.identity.permissions import (
    EVENTS_WRITE,
    MANAGE,
    NONE,
    READ,
    Access,
    parse_permissions,
)


def grant(channel: str, *folders: tuple[str | None, str]) -> dict[str, Any]:
    return {"channelId": channel,
            "folderPermissions": [{"folderId": f, "type": level} for f, level in folders]}


TOKEN = Access.from_permissions([
    grant("work", ("a", "read-only"), ("a1", "manage"), ("b", "events-write")),
    grant("work", ("a", "events-write")),  # a second grant on `a`: the higher level wins
    grant("home", (None, "read-only")),
    grant("empty"),
])


def test_sessions_and_personal_tokens_have_full_access() -> None:
    full = Access(full=True)
    assert full.can_see_channel("any") and full.channel_level("any") == MANAGE
    assert full.folder_level("any", ["x", "y"]) == MANAGE
    assert full.granted_folders("any", MANAGE) == {None}


def test_a_grant_covers_the_folder_and_its_descendants_and_the_higher_level_wins() -> None:
    assert TOKEN.folder_level("work", ["a"]) == EVENTS_WRITE
    assert TOKEN.folder_level("work", ["a1", "a"]) == MANAGE
    assert TOKEN.folder_level("work", ["a1x", "a1", "a"]) == MANAGE
    assert TOKEN.folder_level("work", ["b1", "b"]) == EVENTS_WRITE
    assert TOKEN.folder_level("work", ["c"]) == NONE
    assert TOKEN.folder_level("work", []) == NONE  # a mark without folder: root grants only


def test_a_root_grant_covers_the_whole_channel() -> None:
    assert TOKEN.channel_level("home") == READ
    assert TOKEN.folder_level("home", ["x", "y"]) == READ
    assert TOKEN.folder_level("home", []) == READ
    assert TOKEN.channel_level("work") == NONE  # folder grants are not the channel's


def test_channels_seen_are_those_with_a_grant() -> None:
    assert TOKEN.channels() == {"work", "home"}
    assert TOKEN.can_see_channel("home") and not TOKEN.can_see_channel("empty")
    assert not TOKEN.can_see_channel("elsewhere")
    assert TOKEN.folder_level("elsewhere", ["a"]) == NONE


def test_granted_folders_at_a_minimum_level() -> None:
    assert TOKEN.granted_folders("work") == {"a", "a1", "b"}
    assert TOKEN.granted_folders("work", EVENTS_WRITE) == {"a", "a1", "b"}
    assert TOKEN.granted_folders("work", MANAGE) == {"a1"}
    assert TOKEN.granted_folders("home") == {None}
    assert TOKEN.granted_folders("elsewhere") == set()


def test_valid_permissions_are_normalised() -> None:
    value = [{"channelId": "work", "folderPermissions": [{"type": "manage"}]}, {"channelId": "x"}]
    normalised, errors = parse_permissions(value)
    assert errors == []
    assert normalised == [
        {"channelId": "work", "folderPermissions": [{"folderId": None, "type": "manage"}]},
        {"channelId": "x", "folderPermissions": []},
    ]


@pytest.mark.parametrize(("value", "param"), [
    ({"channelId": "work"}, "permissions"),
    ([{"channelId": "bad id"}], "permissions[0]"),
    (["work"], "permissions[0]"),
    ([{"channelId": "work", "extra": 1}], "permissions[0]"),
    ([{"channelId": "work", "folderPermissions": {}}], "permissions[0]"),
    ([{"channelId": "work", "folderPermissions": [{"type": "owner"}]}],
     "permissions[0].folderPermissions[0]"),
    ([{"channelId": "work", "folderPermissions": [{"folderId": "a b", "type": "manage"}]}],
     "permissions[0].folderPermissions[0]"),
    ([{"channelId": "work", "folderPermissions": [{"type": "manage", "more": 1}]}],
     "permissions[0].folderPermissions[0]"),
])
def test_each_bad_permission_is_named(value: Any, param: str) -> None:
    _, errors = parse_permissions(value)
    assert [(e["id"], e["data"]) for e in errors] == [("INVALID_PARAMETERS_FORMAT",
                                                       {"param": param})]


def test_every_bad_permission_is_reported_and_the_good_ones_kept() -> None:
    value = [{"channelId": "a"}, {"channelId": "!"},
             {"channelId": "b", "folderPermissions": [{"type": "read-only"}, {"type": "x"}]}]
    normalised, errors = parse_permissions(value, "grants")
    assert [e["data"]["param"] for e in errors] == ["grants[1]", "grants[2].folderPermissions[1]"]
    assert [p["channelId"] for p in normalised] == ["a", "b"]
    assert normalised[1]["folderPermissions"] == [{"folderId": None, "type": "read-only"}]
