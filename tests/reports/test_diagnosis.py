"""A NOT CONFORMING report opens with its root cause (what the implementation did, at
which step, to which key, which acknowledged operation it cost) and what to change;
names that print alike are shown with their code points."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pubsafe.faults.history import Event
from pubsafe.models import Guarantee, Status, run_conformance
from pubsafe.models.mutants import MUTANTS, mutant_target
from pubsafe.models.verdicts import Counterexample, Report
from pubsafe.reports import html, markdown, summary
from pubsafe.reports.diagnosis import FIXES, diagnose, explain
from pubsafe.reports.names import code_points, marked
from pubsafe.reports.timeline import short_key


@pytest.fixture(scope="module")
def gc_race_report():
    return run_conformance(mutant_target("gc-without-protection"), "quick", stop_on={"R5"})


def test_the_gc_mutants_report_opens_with_the_sweeps_delete_and_the_publish_it_cost(gc_race_report):
    """The reader of the GC mutant's report learns in its first lines: the sweep deleted
    this key at this step, after that publish adopted it and swapped, acknowledged; and
    what to change. The steps named are the ones in the timeline."""
    [cause] = diagnose(gc_race_report)
    events = gc_race_report.verdict("R5").counterexample.timeline
    delete = next(n for n, e in enumerate(events) if e.op == "delete" and e.actor.startswith("gc"))
    key = events[delete].key
    adopter = next(e.actor for e in events if e.key == key and e.op == "put")
    swap = next(n for n, e in enumerate(events) if n < delete and e.actor == adopter and e.op == "replace"
                and e.key.startswith("current/") and e.ok)
    assert cause.kind == "sweep-deleted-adopted-blob" and cause.guarantees[0] == "R5"
    assert f"deleted {short_key(key)} at step {delete}" in cause.cause
    assert f"swapped into current at step {swap}, acknowledged" in cause.cause and adopter in cause.cause
    assert "tombstone create-only at the blob's record key" in cause.change
    md = markdown.render(gc_race_report)
    opening = md[:md.index("## Verdicts")]
    assert cause.cause in opening and cause.change in opening and "gc-without-protection" in opening
    assert "--guarded" not in md  # guarded mode has nothing to do with a sweep's delete
    page = html.render(gc_race_report)
    assert page.index("What went wrong") < page.index("<h2>Verdicts</h2>")
    assert "--guarded" not in page
    assert cause.cause in " ".join(summary.render(gc_race_report).split())  # wrapped for a log


def test_the_culprit_and_the_victim_are_highlighted_and_joined_in_the_timeline(gc_race_report):
    why = explain(next(g for g in gc_race_report.counterexample_groups() if g[0].guarantee == "R5"))
    page = html.render(gc_race_report)
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert svg.count("<rect x='0'") == 2  # the culprit's and the victim's rows, banded
    assert "◀ culprit" in svg and "◀ acknowledged" in svg
    assert "stroke='#cf222e' stroke-width='2'" in svg  # the arrow that joins them
    assert f"<tspan font-weight='700'>{short_key(why.key)}</tspan>" in svg  # the key they share, in bold
    md = markdown.render(gc_race_report)
    diagram = md[md.index("```mermaid"):]
    assert diagram.index("rect rgb(255, 216, 211)") < diagram.index(f"{why.culprit}. delete")


#: mutants whose story the diagnosis must recognise from the counterexample alone (one per
#: way of reading a timeline; the regenerated teaching doc covers the whole catalogue)
READ_FROM_TIMELINES = ["swap-before-record", "in-place-manifest-patch", "record-overwrite",
                       "rollback-writes-artifacts", "no-history", "cas-against-fresh-etag", "cleans-up-on-conflict",
                       "unicode-normalizing-keys", "put-overwrites"]


@pytest.mark.parametrize("name", READ_FROM_TIMELINES)
def test_each_class_of_failure_gets_the_fix_its_story_teaches(name):
    mutant = next(m for m in MUTANTS if m.name == name)
    report = run_conformance(mutant_target(mutant), "quick", stop_on={mutant.breaks})
    causes = diagnose(report)
    assert causes and name in causes[0].fix.stories, [(d.kind, d.cause) for d in causes]
    assert mutant.breaks in causes[0].guarantees
    steps = [int(n) for n in re.findall(r"step (\d+)", causes[0].cause)]
    group = report.counterexample_groups()[causes[0].group] if causes[0].group is not None else None
    for n in steps:  # every step the sentence names is an operation of the timeline it points to
        assert group and n < len(group[0].counterexample.timeline)


def test_a_report_that_every_guarantee_matches_says_the_probes_made_it_fail():
    report = run_conformance(mutant_target("check-then-write-cas"), "quick", stop_on={"R1"})
    quiet = report.model_copy(deep=True)
    quiet.verdicts = [v.model_copy(update={"status": v.expected, "counterexample": None}) for v in quiet.verdicts]
    assert not quiet.conforming and all(v.as_expected for v in quiet.verdicts)
    [cause] = diagnose(quiet)
    assert cause.kind == "compare_and_swap" and "does not honour it" in cause.cause
    for text in (markdown.render(quiet), summary.render(quiet), html.render(quiet)):
        assert "came out as expected" in text and "NOT CONFORMING because of the claim" in text


def _collision_report(memory_report: Report) -> Report:
    nfd, nfc = unicodedata.normalize("NFD", "café"), unicodedata.normalize("NFC", "café")
    broken = memory_report.model_copy(deep=True)
    broken.verdicts[1] = broken.verdicts[1].model_copy(update={
        "status": Status.BREAKS, "counterexample": Counterexample(
            message=f"current/{nfd}/home/manifest.json holds the manifest of {nfc}/home", steps=[], replay="",
            timeline=[Event("publish", "replace", f"current/{nfc}/home/manifest.json", "swap"),
                      Event("checker", "violation", "G2", result="violation")])})
    return broken


@pytest.fixture(scope="module")
def memory_report():
    from pubsafe.models import target_from_spec

    return run_conformance(target_from_spec("memory"), "quick")


def test_names_that_differ_only_by_normalisation_are_printed_with_their_code_points(memory_report):
    report = _collision_report(memory_report)
    nfd, nfc = unicodedata.normalize("NFD", "café"), unicodedata.normalize("NFC", "café")
    [cause] = diagnose(report)
    assert cause.kind == "names-fold"
    for text in (markdown.render(report), html.render(report), summary.render(report)):
        assert marked(nfd) in text and marked(nfc) in text
        assert code_points(nfd) == "c\u00a0a\u00a0f\u00a0e\u00a0U+0301" and code_points(nfc).endswith("f\u00a0U+00E9")
    # and nowhere else: a report without two spellings prints names as they are
    assert "U+00E9" not in markdown.render(memory_report)


def test_names_that_differ_only_by_case_are_printed_with_their_code_points(memory_report):
    report = _collision_report(memory_report)
    report.verdicts[1].counterexample.message = "current/acme/home/manifest.json holds the manifest of Acme/home"
    md = markdown.render(report)
    assert marked("acme") in md and marked("Acme") in md
    assert "Store contract" in md  # prose words differing in case are no names


def test_every_fix_names_stories_that_exist():
    names = {m.name for m in MUTANTS}
    for kind, fix in FIXES.items():
        assert set(fix.stories) <= names, kind


_FRAGMENTS = ["the sweep deleted {k}", "current/a/b/manifest.json names {k}, which is not recorded",
              "registry record records/{k} was rewritten", "rollback wrote more than the current pointer: ['{k}']",
              "is not in the history", "left a/b half-updated", "no serial order", "guarded mode lost an update",
              "not the sha256 of its canonical form", "current/{k} holds the manifest of {k}",
              "the reader serves {k} a manifest that is not its current one", "raised IntegrityError: {k}",
              "fault plan 'error-after@3'", "the store claims create_only but does not honour it: x",
              "the store claims durable but does not honour it",
              "actor B read current at step 9, the other actor swapped at step 99, and B swapped over it at step 1"]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=3),
       st.lists(st.tuples(st.sampled_from(["publish A", "gc B", "rollback", "checker", "B"]),
                          st.sampled_from(["get", "put", "replace", "delete", "stat", "list", "violation"]),
                          st.sampled_from(["k/1.json", "records/k/1.json", "current/a/b/manifest.json",
                                           "history/a/b/" + "ab" * 32 + ".json", ""]),
                          st.sampled_from([None, "swap", "record-write", "gc-claim"]),
                          st.sampled_from(["ok", "AlreadyExists", "Crash", "ObjectNotFound", "Conflict", "violation"]),
                          st.sampled_from([None, "lost-ack@1", "crash@2", "error-after@3"])), max_size=12),
       st.sampled_from(list(Guarantee)))
def test_any_counterexample_gets_a_diagnosis_and_renders(memory_report, fragments, events, guarantee):
    """Whatever a report holds (another engine's messages, a black-box run's timeline, a
    crafted file given to merge), the opening is written, never a traceback."""
    message = "; ".join(f.format(k="k/1.json") for f in fragments)
    report = memory_report.model_copy(deep=True)
    index = list(Guarantee).index(guarantee)
    report.verdicts[index] = report.verdicts[index].model_copy(update={
        "status": Status.BREAKS, "counterexample": Counterexample(
            message=message, steps=[], replay="", timeline=[Event(*e) for e in events])})
    causes = diagnose(report)
    assert causes and all(d.cause and d.change for d in causes)
    for n in (explain(report.counterexample_groups()[0]).culprit, explain(report.counterexample_groups()[0]).victim):
        assert n is None or 0 <= n < len(events)
    markdown.render(report), html.render(report), summary.render(report)
