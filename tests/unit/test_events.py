"""The decisions about events (app/domain/events.py): a new event's state, an update, a stop,
and where a period may go under the period rules. Over plain values; the same rules through
the API, under concurrency too, are in tests/http/test_events.py."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.errors import ApiError
from app.domain.events import (
    OVERLAP_REPORT_LIMIT,
    Neighbours,
    Period,
    end_of,
    new_event,
    place,
    stopped,
    updated_event,
)

NOW = 1_700_000_000.0


def refusal(call: Any, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as refused:
        call(*args, **kwargs)
    return refused.value


# --- period placement -----------------------------------------------------------------------


def test_place_pure_rules() -> None:
    before = Period("b", 0, 10)
    assert place(10, 20, Neighbours(before=before)).stop is None
    with pytest.raises(ApiError) as refused:
        place(5, 20, Neighbours(before=before))
    assert (refused.value.error_id, refused.value.data) == ("PERIODS_OVERLAP", ["b"])
    running = Period("r", 30, None)
    placement = place(40, 50, Neighbours(before=running, running=running))
    assert (placement.stop, placement.at) == (running, 40)
    with pytest.raises(ApiError) as refused:
        place(20, None, Neighbours(inside=[running], running=running))
    assert refused.value.data == {"conflictingEventId": "r"}
    assert place(20, 30, Neighbours(inside=[running], running=running)).stop is None


def test_an_empty_channel_takes_any_period_and_touching_ends_are_fine() -> None:
    assert place(0, 10, Neighbours()) == place(0, None, Neighbours())
    assert place(0, 10, Neighbours()).stop is None
    touching = Neighbours(before=Period("b", 0, 10), inside=[Period("i", 20, 30)])
    placement = place(10, 20, touching)
    assert (placement.stop, placement.at) == (None, None)


def test_overlaps_name_every_clashing_period_oldest_first() -> None:
    near = Neighbours(before=Period("b", 0, 15), inside=[Period("x", 20, 25), Period("y", 30, 40)])
    refused = refusal(place, 10, 35, Neighbours(before=near.before, inside=near.inside[::-1]))
    assert (refused.status, refused.error_id, refused.data) == (400, "PERIODS_OVERLAP",
                                                                ["b", "x", "y"])
    # A running period with periods after its start: the first of them is named.
    assert refusal(place, 16, None, near).data == {"conflictingEventId": "x"}


def test_more_overlaps_than_the_report_limit_say_too_many() -> None:
    inside = [Period(f"p{n}", 10 + n, 10 + n + 0.5) for n in range(OVERLAP_REPORT_LIMIT + 1)]
    assert refusal(place, 0, 100, Neighbours(inside=inside)).data == "too many"
    assert refusal(place, 0, 100, Neighbours(inside=inside[:-1])).data == [
        p.id for p in inside[:-1]]


def test_a_period_after_the_running_ones_start_stops_it_there() -> None:
    running = Period("r", 30, None)
    started = place(45, None, Neighbours(before=running, running=running))
    assert (started.stop, started.at) == (running, 45)
    # At the running one's start, it does not stop it: it overlaps it.
    refused = refusal(place, 30, 40, Neighbours(inside=[running], running=running))
    assert (refused.error_id, refused.data) == ("PERIODS_OVERLAP", ["r"])


def test_a_running_period_must_be_the_latest() -> None:
    later = Period("later", 50, 60)
    refused = refusal(place, 40, None, Neighbours(inside=[later]))
    assert refused.error_id == "INVALID_OPERATION"
    assert refused.data == {"conflictingEventId": "later"}


def test_a_period_meets_spans_it_overlaps_only() -> None:
    finished, running = Period("f", 10, 20), Period("r", 10, None)
    assert finished.meets(15, 16) and finished.meets(0, None) and finished.meets(19, 30)
    assert not finished.meets(20, 30) and not finished.meets(0, 10)
    assert running.meets(1_000_000, None) and not running.meets(0, 10)


# --- a new event, an update, a stop ---------------------------------------------------------


def test_a_new_event_takes_now_and_leaves_absent_values_absent() -> None:
    mark = new_event("e1", "ch", {"tags": ["a"], "comment": None}, NOW, kind="mark")
    assert mark == {"id": "e1", "channelId": "ch", "time": NOW, "folderId": None,
                    "tags": ["a"], "clientData": {}, "attachments": {}, "trashed": False,
                    "created": NOW, "modified": NOW}
    assert end_of(mark) == NOW


def test_a_new_period_is_finished_or_running_and_needs_a_folder() -> None:
    fields = {"time": 100.0, "duration": 5.0, "folderId": "f", "value": {"type": "t:u", "value": 1}}
    period = new_event("e2", "ch", fields, NOW, kind="period")
    assert (period["duration"], period["value"], end_of(period)) == (5.0, fields["value"], 105.0)
    running = new_event("e3", "ch", {"folderId": "f"}, NOW, kind="running")
    assert running["duration"] is None and end_of(running) is None
    refused = refusal(new_event, "e4", "ch", {"duration": 5.0}, NOW, kind="period")
    assert (refused.status, refused.error_id) == (400, "MISSING_FOLDER")


def test_an_update_patches_client_data_and_removes_nulled_values() -> None:
    event = new_event("e1", "ch", {"time": 1.0, "comment": "c", "clientId": "x",
                                   "clientData": {"keep": 1, "drop": 2}}, NOW, kind="mark")
    changed = updated_event(event, {"comment": None, "clientId": None, "tags": ["t"],
                                    "clientData": {"drop": None, "new": 3}}, NOW + 1)
    assert "comment" not in changed and "clientId" not in changed
    assert changed["clientData"] == {"keep": 1, "new": 3}
    assert (changed["tags"], changed["modified"], changed["created"]) == (["t"], NOW + 1, NOW)
    assert event["comment"] == "c"  # the event given is left as it was


def test_an_update_keeps_a_mark_a_mark_and_a_period_in_a_folder() -> None:
    mark = new_event("m", "ch", {}, NOW, kind="mark")
    refused = refusal(updated_event, mark, {"duration": 5.0}, NOW)
    assert (refused.error_id, refused.status) == ("INVALID_OPERATION", 400)
    period = new_event("p", "ch", {"folderId": "f", "duration": 5.0}, NOW, kind="period")
    assert refusal(updated_event, period, {"folderId": None}, NOW).error_id == "MISSING_FOLDER"
    assert updated_event(period, {"duration": None}, NOW)["duration"] is None  # runs again


def test_a_stop_ends_the_period_after_its_start_only() -> None:
    running = new_event("r", "ch", {"time": 100.0, "folderId": "f"}, NOW, kind="running")
    done = stopped(running, 160.0, NOW + 5)
    assert (done["duration"], done["modified"], end_of(done)) == (60.0, NOW + 5, 160.0)
    for at in (100.0, 99.0):
        refused = refusal(stopped, running, at, NOW)
        assert (refused.error_id, refused.data) == ("INVALID_OPERATION",
                                                    {"conflictingEventId": "r"})
