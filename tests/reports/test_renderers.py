"""The report renderers: JSON against its schema, Markdown and HTML with every verdict."""

from __future__ import annotations

import json

import jsonschema
import pytest

from pubsafe.models import run_conformance, target_from_spec
from pubsafe.models.mutants import mutant_target
from pubsafe.reports import html, json_report, markdown, write_reports
from support import REPO


@pytest.fixture(scope="module")
def memory_report():
    return run_conformance(target_from_spec("memory"), "quick")


def test_report_json_validates_against_its_schema(memory_report, tmp_path):
    schema = json.loads(json_report.schema())
    document = json.loads(json_report.render(memory_report))
    jsonschema.validate(document, schema)
    assert document["conforming"] is True
    committed = REPO / "reports" / "report.schema.json"
    assert json.loads(committed.read_text()) == schema, "regenerate with: python -m pubsafe.devtools.regenerate"


def test_markdown_and_html_show_every_verdict(memory_report, tmp_path):
    md, page = markdown.render(memory_report), html.render(memory_report)
    for guarantee in ("G1", "G5", "R1", "R5"):
        assert f"| {guarantee} |" in md and f"<td>{guarantee}</td>" in page
    assert "CONFORMING" in md and "DOCUMENTED" in page
    paths = write_reports(memory_report, tmp_path / "out")
    assert sorted(p.name for p in paths) == ["report.html", "report.json", "report.md"]


def test_a_counterexample_renders_as_a_timeline():
    report = run_conformance(mutant_target("gc-without-protection"), "quick", stop_on={"R5"})
    page = html.render(report)
    assert "<svg" in page and "stroke='#cf222e'" in page  # the violation is marked
    assert "R5 BREAKS" in page
