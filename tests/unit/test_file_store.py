"""The file store (app/store/files.py) on a folder of its own: a blob's path is made of its
content hash and nothing else (attachments through the API: tests/http/test_attachments.py)."""

from __future__ import annotations

import os

import pytest

from app.store.files import FileStore


def test_the_store_never_makes_a_path_of_anything_but_a_hash(tmp_path):
    store = FileStore(tmp_path)
    for bad in ("../x", "/etc/passwd", "a" * 64 + "/..", "A" * 64, ""):
        with pytest.raises(ValueError):
            store.path_of(bad)
    assert store.open("../../etc/passwd") is None
    assert os.listdir(tmp_path) == []
