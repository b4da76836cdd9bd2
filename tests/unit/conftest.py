"""The unit tests: decisions over plain values, run with no PostgreSQL at all.

`tests/conftest.py` empties the database before every test through its autouse `clean`; here a
fixture of the same name, nearer to these tests, takes its place and needs nothing. A unit test
that asks for the database (directly, or through `pool`, `client`, `settings`...) fails at once
instead of starting PostgreSQL: it belongs in the folder of the entry point it drives.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def clean() -> None:
    """Nothing to empty: no database here."""


@pytest.fixture(scope="session")
def database_url() -> str:
    pytest.fail("a unit test uses no database: move it to an integration folder", pytrace=False)
