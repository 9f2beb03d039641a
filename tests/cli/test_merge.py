"""--shard I/N splits --seeds across CI jobs; pubsafe merge joins their report.json files."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from pubsafe.cli import main


def _check(*argv: str) -> subprocess.CompletedProcess:
    """``pubsafe check`` as a CI job runs it: a process of its own. (Hypothesis draws some
    values from constants of the local modules loaded, so only runs with the same
    modules loaded replay each other exactly: the same command does.)"""
    return subprocess.run([sys.executable, "-m", "pubsafe", "check", "--store", "memory", "--profile", "quick", *argv],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    for i in (1, 2):
        done = _check("--seeds", "4", "--shard", f"{i}/2", "--report", str(out / f"shard-{i}"), "--json")
        assert done.returncode == 0, done.stderr
    return out


def _report(path):
    return json.loads((path / "report.json").read_text())


def test_shards_split_the_seeds_and_merge_into_one_report(shards, tmp_path, capsys):
    one, two = _report(shards / "shard-1"), _report(shards / "shard-2")
    assert one["seeds"] == [0, 2] and two["seeds"] == [1, 3]
    # the seed-independent part (probes, contract, fixed scenarios) ran once, with the first seed
    assert one["probes"] and one["contract"] and not two["probes"] and not two["contract"]
    capsys.readouterr()
    assert main(["merge", str(shards / "shard-1" / "report.json"), str(shards / "shard-2"),
                 "--report", str(tmp_path / "merged"), "--json"]) == 0
    merged = json.loads(capsys.readouterr().out)
    assert merged["seeds"] == [0, 1, 2, 3] and merged["conforming"] and merged["probes"] == one["probes"]
    for i, verdict in enumerate(merged["verdicts"]):
        for key, n in verdict["coverage"].items():
            assert n == one["verdicts"][i]["coverage"][key] + two["verdicts"][i]["coverage"][key]
    assert _report(tmp_path / "merged")["seeds"] == [0, 1, 2, 3]
    assert "seeds 0..3 (4 runs merged)" in (tmp_path / "merged" / "report.md").read_text()


def test_a_broken_shard_makes_the_merge_not_conforming(shards, tmp_path, capsys):
    """The verdict of the whole is the worst of its parts, whichever shard found it."""
    broken = _report(shards / "shard-2")
    broken["verdicts"][0] |= {"status": "BREAKS", "counterexample": {"message": "blob X is gone", "steps": [],
                                                                     "replay": "pubsafe check ... --seed 1"}}
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    assert main(["merge", str(shards / "shard-1"), str(tmp_path / "broken.json"), "--format", "md"]) == 1
    out = capsys.readouterr().out
    assert "NOT CONFORMING" in out and "blob X is gone" in out


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r, "is in both"),  # the same shard twice
    (lambda r: r | {"target": "local", "seeds": [7]}, "is a report of another run (target differ"),
    (lambda r: r | {"profile": "default", "seeds": [7]}, "(profile differ"),
    (lambda r: {"hello": 1}, "is not a pubsafe report.json"),
])
def test_merge_refuses_what_is_not_one_run_and_writes_nothing(shards, tmp_path, capsys, change, message):
    (tmp_path / "other.json").write_text(json.dumps(change(_report(shards / "shard-1"))))
    code = main(["merge", str(shards / "shard-1"), str(tmp_path / "other.json"), "--report", str(tmp_path / "out")])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("shard", "message"), [("0/2", "between 1 and N"), ("1-2", "write I/N"),
                                                 ("1/8", "need at least 8 --seeds")])
def test_a_bad_shard_is_a_usage_error(capsys, shard, message):
    assert main(["check", "--store", "memory", "--seeds", "4", "--shard", shard]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow  # whole conformance runs or a fresh interpreter: seconds; CI runs it
def test_probes_run_once_per_check_and_still_catch_a_store_on_any_seed_count(capsys):
    """A check-then-write put is only caught by the racing probe: with --seeds 3 it runs
    once (not three times), and the merged verdict still names G1."""
    assert main(["check", "--store", "pubsafe.models.mutants:CheckThenWritePutStore", "--profile", "quick",
                 "--seeds", "3", "--json"]) == 1
    (report,) = json.loads(capsys.readouterr().out)
    assert report["seeds"] == [0, 1, 2]
    assert next(p for p in report["probes"] if p["capability"] == "create_only")["honoured"] is False
    assert next(v for v in report["verdicts"] if v["guarantee"] == "G1")["status"] == "BREAKS"


def test_shards_merged_equal_one_run_of_the_same_seeds(shards, tmp_path, capsys):
    """Sharding changes where the seeds run, not what is found or counted."""
    done = _check("--seeds", "4", "--json")
    assert done.returncode == 0, done.stderr
    (whole,) = json.loads(done.stdout)
    assert main(["merge", str(shards / "shard-1"), str(shards / "shard-2"), "--json"]) == 0
    merged = json.loads(capsys.readouterr().out)
    assert merged["seeds"] == whole["seeds"] == [0, 1, 2, 3]
    assert [(v["guarantee"], v["status"], v["coverage"]) for v in merged["verdicts"]] == [
        (v["guarantee"], v["status"], v["coverage"]) for v in whole["verdicts"]]
    assert [(p["capability"], p["honoured"]) for p in merged["probes"]] == [
        (p["capability"], p["honoured"]) for p in whole["probes"]]


def test_merge_never_overwrites_one_of_its_inputs(shards, capsys):
    """`--report shard-1` would replace shard 1's report with the merge: refused, input kept."""
    before = (shards / "shard-1" / "report.json").read_bytes()
    assert main(["merge", str(shards / "shard-1"), str(shards / "shard-2" / "report.json"),
                 "--report", str(shards / "shard-1")]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert (shards / "shard-1" / "report.json").read_bytes() == before


def test_merge_of_crafted_shard_reports_writes_an_html_report_with_every_field_escaped(shards, tmp_path, capsys):
    """A shard's report.json is another job's output: `<script>` in any of its strings
    must come out of report.html as text."""
    from support.crafted import PAYLOAD, craft, markup_of

    for i in (1, 2):
        crafted = craft(_report(shards / f"shard-{i}"))
        (tmp_path / f"shard-{i}.json").write_text(json.dumps(crafted))
    assert main(["merge", str(tmp_path / "shard-1.json"), str(tmp_path / "shard-2.json"),
                 "--report", str(tmp_path / "merged"), "--format", "md"]) in (0, 1)
    page = (tmp_path / "merged" / "report.html").read_text()
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert not [name for _, attrs in markup_of(page) for name, _ in attrs if name.startswith("on")]
    assert PAYLOAD.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").replace(
        "'", "&#x27;") in page
    printed = capsys.readouterr().out
    assert "<script" not in re.sub(r"(`+)(.+?)\1", "", printed.split("```")[0])
