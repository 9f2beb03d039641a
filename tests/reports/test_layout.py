"""Timelines fit their frame: every label inside its SVG's viewBox (never cut at the
edge), a picture wider than the page scrolling inside its frame, nothing wider than
the page. Checked without a browser against the renderer's own text estimate, and, where
Chromium is installed, as the browser lays the page out."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from pubsafe.devtools import browser
from pubsafe.faults.history import Event
from pubsafe.models import Status, run_conformance, target_from_spec
from pubsafe.models.mutants import mutant_target
from pubsafe.models.verdicts import Counterexample
from pubsafe.reports import html
from pubsafe.reports.timeline import text_width

_SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    """The GC mutant's report, and one whose timeline holds wide text: long keys, East
    Asian names, a culprit far from its victim."""
    gc = run_conformance(mutant_target("gc-without-protection"), "quick", stop_on={"R5"})
    wide = run_conformance(target_from_spec("memory"), "quick")
    key = "テナント/surface-" + "日本語" * 6 + "/model/" + "ab" * 32 + ".json"
    events = [Event("publish 東京 A", "put", key, "blob-write"),
              *[Event("publish 東京 A", "get", f"history/テナント/{i:02d}" + "cd" * 32 + ".json", "history-read")
                for i in range(6)],
              Event("publish 東京 A", "replace", "current/テナント/surface/manifest.json", "swap"),
              Event("gc sweeper with a long role name B", "delete", key, None, "ok", "error-after@gc-delete"),
              Event("checker", "violation", "R5", result="violation")]
    wide.verdicts[-1] = wide.verdicts[-1].model_copy(update={"status": Status.BREAKS, "counterexample": Counterexample(
        message=f"the sweep deleted {key}: current/テナント/surface/manifest.json names {key} (model), which does "
                "not exist", steps=[], replay="", timeline=events)})
    return {"gc": html.render(gc), "wide": html.render(wide)}


def overruns(svg: str) -> list[str]:
    """Texts of ``svg`` whose estimated extent leaves its viewBox (the browser-free rule)."""
    root = ET.fromstring(svg)
    _, _, width, height = (float(v) for v in root.get("viewBox", "").split())
    font = root.get("font-family", "")
    found = []
    for t in root.iter(f"{_SVG}text"):
        text = "".join(t.itertext())
        mono = "monospace" in (t.get("font-family") or font)
        size = 12 * (1.1 if t.get("font-weight") in ("600", "700") else 1.0)
        extent = text_width(text, size, mono=mono)
        x, y = float(t.get("x", 0)), float(t.get("y", 0))
        left, right = (x - extent, x) if t.get("text-anchor") == "end" else (x, x + extent)
        if left < 0 or right > width or y > height:
            found.append(f"{text!r}: {left:.0f}..{right:.0f} of {width:.0f}")
    return found


def _svgs(page: str) -> list[str]:
    return re.findall(r"<svg.*?</svg>", page, re.S)


def test_every_label_lies_inside_its_svgs_viewbox(pages):
    for name, page in pages.items():
        svgs = _svgs(page)
        assert svgs, name
        for svg in svgs:
            assert overruns(svg) == [], name
    assert ".timeline{overflow-x:auto" in pages["gc"]  # wider than the page: it scrolls inside its frame


def test_the_rule_catches_a_label_cut_at_the_edge(pages):
    """The check above can fail: the same picture with the viewBox the old renderer gave
    it (lanes of 330 pixels, labels free to run past the last one) is caught."""
    svg = _svgs(pages["wide"])[0]
    narrow = re.sub(r"viewBox='0 0 (\d+) (\d+)'", lambda m: f"viewBox='0 0 {44 + 330 * 3 - 300} {m[2]}'", svg)
    assert overruns(narrow)


def test_wide_text_is_estimated_wider_than_narrow_text():
    assert text_width("日本語") > text_width("abc", mono=True) * 1.5
    assert text_width("e\u0301") == text_width("e")  # a combining accent takes no room
    assert text_width("MMMM") > text_width("iiii")


@pytest.mark.skipif(browser.find() is None, reason=browser.MISSING)
@pytest.mark.parametrize("width", [1280, 720])
def test_in_a_browser_nothing_is_cut_and_nothing_overflows_the_page(pages, width):
    for name, page in pages.items():
        layout = browser.measure(page, width=width)
        assert layout["pageWidth"] <= layout["viewport"], (name, width)
        assert layout["overflow"] == [], (name, width)
        assert layout["svgs"], name
        for svg in layout["svgs"]:
            x0, y0, w, h = svg["viewBox"]
            cut = [t["text"] for t in svg["texts"]
                   if t["x"] < x0 - 0.5 or t["x"] + t["w"] > x0 + w + 0.5 or t["y"] + t["h"] > y0 + h + 0.5]
            assert cut == [], (name, width)
            assert svg["frameScrolls"] and svg["frameWidth"] <= width
