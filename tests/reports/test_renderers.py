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


def test_markdown_cells_shorten_hashes_and_never_cut_silently(memory_report):
    from pubsafe.reports import markdown

    version = "ab" * 32
    long_message = f"blob acme/home/model/{version}.json is gone; " + "detail " * 80
    broken = memory_report.model_copy(deep=True)
    broken.verdicts[0] = broken.verdicts[0].model_copy(update={"witness": long_message, "coverage": {}})
    row = next(line for line in markdown.render(broken).splitlines() if line.startswith("| G1 |"))
    assert f"{version[:12]}…" in row and version not in row
    assert row.rstrip(" |").endswith("(cut; whole in report.json)")


def test_only_a_program_is_fenced_as_python():
    from pubsafe.reports.markdown import fence_language

    assert fence_language(["from pubsafe.models.machine import PublishMachine", "state = PublishMachine()"]) == "python"
    assert fence_language(["publish ['items', 'model'] with fault plan 'crash@0'"]) == "text"
