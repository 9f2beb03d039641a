"""Time to detect per mutant: ``python -m pubsafe.devtools.mutants [--profile P] [--only NAME]``."""

from __future__ import annotations

import argparse
import sys

from pubsafe.models.conformance import run_conformance
from pubsafe.models.mutants import MUTANTS, mutant_target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pubsafe.devtools.mutants",
                                     description="Run the mutant catalogue; print time-to-detect per mutant.")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", metavar="NAME", choices=[m.name for m in MUTANTS], help="one mutant")
    args = parser.parse_args(argv)
    print(f"{'mutant':<30} {'expected':>8} {'found':<14} {'killed':>6} {'seconds':>8} {'ops':>6}")
    killed = 0
    chosen = [m for m in MUTANTS if args.only in (None, m.name)]
    for mutant in chosen:
        report = run_conformance(mutant_target(mutant), args.profile, seed_value=args.seed, stop_on={mutant.breaks})
        found = sorted(v.guarantee for v in report.verdicts if v.status.value == "BREAKS")
        ok = mutant.breaks in found
        killed += ok
        ce = report.verdict(mutant.breaks).counterexample
        steps = len(ce.timeline) if ce else 0
        print(f"{mutant.name:<30} {mutant.breaks:>8} {','.join(found):<14} {'yes' if ok else 'NO':>6} "
              f"{report.seconds:>8.2f} {steps:>6}")
    print(f"kill rate: {killed}/{len(chosen)}")
    return 0 if killed == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
