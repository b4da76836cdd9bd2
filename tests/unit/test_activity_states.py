"""An activity's states, the records that move it between them, its stream and its progress.
Activities through the API and the runner: tests/activities/."""

from __future__ import annotations

import uuid

import pytest

from app.domain import activities
from app.domain.errors import ApiError


def test_an_activity_ends_in_exactly_one_of_three_final_states() -> None:
    assert activities.STATES == ("pending", "running", "cancelling",
                                 "completed", "failed", "cancelled")
    assert {"completed", "failed", "cancelled"} == activities.FINAL
    assert set(activities.STATES) > activities.FINAL
    # Pending, running and cancelling all go on: none of them ends an activity.
    assert {activities.PENDING, activities.RUNNING, activities.CANCELLING}.isdisjoint(
        activities.FINAL)


def test_each_final_state_is_reached_by_a_record_of_its_own() -> None:
    assert set(activities.FINAL_RECORDS) == activities.FINAL
    records = [activities.CREATED, activities.STARTED, activities.PROGRESS,
               activities.CANCEL_REQUESTED, *activities.FINAL_RECORDS.values()]
    assert len(set(records)) == len(records)
    assert all(record.startswith("activity.") for record in records)  # the realtime filter
    assert activities.FINAL_RECORDS[activities.CANCELLED] == "activity.cancelled"


def test_an_activitys_records_go_to_its_own_stream() -> None:
    activity_id = uuid.uuid4()
    assert activities.stream(activity_id) == f"activity-{activity_id}"
    assert activities.stream(str(activity_id)) == activities.stream(activity_id)


@pytest.mark.parametrize(("done", "total", "percent"), [
    (0, None, None),  # the total is not known yet
    (7, None, None),
    (0, 0, 100.0),  # nothing to do is all done
    (1, 3, 33.3),
    (2, 3, 66.7),
    (10, 10, 100.0),
    (12, 10, 100.0),  # more done than announced: never past 100
])
def test_progress_is_a_percentage_of_a_known_total(done: int, total: int | None,
                                                   percent: float | None) -> None:
    assert activities.progress(done, total) == {"done": done, "total": total, "percent": percent}


@pytest.mark.parametrize("state", ["pending", "running"])
def test_a_cancel_of_a_live_cancellable_activity_is_recorded(state: str) -> None:
    assert activities.check_cancel({"state": state, "cancellable": True}) is True


@pytest.mark.parametrize("state", ["cancelling", "cancelled"])
def test_asking_again_to_cancel_records_nothing(state: str) -> None:
    assert activities.check_cancel({"state": state, "cancellable": True}) is False


@pytest.mark.parametrize("state", ["completed", "failed"])
def test_an_ended_activity_cannot_be_cancelled(state: str) -> None:
    with pytest.raises(ApiError) as refused:
        activities.check_cancel({"state": state, "cancellable": True})
    assert (refused.value.status, refused.value.data) == (409, {"state": state})


def test_an_activity_that_is_not_cancellable_refuses_a_cancel() -> None:
    with pytest.raises(ApiError) as refused:
        activities.check_cancel({"state": "running", "cancellable": False})
    assert refused.value.status == 409
