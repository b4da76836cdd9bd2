"""The decisions about a channel's folder tree (app/domain/folders.py): names, depth, moves, the
set a deletion removes, and the view a GET answers. Over plain values; the same rules through
the API are in tests/http/test_folders.py."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.errors import ApiError
from app.domain.folders import (
    MAX_DEPTH,
    Folder,
    Tree,
    View,
    check_deletion,
    check_name_free,
    deletion_set,
    moved,
    new_folder,
    render,
    top_folders,
    whole,
)

# --- the tree -------------------------------------------------------------------------------


def folder(id: str, parent: str | None = None, **flags: Any) -> Folder:
    return Folder(id=id, channel_id="c", name=flags.pop("name", id), parent_id=parent,
                  hidden=flags.get("hidden", False), client_data={},
                  trashed=flags.get("trashed", False), created=1.0, modified=1.0)


SAMPLE = Tree([folder("a"), folder("b", "a"), folder("c", "b"), folder("d", "a"), folder("e")])


def test_tree_paths_subtrees_and_heights() -> None:
    assert SAMPLE.path("c") == ["c", "b", "a"]
    assert SAMPLE.path("nope") == []
    assert SAMPLE.subtree("a") == ["a", "b", "d", "c"]
    assert SAMPLE.height("a") == 3
    assert SAMPLE.height("e") == 1


def test_totals_add_up_descendants() -> None:
    totals = SAMPLE.totals({"c": 1.0, "b": 2.0, "d": 4.0, "e": 8.0})
    assert totals == {"a": 7.0, "b": 3.0, "c": 1.0, "d": 4.0, "e": 8.0}


def test_a_move_into_the_own_subtree_is_refused_and_one_elsewhere_is_not() -> None:
    for target in ("a", "b", "c"):
        with pytest.raises(ApiError) as refused:
            moved(SAMPLE, SAMPLE.get("a"), target, 2.0)
        assert refused.value.error_id == "INVALID_OPERATION"
    assert moved(SAMPLE, SAMPLE.get("b"), "e", 2.0).parent_id == "e"
    assert moved(SAMPLE, SAMPLE.get("b"), "a", 2.0) is None


def test_a_cycle_in_stored_data_cannot_hang_a_walk() -> None:
    looped = Tree([folder("x", "y"), folder("y", "x")])
    assert len(looped.path("x")) <= 3
    assert render(looped, [], View()) == []


def test_top_folders_of_scoped_grants() -> None:
    assert [f.id for f in top_folders(SAMPLE, {None})] == ["a", "e"]
    assert [f.id for f in top_folders(SAMPLE, {"b", "c", "e", "gone"})] == ["b", "e"]
    assert top_folders(SAMPLE, set()) == []


def refusal(call: Any, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as refused:
        call(*args, **kwargs)
    return refused.value


def chain(length: int) -> Tree:
    """Folders f1 > f2 > ... > f<length>, each the parent of the next."""
    return Tree([folder(f"f{n}", f"f{n - 1}" if n > 1 else None) for n in range(1, length + 1)])


def create(tree: Tree, folder_id: str, parent: str | None, name: str) -> Folder:
    return new_folder(tree, folder_id=folder_id, channel_id="c", parent_id=parent, name=name,
                      hidden=False, client_data={}, now=2.0)


# --- names and depth ------------------------------------------------------------------------


def test_sibling_names_are_unique_and_trashed_siblings_count() -> None:
    tree = Tree([folder("a"), folder("t", "a", name="Old", trashed=True)])
    refused = refusal(create, tree, "n", "a", "Old")
    assert (refused.status, refused.error_id) == (400, "ITEM_NAME_ALREADY_EXISTS")
    # The sibling may be outside a token's grants: the answer names only the request's value.
    assert refused.message == "The name 'Old' is not available here"
    assert refusal(create, tree, "n", None, "a").message == "The name 'a' is not available here"
    assert create(tree, "n", None, "Old").parent_id is None  # the same name elsewhere is fine
    check_name_free(tree, "a", "Old", itself="t")  # renaming to its own name


def test_a_new_folder_needs_a_free_id_and_room_below_the_depth_limit() -> None:
    tree = chain(MAX_DEPTH)
    assert refusal(create, tree, "f1", None, "x").error_id == "ITEM_ID_ALREADY_EXISTS"
    made = create(tree, "deep", f"f{MAX_DEPTH - 1}", "last")
    assert (made.parent_id, made.trashed, made.created, made.modified) == (
        f"f{MAX_DEPTH - 1}", False, 2.0, 2.0)
    refused = refusal(create, tree, "deeper", f"f{MAX_DEPTH}", "too deep")
    assert (refused.error_id, refused.status) == ("INVALID_OPERATION", 400)


# --- moves ----------------------------------------------------------------------------------


def test_a_refused_move_names_the_folder_and_the_parent() -> None:
    refused = refusal(moved, SAMPLE, SAMPLE.get("a"), "c", 2.0)
    assert refused.data == {"folderId": "a", "parentId": "c"}


def test_a_move_to_the_root_or_among_namesakes() -> None:
    lifted = moved(SAMPLE, SAMPLE.get("c"), None, 5.0)
    assert (lifted.parent_id, lifted.modified) == (None, 5.0)
    namesakes = Tree([folder("x"), folder("y"), folder("z", "y", name="x")])
    refused = refusal(moved, namesakes, namesakes.get("z"), None, 2.0)
    assert refused.error_id == "ITEM_NAME_ALREADY_EXISTS"


def test_a_move_keeps_the_whole_subtree_within_the_depth_limit() -> None:
    half = MAX_DEPTH // 2
    tree = Tree([*(folder(f"f{n}", f"f{n - 1}" if n > 1 else None) for n in range(1, half + 1)),
                 *(folder(f"g{n}", f"g{n - 1}" if n > 1 else None) for n in range(1, half + 2))])
    # g1's subtree has half + 1 levels: below f<half - 1> it ends at MAX_DEPTH, below f<half> past.
    assert moved(tree, tree.get("g1"), f"f{half - 1}", 2.0) is not None
    assert refusal(moved, tree, tree.get("g1"), f"f{half}", 2.0).error_id == "INVALID_OPERATION"


# --- deletion -------------------------------------------------------------------------------


def test_deletion_removes_the_folder_and_every_descendant() -> None:
    assert deletion_set(SAMPLE, "a") == ["a", "b", "d", "c"]
    assert deletion_set(SAMPLE, "c") == ["c"]
    assert deletion_set(SAMPLE, "gone") == []


def test_deletion_with_events_must_say_merge_or_not_and_a_top_folder_cannot_merge() -> None:
    top, child = SAMPLE.get("a"), SAMPLE.get("b")
    refused = refusal(check_deletion, child, True, None)
    assert (refused.error_id, refused.data) == ("MISSING_PARAMETER",
                                                {"param": "mergeEventsWithParent"})
    check_deletion(child, True, True)
    check_deletion(child, True, False)
    check_deletion(top, False, None)  # nothing to merge: nothing to say
    check_deletion(top, True, False)
    refused = refusal(check_deletion, top, True, True)
    assert (refused.error_id, refused.data) == ("INVALID_OPERATION", {"folderId": "a"})


# --- the view a GET answers -----------------------------------------------------------------


def ids(shown: list[dict[str, Any]]) -> list[str]:
    """Every folder id shown, depth first."""
    return [i for f in shown for i in (f["id"], *ids(f["children"]))]


STATES = Tree([folder("a"), folder("a1", "a", trashed=True), folder("a1x", "a1"),
               folder("h", hidden=True), folder("h1", "h"), folder("z")])


def test_the_default_view_leaves_out_the_trash_and_hidden_subtrees() -> None:
    roots = STATES.children(None)
    assert ids(render(STATES, roots, View())) == ["a", "z"]
    assert ids(render(STATES, roots, View(include_hidden=True))) == ["a", "h", "h1", "z"]
    assert ids(render(STATES, roots, View(state="all"))) == ["a", "a1", "a1x", "z"]


def test_the_trash_view_shows_the_way_to_trashed_folders_only() -> None:
    shown = render(STATES, STATES.children(None), View(state="trashed"))
    assert ids(shown) == ["a", "a1", "a1x"]
    assert [shown[0]["trashed"], shown[0]["children"][0]["trashed"]] == [False, True]


def test_state_is_inherited_from_ancestors_above_the_roots() -> None:
    below = [STATES.get("a1x")]
    assert render(STATES, below, View()) == []
    assert ids(render(STATES, below, View(state="trashed"))) == ["a1x"]
    assert render(STATES, [STATES.get("h1")], View()) == []


def test_a_rendered_folder_has_its_state_children_and_time_count() -> None:
    (shown,) = render(SAMPLE, [SAMPLE.get("b")], View(), {"b": 2.0})
    assert shown == {**SAMPLE.get("b").state(), "timeCount": 2.0, "children": [
        {**SAMPLE.get("c").state(), "timeCount": 0.0, "children": []}]}
    assert "timeCount" not in render(SAMPLE, [SAMPLE.get("c")], View())[0]


def test_a_changed_folder_answers_its_whole_subtree() -> None:
    assert ids([whole(STATES, STATES.get("a"))]) == ["a", "a1", "a1x"]
    assert ids([whole(STATES, STATES.get("h"))]) == ["h", "h1"]
