"""Time to detect per mutant: ``python -m pubsafe.devtools.mutants [--seeds N] [--only NAME,...] [--json FILE]``.

Per mutant: whether the profile kills it (naming the guarantee it breaks), the seconds
the check took, where the first violation of that guarantee was found (a fixed
scenario, or the state machine) and, for the state machine, the steps it ran before it
(before shrinking): the figures a change to the checker's speed must not make worse.
``--compare OLD.json`` prints each figure beside an earlier run's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from pubsafe.models.checkers import Violation
from pubsafe.models.conformance import run_conformance
from pubsafe.models.mutants import MUTANTS, mutant_target


class _FirstViolation:
    """Counts machine steps (``progress`` in the state-machine phase) and notes the
    phase and step count when the first Violation of the mutant's guarantee is made."""

    def __init__(self, breaks: str) -> None:
        self.breaks = breaks
        self.phase = "start"
        self.steps = 0
        self.found: tuple[str, int] | None = None

    def on_phase(self, name: str) -> None:
        self.phase = name

    def on_progress(self, n: int) -> None:
        if self.phase == "state machine":
            self.steps += n

    def violated(self, guarantee: Any) -> None:
        if self.found is None and str(guarantee) == self.breaks:
            self.found = (self.phase, self.steps)


def detect(mutant: Any, profile: str, seed: int) -> dict[str, Any]:
    watch = _FirstViolation(mutant.breaks)
    init = Violation.__init__

    def noting(self: Violation, guarantee: Any, *args: Any, **kwargs: Any) -> None:
        watch.violated(guarantee)
        init(self, guarantee, *args, **kwargs)

    Violation.__init__ = noting  # type: ignore[method-assign]
    cpu = time.process_time()  # beside the wall-clock seconds: what a loaded machine does not inflate as much
    try:
        report = run_conformance(mutant_target(mutant), profile, seed_value=seed, stop_on={mutant.breaks},
                                 progress=watch.on_progress, phase=watch.on_phase)
    finally:
        Violation.__init__ = init  # type: ignore[method-assign]
    found = sorted(v.guarantee for v in report.verdicts if v.status.value == "BREAKS")
    ce = report.verdict(mutant.breaks).counterexample
    phase, steps = watch.found or ("capability probes", 0)  # a probe's counterexample is no Violation
    return {"killed": mutant.breaks in found, "found": [str(g) for g in found], "seconds": report.seconds,
            "cpu_seconds": round(time.process_time() - cpu, 3),
            "where": phase if mutant.breaks in found else "-", "steps": steps if phase == "state machine" else 0,
            "ops": len(ce.timeline) if ce else 0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pubsafe.devtools.mutants",
                                     description="Run the mutant catalogue; print time-to-detect per mutant.")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--seed", type=int, default=0, help="the first seed")
    parser.add_argument("--seeds", type=int, default=1, metavar="N",
                        help="run seeds SEED..SEED+N-1; print, per mutant, the share killed and the median seconds "
                             "and steps (one seed's step count is luck: judge a change to the machine on several)")
    parser.add_argument("--only", metavar="NAME[,NAME]", help="these mutants only")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--compare", metavar="OLD.json", help="print an earlier run's figures beside these")
    args = parser.parse_args(argv)
    names = {m.name for m in MUTANTS}
    only = set(args.only.split(",")) if args.only else names
    if only - names:
        parser.error(f"no mutant named {sorted(only - names)[0]!r}; choose from {', '.join(sorted(names))}")
    old = json.loads(open(args.compare).read()) if args.compare else {}
    print(f"{'mutant':<34} {'expected':>8} {'killed':>6} {'seconds':>8} {'cpu s':>6} {'where':<19} {'steps':>5} "
          f"{'ops':>4}" + ("   was: killed seconds cpu s where steps" if old else ""))
    results: dict[str, dict[str, Any]] = {}
    chosen = [m for m in MUTANTS if m.name in only]
    for mutant in chosen:
        runs = [detect(mutant, args.profile, seed) for seed in range(args.seed, args.seed + args.seeds)]
        r = results[mutant.name] = {
            "killed": sum(run["killed"] for run in runs) / len(runs),
            "seconds": round(statistics.median(run["seconds"] for run in runs), 3),
            "cpu_seconds": round(statistics.median(run["cpu_seconds"] for run in runs), 3),
            "where": statistics.mode(run["where"] for run in runs),
            "steps": statistics.median(run["steps"] for run in runs),
            "ops": statistics.median(run["ops"] for run in runs),
            "runs": runs,
        }
        killed = "yes" if r["killed"] == 1 else f"{r['killed']:.0%}"
        line = (f"{mutant.name:<34} {mutant.breaks:>8} {killed:>6} {r['seconds']:>8.2f} {r['cpu_seconds']:>6.2f} "
                f"{r['where']:<19} {r['steps']:>5g} {r['ops']:>4g}")
        if (o := old.get(mutant.name)) is not None:
            was = "yes" if o["killed"] == 1 else f"{o['killed']:.0%}"
            line += (f"   {was:>6} {o['seconds']:>7.2f} {o.get('cpu_seconds', float('nan')):>5.2f} {o['where']:<19} "
                     f"{o['steps']:>5g}")
        print(line, flush=True)
    killed = sum(r["killed"] == 1 for r in results.values())
    print(f"kill rate: {killed}/{len(chosen)}" + (f" (every one of {args.seeds} seeds)" if args.seeds > 1 else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if killed == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
