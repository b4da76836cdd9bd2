"""Reading request bodies and query strings (app/domain/validation.py): every problem is
collected and reported at once, with the error ids, `data` and `subErrors` clients rely on."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.errors import ApiError
from app.domain.validation import (
    MAX_DEPTH,
    MAX_TIME,
    MISSING,
    Body,
    Query,
    ascii_float,
    is_number,
    parse_json,
)


class Params:
    """A query string's parameters, as Starlette's `QueryParams` gives them."""

    def __init__(self, *pairs: tuple[str, str]) -> None:
        self.pairs = pairs

    def get(self, key: str) -> str | None:
        return next((v for k, v in self.pairs if k == key), None)

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self.pairs if k == key]


def refusal(call: Any, *args: Any) -> ApiError:
    with pytest.raises(ApiError) as refused:
        call(*args)
    return refused.value


def params_of(error: ApiError) -> list[str]:
    return [sub["data"]["param"] for sub in error.sub_errors or []]


# --- parse_json -----------------------------------------------------------------------------


def test_json_is_parsed_or_refused_as_a_structure() -> None:
    assert parse_json(b'{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}
    refused = refusal(parse_json, b"{nope", "The message")
    assert (refused.status, refused.error_id) == (400, "INVALID_REQUEST_STRUCTURE")
    assert refused.message.startswith("The message is not valid JSON")


def test_json_nesting_is_bounded() -> None:
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    deeper = b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
    assert refusal(parse_json, deeper).error_id == "INVALID_REQUEST_STRUCTURE"
    past_orjson = b"[" * 2000 + b"]" * 2000  # past orjson's own limit: the same answer
    assert refusal(parse_json, past_orjson).error_id == "INVALID_REQUEST_STRUCTURE"


def test_a_nul_anywhere_is_refused_naming_the_fields_that_hold_it() -> None:
    refused = refusal(parse_json, b'{"name": "a\\u0000b", "ok": 1, "deep": [{"x": "\\u0000"}]}')
    assert (refused.error_id, refused.data) == ("INVALID_PARAMETERS_FORMAT",
                                                {"params": ["name", "deep"]})
    assert refusal(parse_json, b'{"k\\u0000": 1}').data == {"params": ["k\\0"]}
    assert refusal(parse_json, b'["\\u0000"]').error_id == "INVALID_REQUEST_STRUCTURE"
    # An escaped backslash followed by `u0000` is text, not a NUL.
    assert parse_json(b'{"a": "\\\\u0000"}') == {"a": "\\u0000"}


# --- Body -----------------------------------------------------------------------------------


def test_a_body_must_be_an_object() -> None:
    for data in ([], "x", None, 1):
        refused = refusal(Body, data)
        assert (refused.error_id, refused.message) == ("INVALID_REQUEST_STRUCTURE",
                                                       "The body must be a JSON object")


def test_every_problem_of_a_body_is_reported_at_once() -> None:
    body = Body({"name": " ", "hidden": "yes", "typo": 1, "parentId": "a b"},
                allowed={"name", "hidden", "parentId", "time"})
    assert body.name(required=True) is MISSING
    assert body.boolean("hidden") is MISSING
    assert body.identity("parentId") is MISSING
    assert body.time("time", required=True) is None  # absent: reported, read as None
    refused = refusal(body.done)
    assert (refused.status, refused.error_id) == (400, "INVALID_PARAMETERS_FORMAT")
    assert refused.data == {"params": ["typo", "name", "hidden", "parentId", "time"]}
    assert refused.message == "Invalid parameters: typo, name, hidden, parentId, time"
    assert refused.sub_errors[0] == {"id": "INVALID_PARAMETERS_FORMAT",
                                     "message": "Unknown parameter 'typo'",
                                     "data": {"param": "typo"}}
    assert refused.body()["error"]["subErrors"] == refused.sub_errors


def test_absent_null_and_present_values_of_a_body() -> None:
    body = Body({"comment": None, "tags": ["a"], "clientData": {"k": 1}, "n": 5})
    assert body.text("missing") is None and not body.has("missing")
    assert body.text("comment", nullable=True) is None and body.has("comment")
    assert body.array("tags") == ["a"] and body.obj("clientData") == {"k": 1}
    assert body.number("n", minimum=0, maximum=10) == 5.0
    body.done()
    assert body.text("comment") is MISSING  # not nullable
    assert params_of(refusal(body.done)) == ["comment"]


@pytest.mark.parametrize(("read", "value"), [
    (lambda b: b.text("v", min_len=2, max_len=3), "x"),
    (lambda b: b.text("v"), 5),
    (lambda b: b.name("v"), "n" * 256),
    (lambda b: b.number("v"), True),  # a boolean is no number
    (lambda b: b.number("v"), "1"),
    (lambda b: b.number("v", maximum=10), 11),
    (lambda b: b.time("v"), MAX_TIME + 1),
    (lambda b: b.obj("v"), []),
    (lambda b: b.array("v"), {}),
    (lambda b: b.identity("v"), "x" * 101),
    (lambda b: b.identity("v"), "work\n"),
])
def test_a_value_of_the_wrong_kind_or_size_is_named(read: Any, value: Any) -> None:
    body = Body({"v": value})
    assert read(body) is MISSING
    assert params_of(refusal(body.done)) == ["v"]


# --- Query ----------------------------------------------------------------------------------


def test_query_values_and_their_defaults() -> None:
    query = Query(Params(("state", "all"), ("flag", ""), ("off", "No"), ("from", "12.5"),
                         ("limit", "20"), ("tags", "a, b"), ("tags", "c,,")))
    assert query.text("state", choices=("default", "all")) == "all"
    assert query.text("absent", default="default") == "default"
    assert (query.boolean("flag"), query.boolean("off"), query.boolean("absent")) == (
        True, False, False)
    assert query.number("from") == 12.5 and query.number("absent", default=1.0) == 1.0
    assert query.integer("limit", minimum=1, maximum=100) == 20
    assert query.many("tags") == ["a", "b", "c"] and query.many("absent") == []
    query.done()


def test_every_bad_query_parameter_is_reported_at_once() -> None:
    query = Query(Params(("state", "some"), ("flag", "maybe"), ("from", "\u0663"), ("limit", "1e3"),
                         ("skip", "-1"), ("huge", "9" * 30)))
    assert query.text("state", choices=("default", "all")) is MISSING
    assert query.boolean("flag") is MISSING
    assert query.number("from") is MISSING  # Unicode digits are not read as numbers
    assert query.integer("limit") is MISSING
    assert query.integer("skip") is MISSING
    assert query.integer("huge") is MISSING
    refused = refusal(query.done)
    assert refused.data == {"params": ["state", "flag", "from", "limit", "skip", "huge"]}
    assert refused.sub_errors[-1]["message"] == "'huge' must be between 0 and 1000000000"


def test_numbers_are_finite_and_written_in_ascii() -> None:
    assert is_number(1) and is_number(2.5) and not is_number(True)
    assert not is_number(float("nan")) and not is_number(float("inf"))
    assert ascii_float("1.5") == 1.5
    with pytest.raises(ValueError):
        ascii_float("\u0661")  # ARABIC-INDIC DIGIT ONE
    query = Query(Params(("t", "nan"), ("u", "inf")))
    assert query.number("t") is MISSING and query.number("u") is MISSING
