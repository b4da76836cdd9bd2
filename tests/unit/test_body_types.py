"""Request bodies declared once (app/domain/body_types.py): the schema the OpenAPI document gives
for a body and the reading of that body agree. Every declared body is tried with values of every
kind its fields take, one field at a time: what the schema accepts is read, what the reading
refuses the schema refuses too, and a refusal names the field with today's error shape."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from app.domain import body_types as declare
from app.domain import client_data
from app.domain.accounts import PROFILE_FIELDS
from app.domain.body_types import BodyType, Field
from app.domain.errors import ApiError
from app.domain.feed import MAX_ENTRY_TEXT
from app.domain.validation import MAX_TIME
from app.http import openapi
from app.http.accounts import ProfileChanges
from app.http.channels import ChannelChanges, NewChannel
from app.http.feed import EntryTextChange
from app.http.folders import FolderChanges, FolderMove, NewFolder

BODIES = sorted(BodyType.__subclasses__(), key=lambda cls: cls.__name__)
# Values the reading accepts and the schema cannot say otherwise of (`type`: "" reads as shared;
# the schema names only the two types).
READ_BUT_NOT_DESCRIBED = [("NewToken", "type", "")]

GRANT = {"channelId": "work", "folderPermissions": [{"folderId": None, "type": "read-only"}]}
VALID = {"text": "x", "name": "Work", "identity": "work-1", "boolean": True, "number": 1,
         "time": 0, "obj": {}, "array": [], "own": [GRANT]}


def candidates(spec: Field) -> list[Any]:
    """Values of the field's kind and of every other kind, within and past its bounds."""
    others: list[Any] = [None, True, 0, 2.5, "", " ", "a b", {}, [], [1], {"k": 1}]
    max_len = spec.options.get("max_len", 255)
    by_kind: dict[str, list[Any]] = {
        "text": ["x", "a@b", "personal", "shared", "x" * max_len, "x" * (max_len + 1)],
        "name": ["Work", " Work ", "n" * 255, "n" * 256, "\t"],
        "identity": ["work-1", "x" * 100, "x" * 101, "tokens", "..", "work\n"],
        "boolean": [False, "no"],
        "number": [-1, 1e300, "1"],
        "time": [MAX_TIME, MAX_TIME + 1, "1"],
        "obj": [{"deep": {"k": [1]}}],
        "array": [["a"]],
        "own": [[GRANT], [{"channelId": "a b"}], [{**GRANT, "extra": 1}],
                [{"channelId": "c", "folderPermissions": [{"folderId": None, "type": "admin"}]}],
                "x"],
    }
    return by_kind[spec.kind] + others


def minimal(cls: type[BodyType]) -> dict[str, Any]:
    return {key: VALID[spec.kind] for key, spec in cls.fields.items() if spec.required}


def schema_of(cls: type[BodyType]) -> Any:
    """The body's schema as the document holds it, its references resolved there."""
    schema = {**cls.json_schema(), "components": {"schemas": openapi.SCHEMAS}}
    return jsonschema_rs.Draft202012Validator(schema)


def refusal(cls: type[BodyType], data: Any) -> ApiError | None:
    try:
        cls.read(data)
    except ApiError as refused:
        return refused
    return None


def test_the_bodies_of_every_converted_area_are_declared() -> None:
    """A body declared so is checked below; one read by hand again would drop out silently."""
    assert {cls.__name__ for cls in BODIES} >= {
        "Login", "ProfileChanges", "PasswordChange", "NewChannel", "ChannelChanges", "NewToken",
        "TokenChanges", "EntryTextChange", "NewFolder", "FolderChanges", "FolderMove"}


def test_the_declared_bodies_are_those_the_document_describes() -> None:
    described = [
        media["schema"]
        for operations in openapi.PATHS.values() for operation in operations.values()
        for media in operation.get("requestBody", {}).get("content", {}).values()
    ]
    assert BODIES, "no body declared"
    for cls in BODIES:
        assert cls.json_schema() in described, f"{cls.__name__} is not in the document"


@pytest.mark.parametrize("cls", BODIES, ids=lambda cls: cls.__name__)
def test_schema_and_reading_agree_field_by_field(cls: type[BodyType]) -> None:
    validator = schema_of(cls)
    base = minimal(cls)
    assert validator.is_valid(base) and refusal(cls, base) is None
    for key, spec in cls.fields.items():
        for value in candidates(spec):
            data = {**base, key: value}
            refused = refusal(cls, data)
            described = validator.is_valid(data)
            if (cls.__name__, key, value) in READ_BUT_NOT_DESCRIBED:
                assert refused is None and not described
                continue
            assert described == (refused is None), (
                f"{cls.__name__}.{key} = {value!r}: the schema "
                f"{'accepts' if described else 'refuses'} it, the reading "
                f"{'refuses' if refused else 'accepts'} it")
            if refused is not None:
                assert (refused.status, refused.error_id) == (400, "INVALID_PARAMETERS_FORMAT")
                params = refused.data["params"]
                assert set(params) == {key} or all(p.startswith(f"{key}[") for p in params)


@pytest.mark.parametrize("cls", BODIES, ids=lambda cls: cls.__name__)
def test_a_required_field_is_refused_when_missing(cls: type[BodyType]) -> None:
    validator = schema_of(cls)
    assert cls.json_schema().get("required", []) == [
        key for key, spec in cls.fields.items() if spec.required]
    for key in cls.json_schema().get("required", []):
        data = {k: v for k, v in minimal(cls).items() if k != key}
        assert not validator.is_valid(data)
        refused = refusal(cls, data)
        assert refused is not None and refused.sub_errors == [
            {"id": "INVALID_PARAMETERS_FORMAT", "message": f"{key!r} is required",
             "data": {"param": key}}]


