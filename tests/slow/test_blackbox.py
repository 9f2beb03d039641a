"""pubsafe blackbox against real publisher processes: pubsafe's own CLI (default and
guarded), broken publishers, and one following upstream's documented protocol.
Each must get its expected verdicts on three seeds; what the harness cannot run is
refused with exit 2 and the fix, never a traceback or exit 1."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.serial]

PUBLISHERS = Path(__file__).resolve().parents[1] / "support" / "publishers"
PUBSAFE = f"{shlex.quote(sys.executable)} -m pubsafe"
SLOT = "--store {store} --tenant {tenant} --surface {surface}"


def blackbox(tmp_path, *argv: str, seed: int, rounds: int = 8, store: str = "") -> dict:
    store = store or str(tmp_path / f"store-{seed}")
    done = subprocess.run([sys.executable, "-m", "pubsafe", "blackbox", "--store", store,
                           "--rounds", str(rounds), "--seed", str(seed), "--json", *argv],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert (done.returncode == 0) == report["conforming"]
    return report


def statuses(report: dict) -> dict[str, str]:
    return {v["guarantee"]: v["status"] for v in report["verdicts"]}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pubsafe_cli_in_default_mode_loses_updates_as_documented(tmp_path, seed):
    # 12 rounds: three of each race kind. Kill probability 0.9: every seed's kill rounds plan
    # several kills, so G3's retries are exercised even when one kill comes after its run had
    # ended (else G3 is UNKNOWN).
    report = blackbox(tmp_path, "--kill-probability", "0.9", "--publish", f"{PUBSAFE} publish {SLOT} {{artifacts}}",
                      "--rollback", f"{PUBSAFE} rollback {SLOT} --to {{version}}", seed=seed, rounds=12)
    got = statuses(report)
    assert {g: got[g] for g in ("G1", "G2", "G3")} == dict.fromkeys(("G1", "G2", "G3"), "HOLDS")
    assert got["R1"] == got["R2"] == got["R3"] == "DOCUMENTED"
    # Every race that landed lost an update: a rollback's target differs from current in a
    # type the paused publish does not write, so no order of the two explains the outcome.
    # (A pause that held up the others is not a landed race; its round may lose one too.)
    coverage = report["verdicts"][0]["coverage"]
    assert coverage["lost_updates"] >= coverage["paused_races"] > 0
    assert coverage["same_input_rounds"] >= 1 and coverage["republishes"] >= 1 and coverage["record_reads"] > 0
    assert "dialect=pubsafe (detected)" in report["profile"]
    assert report["conforming"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pubsafe_cli_in_guarded_mode_loses_nothing(tmp_path, seed):
    report = blackbox(tmp_path, "--guarded", "--kill-probability", "0.9",
                      "--publish", f"{PUBSAFE} publish --guarded {SLOT} {{artifacts}}",
                      "--rollback", f"{PUBSAFE} rollback --guarded {SLOT} --to {{version}}", seed=seed)
    got = statuses(report)
    assert {g: got[g] for g in ("G1", "G2", "G3", "R1", "R2", "R3")} == dict.fromkeys(
        ("G1", "G2", "G3", "R1", "R2", "R3"), "HOLDS")
    assert report["verdicts"][0]["coverage"]["lost_updates"] == 0 and report["conforming"]
    assert report["verdicts"][0]["coverage"]["current_reads"] > 0  # current was watched while rounds ran


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("script", ["torn_current.py", "swap_first.py"])
def test_a_broken_publisher_is_caught_on_g2(tmp_path, script, seed):
    report = blackbox(tmp_path, "--kill-probability", "0.9", "--publish",
                      f"{shlex.quote(sys.executable)} {PUBLISHERS / script} "
                      "{store} {tenant} {surface} {artifacts}",
                      seed=seed)
    verdict = next(v for v in report["verdicts"] if v["guarantee"] == "G2")
    assert verdict["status"] == "BREAKS" and not report["conforming"]
    counterexample = verdict["counterexample"]
    assert counterexample["steps"] and "--seed" in counterexample["replay"]
    assert any(step.startswith("store:") for step in counterexample["steps"])


@pytest.mark.parametrize("script, seen", [("torn_current.py", "does not parse"), ("swap_first.py", "does not exist")])
def test_a_broken_publisher_is_caught_by_the_reader_watching_current_even_when_nothing_is_killed(
        tmp_path, script, seen):
    """Both leave current broken only for a moment of every run (torn_current for its
    50 ms between the halves): no kill lands there, the store at rest is valid after
    every round, and only a reader reading current while the rounds run sees it."""
    report = blackbox(tmp_path, "--kill-probability", "0", "--publish",
                      f"{shlex.quote(sys.executable)} {PUBLISHERS / script} "
                      "{store} {tenant} {surface} {artifacts}",
                      seed=0, rounds=2)
    verdict = next(v for v in report["verdicts"] if v["guarantee"] == "G2")
    assert verdict["status"] == "BREAKS" and verdict["coverage"]["killed"] == 0
    assert verdict["counterexample"]["message"].startswith("a reader reading current while the round ran saw")
    assert seen in verdict["counterexample"]["message"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_publisher_following_upstreams_protocol_is_judged_under_its_dialect(tmp_path, seed):
    report = blackbox(tmp_path, "--dialect", "recsys-pipelines", "--kill-probability", "0.9", "--publish",
                      f"{shlex.quote(sys.executable)} {PUBLISHERS / 'upstream_protocol.py'} {{store}} {{tenant}} "
                      "{surface} {artifacts}", seed=seed)
    got = statuses(report)
    assert {g: got[g] for g in ("G1", "G2", "G3")} == dict.fromkeys(("G1", "G2", "G3"), "HOLDS")
    assert got["R1"] == got["R2"] == "DOCUMENTED"  # read-modify-write of current, as measured on upstream
    coverage = report["verdicts"][0]["coverage"]
    assert report["conforming"] and coverage["paused_races"] > 0 and coverage["same_input_rounds"] >= 1


def upstream_protocol(script: str = "upstream_protocol.py", *mode: str) -> str:
    return " ".join([shlex.quote(sys.executable), shlex.quote(str(PUBLISHERS / script)), *mode,
                     "{store} {tenant} {surface} {artifacts}"])


def test_a_store_root_with_a_space_hash_percent_and_non_ascii_gets_the_verdicts_of_a_plain_one(tmp_path):
    """Upstream's manifests name blobs as file:// + the raw path (never percent-encoded),
    the store's root URI is encoded: judging lost updates and retries must still find
    each blob. Five rounds (one of each kind); the dialect is detected, not given; the
    odd root is given as a (percent-encoded) file:// URL."""
    got = {}
    for root in ("plain", "a b#%41%\u00e9+\u6a21"):
        store = tmp_path / root / "store"
        report = blackbox(tmp_path, "--kill-probability", "0.9", "--publish", upstream_protocol(), seed=0, rounds=5,
                          store=str(store) if root == "plain" else store.as_uri())
        assert (store / "current" / "acme" / "home" / "manifest.json").is_file()
        assert "dialect=recsys-pipelines (detected)" in report["profile"]
        got[root] = {g: s for g, s in statuses(report).items() if g != "R4"}  # R4: whether kills left debris
        assert report["verdicts"][0]["coverage"]["paused_races"] > 0
    assert got["plain"] == got["a b#%41%\u00e9+\u6a21"] == {
        "G1": "HOLDS", "G2": "HOLDS", "G3": "HOLDS", "R1": "DOCUMENTED", "R2": "DOCUMENTED"}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mode", ["republish", pytest.param("race", marks=pytest.mark.skipif(
    not os.path.exists("/proc/self/cmdline"), reason="record_rewriter.py finds its twin in /proc"))])
