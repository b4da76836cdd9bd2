"""The web page's static files (app/static), read as files: everything is loaded from this
server, and every control is labelled (the page in a real browser: tests/http/test_web_page.py).
"""

from __future__ import annotations

import html.parser
import re
from pathlib import Path

STATIC = Path(__file__).parents[2] / "app" / "static"


def test_nothing_is_loaded_from_another_host() -> None:
    for path in STATIC.iterdir():
        text = path.read_text()
        text = text.replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, not a load
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE), path
        for url in re.findall(r"""(?:src|href)=["']([^"']+)""", text):
            assert url.startswith("/") and not url.startswith("//"), (path, url)


class _Controls(html.parser.HTMLParser):
    """The controls of the static HTML and the ids its labels point at."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()
        self.open_buttons: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "label" and attributes.get("for"):
            self.labelled.add(attributes["for"] or "")
        if tag in ("input", "select", "textarea", "button"):
            attributes["tag"] = tag
            attributes["text"] = ""
            self.controls.append(attributes)
            if tag == "button":
                self.open_buttons.append(attributes)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self.open_buttons:
            self.open_buttons.pop()

    def handle_data(self, data: str) -> None:
        if self.open_buttons:
            self.open_buttons[-1]["text"] = (self.open_buttons[-1]["text"] or "") + data


def test_every_control_of_the_page_is_labelled() -> None:
    parser = _Controls()
    parser.feed((STATIC / "index.html").read_text())
    assert parser.controls
    for control in parser.controls:
        named = (control.get("aria-label") or "").strip() or control.get("id") in parser.labelled
        if control["tag"] == "button":
            named = named or (control["text"] or "").strip()
        assert named, control
