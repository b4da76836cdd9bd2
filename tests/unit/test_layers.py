"""The layers of docs/architecture.md hold: the import contract of pyproject.toml
(`[tool.importlinter]`, the same check as `lint-imports`), no import hidden in a function to
dodge a cycle, and no module grown past what one concern needs."""

from __future__ import annotations

import ast
import os
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "projections")
# Imported late on purpose, not to break a cycle: the embedded PostgreSQL's wheel is only needed
# without DATABASE_URL.
LATE_IMPORTS = {("app/store/database.py", "pgserver")}
MAX_LINES = 400
LONG_ON_PURPOSE = {"app/http/openapi.py"}  # the API description: static data


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_the_import_contract_is_kept() -> None:
    cwd = os.getcwd()
    os.chdir(ROOT)  # the contract is read from pyproject.toml
    try:
        assert lint_imports(no_cache=True, no_logo=True) == 0, "run `lint-imports` to see why"
    finally:
        os.chdir(cwd)


def test_no_import_is_hidden_in_a_function() -> None:
    hidden = []
    for path in _modules():
        name = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), name)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    imported = inner.module if isinstance(inner, ast.ImportFrom) else (
                        inner.names[0].name)
                    if (name, imported) not in LATE_IMPORTS:
                        hidden.append(f"{name}:{inner.lineno} {ast.unparse(inner)}")
    assert hidden == []


def test_no_module_holds_more_than_one_concern() -> None:
    long = [
        f"{p.relative_to(ROOT)} ({n} lines)"
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
        and p.relative_to(ROOT).as_posix() not in LONG_ON_PURPOSE
    ]
    assert long == []