@pytest.mark.parametrize("cls", BODIES, ids=lambda cls: cls.__name__)
def test_an_unknown_key_is_refused(cls: type[BodyType]) -> None:
    data = {**minimal(cls), "colour": "red"}
    assert not schema_of(cls).is_valid(data)
    refused = refusal(cls, data)
    assert refused is not None and refused.data == {"params": ["colour"]}
    assert refused.sub_errors[0]["message"] == "Unknown parameter 'colour'"


def test_every_problem_is_named_at_once_unknown_keys_first_then_in_declared_order() -> None:
    refused = refusal(NewChannel, {"clientData": [1], "name": " ", "id": "tokens", "typo": 1})
    assert refused is not None
    assert refused.data == {"params": ["typo", "id", "name", "clientData"]}
    assert [sub["message"] for sub in refused.sub_errors] == [
        "Unknown parameter 'typo'", "'tokens' is reserved by the API's routes",
        "'name' may not be blank", "'clientData' must be an object"]
    assert refusal(NewChannel, []).error_id == "INVALID_REQUEST_STRUCTURE"


def test_a_read_body_holds_its_values_and_tells_absent_from_null() -> None:
    new = NewChannel.read({"name": "Work", "clientData": {"k": 1}})
    assert (new.id, new.name, new.enforceNoEventsOverlap, new.clientData) == (
        None, "Work", None, {"k": 1})
    assert new.given_values() == {"name": "Work", "clientData": {"k": 1}}
    profile = ProfileChanges.read({"email": None, "language": "fr"})
    assert profile.given == {"email", "language"} and profile.email is None
    assert set(ProfileChanges.fields) == {"userName", *PROFILE_FIELDS}


def test_a_request_s_own_rule_is_checked_in_the_field_s_turn() -> None:
    def only_alice(name: str) -> str | None:
        return None if name == "alice" else "userName is read-only"

    assert ProfileChanges.read({"userName": "alice"}, userName=only_alice).userName == "alice"
    with pytest.raises(ApiError) as refused:
        ProfileChanges.read({"email": "nope", "userName": "bob"}, userName=only_alice)
    assert refused.value.data == {"params": ["userName", "email"]}


def test_every_kind_has_a_schema() -> None:
    for spec in (declare.number(minimum=0, maximum=10), declare.time(nullable=True),
                 declare.array({"type": "string"}), declare.boolean(required=True)):
        assert spec.json_schema()
    assert declare.time(nullable=True).json_schema()["anyOf"][1] == {"type": "null"}


def test_a_subclass_reads_its_base_s_fields_first() -> None:
    class Base(BodyType):
        name: str = declare.name(required=True)

    class More(Base):
        hidden: bool | None = declare.boolean()

    assert list(More.fields) == ["name", "hidden"] and list(Base.fields) == ["name"]
    assert More.read({"name": "A", "hidden": True}).hidden is True
    with pytest.raises(ApiError) as refused:
        More.read({"hidden": 1})
    assert refused.value.data == {"params": ["name", "hidden"]}


@pytest.mark.parametrize("cls", [NewChannel, ChannelChanges, NewFolder, FolderChanges],
                         ids=lambda cls: cls.__name__)
def test_client_data_is_one_field_with_its_size_rule(cls: type[BodyType]) -> None:
    """The size rule is beyond the schema: channels and folders refuse alike."""
    assert cls.fields["clientData"] is client_data.FIELD
    data = {**minimal(cls), "clientData": {"k": "x" * client_data.MAX_BYTES}}
    assert schema_of(cls).is_valid(data)
    refused = refusal(cls, data)
    assert refused is not None and refused.sub_errors == [
        {"id": "INVALID_PARAMETERS_FORMAT", "data": {"param": "clientData"},
         "message": f"clientData may not exceed {client_data.MAX_BYTES} bytes"}]


def test_a_folder_s_bodies() -> None:
    new = NewFolder.read({"name": " Work ", "hidden": False})
    assert (new.id, new.name, new.hidden, new.clientData) == (None, " Work ", False, None)
    assert FolderChanges.read({"clientData": {"k": None}, "trashed": False}).given_values() == {
        "clientData": {"k": None}, "trashed": False}
    move = FolderMove.read({"parentId": None})
    assert move.parentId is None and move.given == {"parentId"}
    refused = refusal(NewFolder, {"id": None, "name": "\t", "hidden": "no", "clientData": []})
    assert refused is not None and refused.data == {"params": ["id", "name", "hidden",
                                                               "clientData"]}
    assert [sub["message"] for sub in refused.sub_errors] == [
        "'id' may not be null", "'name' may not be blank", "'hidden' must be a boolean",
        "'clientData' must be an object"]


def test_a_feed_entry_s_text_has_1_to_1000_characters() -> None:
    schema = EntryTextChange.json_schema()["properties"]["text"]
    assert (schema["minLength"], schema["maxLength"]) == (1, MAX_ENTRY_TEXT)
    assert EntryTextChange.read({"text": "x" * MAX_ENTRY_TEXT}).text == "x" * MAX_ENTRY_TEXT
    refused = refusal(EntryTextChange, {"text": ""})
    assert refused is not None and refused.sub_errors[0]["message"] == (
        f"'text' must have 1 to {MAX_ENTRY_TEXT} characters")
