"""The report renderers: JSON against its schema, Markdown and HTML with every verdict."""

from __future__ import annotations

import json

import jsonschema
import pytest

from pubsafe.models import Status, run_conformance, target_from_spec
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


@pytest.fixture(scope="module")
def gc_race_report():
    return run_conformance(mutant_target("gc-without-protection"), "quick", stop_on={"R5"})


def _svg_texts(page: str) -> list[list[str]]:
    """The visible text of each SVG in the page (``<title>`` tooltips excluded)."""
    import re
    import xml.etree.ElementTree as ET

    ns = "{http://www.w3.org/2000/svg}"
    return [["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{ns}text")]
            for svg in re.findall(r"<svg.*?</svg>", page, re.S)]


def test_every_operation_of_a_timeline_is_labelled_in_the_picture(gc_race_report):
    """What a screenshot or a printout shows: each operation's label, the lanes named
    by role, the step axis and the legend, as visible text, not only as tooltips."""
    from pubsafe.reports.timeline import KINDS, label

    page = html.render(gc_race_report)
    assert "R5 BREAKS" in page
    timeline = gc_race_report.verdict("R5").counterexample.timeline
    visible = _svg_texts(page)[0]
    for n, event in enumerate(timeline):
        assert any(text.startswith(f"{event.actor}: {label(event)}") for text in visible), label(event)
        assert str(n) in visible
    assert {"publish A", "gc B", "step"} <= set(visible)
    assert all(text in visible for _, text in KINDS.values())
    assert any(e.op == "delete" and "…" in label(e) and e.key.split("/")[-1][:8] in label(e) for e in timeline)
    assert "the culprit: the step that did the damage" in visible


def test_faults_crashes_and_violations_are_drawn_in_distinct_colours():
    from pubsafe.faults.history import Event
    from pubsafe.reports.timeline import KINDS, kind, svg

    events = [Event("publish", "put", "acme/home/items/" + "ab" * 32 + ".json", "blob-write", "RetryableStoreError",
                    "error-after@blob-write"),
              Event("publish", "replace", "current/acme/home/manifest.json", "swap", "Crash", "crash@swap"),
              Event("checker", "violation", "G2", result="violation")]
    assert [kind(e) for e in events] == ["fault", "crash", "violation"]
    colours = {KINDS[k][0] for k in ("fault", "crash", "violation", "write")}
    assert len(colours) == 4
    drawn = svg(events)
    assert all(f"'{KINDS[kind(e)][0]}'" in drawn for e in events)


def test_report_md_draws_each_counterexample_as_a_sequence_diagram(gc_race_report):
    from pubsafe.reports.timeline import label

    md = markdown.render(gc_race_report)
    timeline = gc_race_report.verdict("R5").counterexample.timeline
    diagram = md[md.index("```mermaid"):]
    diagram = diagram[:diagram.index("```", 3)]
    assert "sequenceDiagram" in diagram and "participant a1 as gc B" in diagram
    for n, event in enumerate(timeline[:-1]):
        assert f"{n}. {label(event)}" in diagram
    assert all(len(word) < 40 for word in diagram.split())  # short keys in the picture...
    deleted = next(e.key for e in timeline if e.op == "delete")
    assert deleted in md[md.index("<details>"):]  # ...full ones in the details


def test_documented_races_get_their_own_timeline(memory_report):
    page, md = html.render(memory_report), markdown.render(memory_report)
    for guarantee in ("R1", "R2", "R3"):
        verdict = memory_report.verdict(guarantee)
        assert verdict.witness_timeline, guarantee
        assert f"id='{guarantee}-witness'" in page and f"### {guarantee}: {verdict.title}" in md
    assert len(_svg_texts(page)) >= 3


def test_one_root_cause_is_told_once(gc_race_report):
    twice = gc_race_report.model_copy(deep=True)
    r5 = twice.verdict("R5")
    twice.verdicts[1] = twice.verdicts[1].model_copy(update={
        "status": r5.status, "counterexample": r5.counterexample.model_copy(update={
            "message": "current names a deleted blob", "timeline": [
                *r5.counterexample.timeline[:-1], r5.counterexample.timeline[-1].__class__(
                    "checker", "violation", "G2", result="violation")]})})
    page, md = html.render(twice), markdown.render(twice)
    assert "G2, R5 BREAK:" in page and page.count("<svg") == 1 + len(
        [v for v in twice.verdicts if v.witness_timeline])
    assert "### G2, R5: one run, several guarantees" in md and md.count("sequenceDiagram") == 1 + len(
        [v for v in twice.verdicts if v.witness_timeline])
    assert "current names a deleted blob" in md and r5.counterexample.message in md


def test_markdown_cells_shorten_hashes_and_never_cut_silently(memory_report):
    from pubsafe.reports import markdown

    version = "ab" * 32
    long_message = f"blob acme/home/model/{version}.json is gone; " + "detail " * 80
    broken = memory_report.model_copy(deep=True)
    broken.verdicts[0] = broken.verdicts[0].model_copy(update={"witness": long_message, "coverage": {}})
    row = next(line for line in markdown.render(broken).splitlines() if line.startswith("| G1 |"))
    assert f"{version[:8]}…" in row and version not in row
    assert row.rstrip(" |").endswith("… (whole in report.json)")


def test_only_a_program_is_fenced_as_python():
    from pubsafe.reports.markdown import fence_language

    assert fence_language(["from pubsafe.models.machine import PublishMachine", "state = PublishMachine()"]) == "python"
    assert fence_language(["publish ['items', 'model'] with fault plan 'crash@0'"]) == "text"


def test_the_headline_says_why_and_what_guarded_mode_would_do(memory_report):
    assert memory_report.reasons() == []
    assert "--guarded would turn R1-R3 into guarantees" in memory_report.guarded_note()
    assert "--guarded would turn" in markdown.render(memory_report) and "--guarded would turn" in html.render(
        memory_report)
    assert memory_report.model_copy(update={"mode": "guarded"}).guarded_note() == ""
    unclaimed = memory_report.model_copy(deep=True)
    for probe in unclaimed.probes:
        if probe.capability == "compare_and_swap":
            probe.claimed, probe.honoured = False, None
    assert "cannot protect this store" in unclaimed.guarded_note()
    broken = memory_report.model_copy(deep=True)
    broken.contract[0].status = "failed"
    broken.verdicts[0] = broken.verdicts[0].model_copy(update={"status": Status.UNKNOWN, "error": "x"})
    md = markdown.render(broken)
    opening = md[md.index("## What went wrong"):md.index("## Verdicts")]
    assert f"The store failed the contract check {broken.contract[0].check}" in opening
    assert "G1 could not be judged: x." in opening
    # advice that does not bear on the failure is not shown
    assert "--guarded" not in md and "--guarded" not in html.render(broken)


def test_the_committed_reference_reports_are_what_the_renderers_make_of_their_json():
    """docs/reference-reports stay true to the renderers (after changing one:
    python -m pubsafe.devtools.regenerate --render-only)."""
    from pubsafe.models.verdicts import Report

    folders = sorted((REPO / "docs" / "reference-reports").iterdir())
    assert len(folders) >= 7
    for folder in folders:
        report = Report.model_validate_json((folder / "report.json").read_text())
        assert (folder / "report.md").read_text() == markdown.render(report), folder.name
        assert (folder / "report.html").read_text() == html.render(report), folder.name
    assert (REPO / "docs" / "reference-reports" / "mutant-gc-without-protection" / "first-screen.png").is_file()
