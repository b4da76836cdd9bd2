"""The OpenAPI document (app/http/openapi.py) against the routes the application really has,
read from the router without starting the application (the document as served, and answers
checked against its schemas, are in tests/http/test_openapi.py).

When a route is added without its description, or described without being routed, these tests
name it: describe it in `app/http/openapi.py` PATHS beside the code.
"""

from __future__ import annotations

import re

from app.http import openapi
from app.main import create_app


def described() -> set[tuple[str, str]]:
    return {(m, p) for p, ops in openapi.PATHS.items() for m in ops}


def test_every_route_is_described() -> None:
    missing = openapi.routed(create_app()) - described()
    assert not missing, f"routes missing from app/http/openapi.py PATHS: {sorted(missing)}"


def test_every_description_is_routed() -> None:
    extra = described() - openapi.routed(create_app())
    assert not extra, f"app/http/openapi.py describes routes the app does not have: {sorted(extra)}"


def test_path_parameters_match_the_path() -> None:
    for path, operations in openapi.PATHS.items():
        names = set(re.findall(r"\{([^}]+)\}", path))
        for method, operation in operations.items():
            given = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert given == names, f"{method.upper()} {path}: path parameters {given} != {names}"


def test_every_reference_resolves() -> None:
    document = openapi.document()
    schemas = document["components"]["schemas"]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            target = node.get("$ref")
            if isinstance(target, str):
                assert target.startswith("#/components/schemas/"), target
                assert target.rsplit("/", 1)[1] in schemas, target
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)


# The dialects whose error bodies carry their clients' keys beside the native `error`.
DIALECT_ERRORS = {"/compat/plex/": "PlexError", "/compat/aisquare/": "AISquareError"}


def test_every_operation_answers_errors_in_the_error_shape() -> None:
    for path, operations in openapi.PATHS.items():
        expected = next((name for prefix, name in DIALECT_ERRORS.items()
                         if path.startswith(prefix)), "Error")
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in ("400", "401", "404"):
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema == openapi.ref(expected), f"{method} {path} {status}"
            for status in openapi.BEFORE_ROUTES:  # answered outside the routes: native
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema == openapi.ref("Error"), f"{method} {path} {status}"
