"""The paired measurement every ratio target uses.

pytest-benchmark times one function per test, so "ours" and "baseline" would run
minutes apart, and on these machines fsync latency and CPU speed drift by tens of
percent in that time: the drift, not the code, would set the ratio. ``paired`` runs
the two alternately, round by round (swapping which goes first), and reports the
ratio of their medians; pytest-benchmark still times and records every round.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable

import pytest


class Paired:
    def __init__(self, benchmark) -> None:  # type: ignore[no-untyped-def]
        self.benchmark = benchmark

    def __call__(
        self,
        ours: Callable[[], object],
        baseline: Callable[[], object],
        *,
        rounds: int = 100,
        block: int = 1,
        warmup: int = 2,
    ) -> dict[str, float]:
        """Median seconds per call of each side over ``rounds`` alternating rounds."""
        for _ in range(warmup):
            ours()
            baseline()
        times: dict[str, list[float]] = {"ours": [], "baseline": []}
        orders = itertools.cycle([(("ours", ours), ("baseline", baseline)), (("baseline", baseline), ("ours", ours))])

        def one_round() -> None:
            for side, run in next(orders):
                started = time.perf_counter()
                for _ in range(block):
                    run()
                times[side].append((time.perf_counter() - started) / block)

        self.benchmark.pedantic(one_round, rounds=rounds, iterations=1)
        result = {side: statistics.median(values) for side, values in times.items()}
        result["ratio"] = result["ours"] / result["baseline"]
        self.benchmark.extra_info["paired"] = {**result, "rounds": rounds, "block": block}
        return result


@pytest.fixture
def paired(benchmark) -> Paired:  # type: ignore[no-untyped-def]
    return Paired(benchmark)
