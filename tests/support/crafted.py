"""A crafted report.json: every string a report holds carries markup, quotes and
ampersands, as a hostile or careless CI job could write it (``pubsafe merge`` reads
other jobs' files)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

__all__ = ["PAYLOAD", "craft", "markup_of", "outside_fences"]

PAYLOAD = """<script>alert("x")</script><img src=x onerror='alert(1)'>&amp;`|"""

#: values of the model's enums (a verdict's guarantee, status and expected status): a
#: crafted one would not load
_ENUMS = {"G1", "G2", "G3", "G4", "G5", "R1", "R2", "R3", "R4", "R5", "HOLDS", "BREAKS", "DOCUMENTED", "UNKNOWN"}


def craft(value: Any, field: str = "") -> Any:
    """``value`` (a report.json document) with PAYLOAD in every string and in the keys
    of coverage counts, except where the schema allows only an enum."""
    if field in ("guarantee", "status", "expected", "guarantees") and (isinstance(value, list) or value in _ENUMS):
        return value
    if isinstance(value, str):
        return f"{value}{PAYLOAD}"
    if isinstance(value, list):
        return [craft(item, field) for item in value]
    if isinstance(value, dict):
        return {(k if field != "coverage" else f"{k}{PAYLOAD}"): craft(v, k) for k, v in value.items()}
    return value


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def markup_of(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag of an HTML page, with its attributes, as a browser's tokenizer sees them."""
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def outside_fences(markdown: str) -> str:
    """Markdown with its fenced code blocks removed (what GitHub renders as prose and HTML)."""
    return re.sub(r"^(`{3,})[^\n]*\n.*?^\1\s*$", "", markdown, flags=re.S | re.M)
