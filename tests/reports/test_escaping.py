"""A report.json is input, never markup: every string field of a crafted report,
rendered as report.html and report.md, comes out inert (text, not tags), in tables,
timelines (SVG) and Mermaid diagrams alike."""

from __future__ import annotations

import html as html_lib
import json
import re
import xml.etree.ElementTree as ET

import pytest

from pubsafe.models import run_conformance, target_from_spec
from pubsafe.models.mutants import mutant_target
from pubsafe.models.verdicts import Report
from pubsafe.reports import html, json_report, markdown
from support.crafted import PAYLOAD, craft, markup_of, outside_fences

#: every tag report.html may hold: the page's own, and the SVG timelines'
OURS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "span", "b", "i", "code", "a",
        "table", "colgroup", "col", "tr", "th", "td", "details", "summary", "pre", "section", "div", "ul", "li",
        "svg", "g", "text", "tspan", "line", "circle", "path", "rect"}


def _crafted(report: Report) -> Report:
    return Report.model_validate(craft(json.loads(json_report.render(report))))


@pytest.fixture(scope="module")
def reports():
    """A conforming report (documented races and their timelines) and a failing one
    (counterexamples, the diagnosis, highlighted timelines), both crafted."""
    conforming = run_conformance(target_from_spec("memory"), "quick")
    broken = run_conformance(mutant_target("gc-without-protection"), "quick", stop_on={"R5"})
    broken.leftovers = ["could not remove 1 store"]
    return [_crafted(conforming), _crafted(broken)]


def test_every_string_field_of_the_crafted_report_carries_the_payload(reports):
    for report in reports:
        strings = [s for s in _strings(json.loads(json_report.render(report)))]
        assert strings and all(PAYLOAD in s for s in strings if s not in _ENUM_VALUES), [
            s for s in strings if PAYLOAD not in s and s not in _ENUM_VALUES][:5]


_ENUM_VALUES = {"G1", "G2", "G3", "G4", "G5", "R1", "R2", "R3", "R4", "R5", "HOLDS", "BREAKS", "DOCUMENTED",
                "UNKNOWN"}


def _strings(value, field=""):  # type: ignore[no-untyped-def]
    """Every string value of a report.json, and the keys of its coverage counts."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, field)
    elif isinstance(value, dict):
        for key, item in value.items():
            if field == "coverage":
                yield key
            yield from _strings(item, key)


def test_report_html_escapes_every_field(reports):
    for report in reports:
        page = html.render(report)
        tags = markup_of(page)
        assert {tag for tag, _ in tags} <= OURS, {tag for tag, _ in tags} - OURS
        assert not [(tag, name) for tag, attrs in tags for name, _ in attrs if name.startswith("on")]
        assert "<script" not in page.lower() and "<img" not in page.lower()
        # the payload is shown, as text, where each field is shown
        shown = html_lib.unescape(page)
        assert shown.count('<script>alert("x")</script>') >= 10
        for svg in re.findall(r"<svg.*?</svg>", page, re.S):
            root = ET.fromstring(svg)  # well-formed: no field broke out of a text or an attribute
            assert not [el for el in root.iter() if el.tag.split("}")[-1] not in OURS]
            assert any('<script>alert("x")</script>' in "".join(t.itertext()) for t in root.iter()
                       if t.tag.endswith("text"))


def test_report_md_makes_every_field_inert(reports):
    for report in reports:
        md = markdown.render(report)
        prose = re.sub(r"(`+)(.+?)\1", "", outside_fences(md))  # code spans show their text as it is
        assert "<script" not in prose.lower() and "<img" not in prose.lower()
        assert prose.count("<details>") == prose.count("</details>")
        assert {tag for tag in re.findall(r"</?([a-zA-Z]+)", prose)} <= {"details", "summary"}
        for diagram in re.findall(r"```mermaid\n(.*?)```", md, re.S):
            assert "<" not in diagram and '"' not in diagram and "&" not in diagram.replace("#amp;", "")
            assert "#lt;script#gt;" in diagram
        title = md.splitlines()[0]
        assert title.startswith("# pubsafe conformance: ``") and PAYLOAD in title  # a backtick cannot end the code


def test_an_escaper_that_misses_a_field_is_caught(reports):
    """The checks above can fail: a renderer that prints the target raw is found out."""
    page = html.render(reports[0]).replace("<code>", "<code>" + reports[0].target, 1)
    assert "script" in {tag for tag, _ in markup_of(page)}
