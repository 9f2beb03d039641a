"""How often one trial of the racing probes catches a racy store: the figures behind
``models.contract``'s trial counts.

    python -m pubsafe.devtools.probe_rates [--trials 400]

Runs the create-only and compare-and-swap probes on the mutant catalogue's
check-then-write stores (a window of a few bytecodes, the hardest case) and prints,
per probe, the share of trials that caught the race and the chance that the shipped
number of trials misses it. Machine-dependent: run it where the suite runs.
"""

from __future__ import annotations

import argparse
import time

from pubsafe.models.conformance.contract.racing import CAS_RACES, CREATE_RACES, WRITERS, _races
from pubsafe.models.mutants import CheckThenWriteCASStore, CheckThenWritePutStore
from pubsafe.refimpl.errors import AlreadyExists, Conflict


def rates(trials: int) -> dict[str, tuple[float, float, int]]:
    """probe -> (share of trials that caught the race, ms per trial, shipped trials)."""
    put_store, cas_store = CheckThenWritePutStore(), CheckThenWriteCASStore()
    bases: dict[int, str] = {}

    def prepare(trial: int) -> None:
        bases[trial] = cas_store.replace(f"cas-{trial}", b"base")

    runs = {
        "create_only": (CREATE_RACES, lambda: _races(trials, lambda t: None,
                                                     lambda t, i: put_store.put(f"put-{t}", b"%d" % i), AlreadyExists)),
        "compare_and_swap": (CAS_RACES, lambda: _races(trials, prepare, lambda t, i: cas_store.replace(
            f"cas-{t}", b"%d" % i, expect=bases[t]), Conflict)),
    }
    out = {}
    for name, (shipped, run) in runs.items():
        started = time.perf_counter()
        caught = sum(len(winners) != 1 for winners in run())
        out[name] = (caught / trials, (time.perf_counter() - started) / trials * 1000, shipped)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=400, help="trials per probe (default: %(default)s)")
    args = parser.parse_args(argv)
    for name, (rate, ms, shipped) in rates(args.trials).items():
        print(f"{name}: {rate:.1%} of {args.trials} trials of {WRITERS} writers caught the race "
              f"({ms:.1f} ms per trial); {shipped} trials miss it with probability {(1 - rate) ** shipped:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