def test_a_publisher_that_rewrites_records_is_caught_on_g3(tmp_path, mode, seed):
    """record_rewriter.py: upstream's protocol with the record written on every publish
    (republish), or checked for and then written, so two runs of the same version both
    write it (race; upstream's own way). One round of same-input publishes shows it."""
    report = blackbox(tmp_path, "--dialect", "recsys-pipelines", "--start-round", "4", "--publish",
                      upstream_protocol("record_rewriter.py", mode), seed=seed, rounds=1)
    verdict = next(v for v in report["verdicts"] if v["guarantee"] == "G3")
    assert verdict["status"] == "BREAKS" and not report["conforming"]
    message = verdict["counterexample"]["message"]
    assert message.startswith("registry record records/acme/home/") and "was rewritten" in message
    assert message.count("BuiltAt") == 2  # the evidence: the record as read, then as rewritten
    assert {g: s for g, s in statuses(report).items() if g in ("G1", "G2")} == {"G1": "HOLDS", "G2": "HOLDS"}


def test_placeholders_in_the_values_put_into_a_template_are_not_expanded(tmp_path):
    """A store path holding {tenant} is passed as it is: the publisher writes where the
    harness reads, and nothing is written under the path with the name expanded."""
    store = tmp_path / "x{tenant}y"
    report = blackbox(tmp_path, "--dialect", "recsys-pipelines", "--start-round", "4", "--publish",
                      upstream_protocol(), seed=0, rounds=1, store=str(store))
    assert statuses(report)["G2"] == "HOLDS"
    assert (store / "current" / "acme" / "home" / "manifest.json").is_file()
    assert not (tmp_path / "xacmey").exists()


