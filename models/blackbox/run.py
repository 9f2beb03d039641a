"""One black-box run end to end, and its verdicts: a guarantee no round exercised is
UNKNOWN with what to change, never a HOLDS that means nothing."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pubsafe.refimpl.errors import InvalidInput
from pubsafe.refimpl.store import Store

from ..guarantees import Guarantee, Status
from ..verdicts import Report, Verdict
from .harness import KINDS, ROUND_ATTEMPTS, Harness
from .publisher import DIALECTS, Budget, Publisher, check_publisher

__all__ = ["BlackboxResult", "run_blackbox"]


@dataclass
class BlackboxResult:
    report: Report
    rounds: int
    harness_seconds_per_round: float  #: time spent by the harness itself, publishers excluded
    store: str


def run_blackbox(
    publisher: Publisher,
    store_spec: str,
    *,
    open_store: Callable[[], Store],
    dialect: str = "pubsafe",
    budget: Budget | None = None,
    blob_spec: str | None = None,
    root_path: str | None = None,
    replay_prefix: str = "pubsafe blackbox",
    progress: Callable[[int], None] = lambda n: None,
) -> BlackboxResult:
    """Run ``budget.rounds`` rounds against a fresh store; one verdict per judged guarantee.

    InvalidInput (nothing judged) for what the harness cannot run: a template
    ``check_publisher`` refuses, a store that is not empty, a dialect it does not
    know, a publisher that cannot start or does not work alone and undisturbed."""
    started = time.perf_counter()
    budget = budget or Budget()
    check_publisher(publisher, blob_store=blob_spec is not None)
    if dialect not in DIALECTS:
        raise InvalidInput(f"dialect {dialect!r} is not one of {', '.join(DIALECTS)}")
    store = open_store()
    if store.list(""):
        raise InvalidInput(f"the store {store_spec!r} is not empty; blackbox fills its store with test data, so give "
                           "it one of its own (a new directory, or an empty prefix)")
    with tempfile.TemporaryDirectory(prefix="pubsafe-blackbox-") as tmp:
        harness = Harness(publisher, store, store_spec, blob_spec, dialect, budget, Path(tmp), root_path)
        harness.setup()
        for number in range(budget.start_round, budget.start_round + budget.rounds):
            harness.round(number)
            progress(1)
    for counterexample in harness.broken.values():
        counterexample.replay = f"{replay_prefix} {counterexample.replay} (same inputs and kills; timing differs)"
    guarantees = [Guarantee.G1, Guarantee.G2, Guarantee.G3, Guarantee.R2, Guarantee.R4]
    if not publisher.one_artifact_at_a_time:
        guarantees.insert(3, Guarantee.R1)
    if publisher.rollback:
        guarantees.insert(-1, Guarantee.R3)
    coverage = {k: v for k, v in harness.counts.items()}
    verdicts = [_verdict(g, publisher.guarded, harness, coverage) for g in guarantees]
    try:
        pubsafe_version = version("pubsafe")
    except PackageNotFoundError:
        pubsafe_version = "0+unknown"
    report = Report(pubsafe_version=pubsafe_version, target=publisher.publish, mode="guarded" if publisher.guarded
                    else "default", profile=f"blackbox(rounds={budget.rounds}, concurrency={budget.concurrency}, "
                    f"kill={budget.kill_probability}, dialect={harness.dialect}"
                    f"{' (detected)' if harness.detected else ''})", seed=budget.seed,
                    seconds=round(time.perf_counter() - started, 3), probes=[], verdicts=verdicts)
    rounds = max(1, harness.counts["rounds"])
    return BlackboxResult(report, harness.counts["rounds"], harness.harness_seconds / rounds, store_spec)


def _verdict(guarantee: Guarantee, guarded: bool, harness: Harness, coverage: dict[str, int]) -> Verdict:
    expected = guarantee.expected(guarded=guarded)
    common: dict[str, Any] = {"guarantee": guarantee, "title": guarantee.heading, "expected": expected,
                              "coverage": coverage}
    if guarantee in harness.broken:
        return Verdict(**common, status=Status.BREAKS, counterexample=harness.broken[guarantee])
    if guarantee in harness.witnesses:
        return Verdict(**common, status=Status.DOCUMENTED if expected == Status.DOCUMENTED else Status.BREAKS,
                       witness=harness.witnesses[guarantee],
                       witness_timeline=harness.witness_timelines.get(guarantee, []))
    if guarantee in (Guarantee.R1, Guarantee.R2, Guarantee.R3) and not harness.raced.get(guarantee):
        stalls = harness.counts["stalled_pauses"]
        held = (f"; {stalls} pause(s) held up the others, which waited on the paused run (a lock), so those runs "
                "were serial" if stalls else "")
        return Verdict(**common, status=Status.UNKNOWN, error=(
            f"not exercised: no {guarantee.value} round caught a publisher between its first blob and its swap "
            f"(it finished before pubsafe could pause it, {ROUND_ATTEMPTS} tries per round{held}); a HOLDS here "
            "would mean nothing. Run more --rounds, or a publisher that does more work between reading and swapping "
            "current"))
    if guarantee is Guarantee.G3 and not (harness.counts["reruns"] and harness.counts["same_input_rounds"]):
        missing = []
        if not harness.counts["reruns"]:
            missing.append(f"no run was killed or failed ({harness.counts['missed_kills']} kill(s) came after the run "
                           "had ended), so no retry after a crash was judged")
        if not harness.counts["same_input_rounds"]:
            missing.append(f"no publishes of the same inputs ran together (every {KINDS}th round starts some), so "
                           "neither a republish nor a record written by two at once was judged")
        return Verdict(**common, status=Status.UNKNOWN, error=(
            f"not exercised: {'; and '.join(missing)}; a HOLDS here would mean nothing. Run more --rounds (at least "
            f"{KINDS}) or a higher --kill-probability"))
    if expected == Status.DOCUMENTED:
        return Verdict(**common, status=Status.HOLDS, witness="never observed in this run")
    return Verdict(**common, status=Status.HOLDS)
