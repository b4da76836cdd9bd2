"""The log's cursor as clients send it back (`<tx_id>.<position>`): anything else is refused
(reading the log with a cursor: tests/store/test_log.py)."""

from __future__ import annotations

import pytest

from app.store.log import Cursor


@pytest.mark.parametrize("text", ["", "1", "1.", ".1", "a.b", "1.2.3", "-1.2"])
def test_a_malformed_cursor_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Cursor.parse(text)
