"""The OpenAPI document (app/http/openapi.py) as served, and the application's answers against
its schemas. The document against the routes the application really has: tests/unit/test_openapi.py.
"""

from __future__ import annotations

import jsonschema_rs
import pytest

from app.http import openapi
from tests.support import auth, error_id


async def test_served_document(client) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    document = r.json()
    assert document["openapi"] == "3.1.0"
    assert document["paths"] == openapi.document()["paths"]


async def test_document_loads_as_openapi_3_1(client) -> None:
    schemathesis = pytest.importorskip("schemathesis")
    r = await client.get("/openapi.json")
    schema = schemathesis.openapi.from_dict(r.json())
    operations = [op for op in schema.get_all_operations() if op.ok()]
    assert len(operations) == sum(len(ops) for ops in openapi.PATHS.values())


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("get", "/no/such/route/here", "UNKNOWN_RESOURCE"),
        ("post", "/login", "INVALID_PARAMETERS_FORMAT"),
        ("get", "/channels", "INVALID_TOKEN"),
    ],
)
async def test_errors_match_the_error_schema(client, method: str, path: str,
                                             expected: str) -> None:
    r = await client.request(method, path, json={"unexpected": 1})
    assert error_id(r) == expected
    jsonschema_rs.validate(openapi.SCHEMAS["Error"], r.json())


async def test_a_channel_matches_its_schema(client, session: str) -> None:
    r = await client.post("/channels", json={"name": "Work"}, headers=auth(session))
    assert r.status_code == 201
    r = await client.get("/channels", headers=auth(session))
    (channel,) = r.json()
    jsonschema_rs.validate(openapi.SCHEMAS["Channel"], channel)
