"""An activity's states, the records that move it between them, its stream and its progress.
Activities through the API and the runner: tests/activities/.

The names are read through one import (they are moving to the domain layer, app/domain)."""

from __future__ import annotations

import uuid

import pytest

from app.activities import state as activities


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