def test_races_that_were_never_exercised_are_unknown_not_holds(tmp_path):
    """swap_first.py swaps before it writes a blob, so a pause at its first blob always
    comes too late to race anything: with only race rounds, R1 and R2 were never
    exercised and must say so (the pause is tried several times first)."""
    report = blackbox(tmp_path, "--guarded", "--kill-probability", "0", "--publish",
                      f"{shlex.quote(sys.executable)} {PUBLISHERS / 'swap_first.py'} {{store}} {{tenant}} {{surface}} "
                      "{artifacts}", seed=0, rounds=2)
    verdicts = {v["guarantee"]: v for v in report["verdicts"]}
    assert verdicts["R1"]["status"] == verdicts["R2"]["status"] == "UNKNOWN"
    assert "not exercised" in verdicts["R1"]["error"] and not report["conforming"]
    coverage = verdicts["R1"]["coverage"]
    assert coverage["paused_races"] == 0 and coverage["missed_pauses"] == 8


def test_kills_are_timed_on_runs_of_as_many_artifacts(tmp_path):
    """Round 2 kills both its one-artifact runs; a kill timed on the setup's
    three-artifact runs (0.7 s) would come after they had ended (0.3 s)."""
    report = blackbox(tmp_path, "--kill-probability", "1", "--start-round", "2", "--publish",
                      f"{shlex.quote(sys.executable)} {PUBLISHERS / 'slow_per_artifact.py'} {{store}} {{tenant}} "
                      "{surface} {artifacts}", seed=0, rounds=1)
    coverage = report["verdicts"][0]["coverage"]
    assert coverage["rounds"] == 1  # its first try landed a kill: no retry for kills that came too late
    assert coverage["killed"] >= 1 and coverage["reruns"] >= 1
    verdict = next(v for v in report["verdicts"] if v["guarantee"] == "G3")
    # Retries after kills were judged (and held); no same-input round ran in one kill round.
    assert verdict["status"] == "UNKNOWN" and "same inputs" in verdict["error"]
    assert "no run was killed" not in verdict["error"]


def test_retries_that_were_never_exercised_are_unknown_not_holds(tmp_path):
    """A kill round without kills: no run was killed or failed, so G3's retries were
    never tried, and G3 must say so."""
    report = blackbox(tmp_path, "--kill-probability", "0", "--start-round", "2", "--publish",
                      f"{PUBSAFE} publish {SLOT} {{artifacts}}", seed=0, rounds=1)
    verdict = next(v for v in report["verdicts"] if v["guarantee"] == "G3")
    assert verdict["status"] == "UNKNOWN" and "not exercised" in verdict["error"] and not report["conforming"]
    assert verdict["coverage"]["reruns"] == 0 and verdict["coverage"]["killed"] == 0


def test_a_pause_that_holds_up_the_others_is_not_a_race(tmp_path):
    """whole_lock.py holds one lock for its whole run: the paused run holds the other up
    until the pause limit, then they run one after the other. No update is lost, but
    nothing raced either: R2 is UNKNOWN, not HOLDS, and says why."""
    report = blackbox(tmp_path, "--kill-probability", "0", "--publish",
                      f"{shlex.quote(sys.executable)} {PUBLISHERS / 'whole_lock.py'} {{store}} {{tenant}} {{surface}} "
                      "{artifacts}", seed=0, rounds=1)
    verdict = next(v for v in report["verdicts"] if v["guarantee"] == "R2")
    assert verdict["status"] == "UNKNOWN" and "held up the others" in verdict["error"]
    assert verdict["coverage"]["stalled_pauses"] == 4 and verdict["coverage"]["paused_races"] == 0


def test_the_store_must_be_new_or_empty(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "precious.json").write_text("{}")
    done = subprocess.run([sys.executable, "-m", "pubsafe", "blackbox", "--store", str(tmp_path / "full"), "--publish",
                           "true {artifacts}"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "not a new or empty directory" in done.stderr
    assert (tmp_path / "full" / "precious.json").read_text() == "{}"


@pytest.mark.parametrize("publish, extra, says", [
    ("prog {store} {stroe} {artifacts}", [], "{stroe}, which is no placeholder"),
    ("prog '{store} {artifacts}", [], "does not split into words as a shell would"),
    ("prog --in={artifacts} {store}", [], "must be a word of its own"),
    ("prog {blob_store} {artifacts}", [], "give --blob-store too"),
    ("prog {version} {artifacts}", [], "which only --rollback is given"),
    ("prog {store}", [], "must contain {artifacts}"),
    ("/nonexistent/publisher {store} {artifacts}", [], "the publisher cannot start: '/nonexistent/publisher'"),
    ("sh -c 'echo broken >&2; exit 3' {artifacts}", [], "exited 3: broken"),
    ("true {store} {artifacts}", [], "exited 0, yet current does not hold its inputs"),
    (upstream_protocol(), ["--rollback", "true {version}"], "--rollback needs a writer that keeps manifest history"),
])
def test_what_the_harness_cannot_run_exits_2_with_the_fix_and_no_traceback(tmp_path, publish, extra, says):
    done = subprocess.run([sys.executable, "-m", "pubsafe", "blackbox", "--store", str(tmp_path / "store"),
                           "--rounds", "1", "--publish", publish, *extra], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
