"""Where a check of a remote store spends its time: requests and seconds per phase.

    python -m pubsafe.devtools.remote_check [--latency-ms 20] [--profile quick] [--seed 0] [--sequential-machine]

Starts moto's S3 server on loopback (``s3server.local_s3``), behind a proxy adding
``--latency-ms`` to every request when asked (``latency_proxy``), runs the
conformance check of a fresh prefix there, and prints per phase its seconds and the
store requests it sent (every request ``S3Store`` sends, counted; those the local
model of S3 answered while the state machine was planned, apart), and how the state
machine ran (``models.conformance.planned``: planned and replayed, or sequentially,
and why). The benchmark ``check: quick profile on S3 through 20 ms latency`` runs the
same.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PhaseCounts", "counting_s3_requests", "measure_check", "sequential_machine"]


@dataclass
class PhaseCounts:
    """Requests and seconds per phase of one check, in the order the phases ran."""

    requests: dict[str, int] = field(default_factory=dict)
    #: requests answered by the local model of S3 while the state machine was planned (none sent)
    model_requests: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    _phase: str = "set-up"
    _started: float = field(default_factory=time.perf_counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self, phase: str) -> None:
        now = time.perf_counter()
        with self._lock:
            self.seconds[self._phase] = self.seconds.get(self._phase, 0.0) + now - self._started
            self._phase, self._started = phase, now

    def count(self, *, model: bool = False) -> None:
        with self._lock:
            into = self.model_requests if model else self.requests
            into[self._phase] = into.get(self._phase, 0) + 1

    def close(self) -> None:
        self.enter("done")
        self.seconds.pop("done", None)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def table(self) -> dict[str, dict[str, float]]:
        return {phase: {"seconds": round(self.seconds.get(phase, 0.0), 2), "requests": self.requests.get(phase, 0)}
                | ({"model_requests": self.model_requests[phase]} if phase in self.model_requests else {})
                for phase in self.seconds}


@contextlib.contextmanager
def counting_s3_requests(counts: PhaseCounts) -> Iterator[PhaseCounts]:
    """Every request S3Store sends, counted against the phase running when it went out
    (those the local model answers, ``models.conformance.local_model``, apart)."""
    from pubsafe.models.conformance.local_model import LocalS3
    from pubsafe.refimpl.s3_store import S3Store

    call, get = S3Store._call, S3Store.get_object

    def counted_call(self: S3Store, method: str, key: str, *args: Any, **kwargs: Any) -> Any:
        counts.count(model=isinstance(self.fs, LocalS3))
        return call(self, method, key, *args, **kwargs)

    def counted_get(self: S3Store, key: str) -> Any:
        counts.count(model=isinstance(self.fs, LocalS3))
        return get(self, key)

    setattr(S3Store, "_call", counted_call)  # noqa: B010 - patched for the measurement only
    setattr(S3Store, "get_object", counted_get)  # noqa: B010
    try:
        yield counts
    finally:
        setattr(S3Store, "_call", call)  # noqa: B010
        setattr(S3Store, "get_object", get)  # noqa: B010


def measure_check(profile: Any = "quick", *, seed: int = 0, bucket: str = "pubsafe",
                  **options: Any) -> tuple[Any, PhaseCounts]:
    """The check of a fresh prefix of ``bucket`` on the S3 endpoint already set up
    (``local_s3``), with its requests and seconds per phase."""
    from pubsafe.models import run_conformance, target_from_spec

    counts = PhaseCounts()
    with counting_s3_requests(counts):
        target = target_from_spec(f"s3://{bucket}/bench-{uuid.uuid4().hex[:8]}")
        counts.enter("preflight")
        report = run_conformance(target, profile, seed_value=seed, phase=counts.enter, **options)
        counts.close()
    return report, counts


@contextlib.contextmanager
def sequential_machine() -> Iterator[None]:
    """Within: conformance runs run the state machine as Hypothesis does, one example
    after another (``models.conformance.planned`` left out: what a check did before it)."""
    from hypothesis.stateful import run_state_machine_as_test

    from pubsafe.models.conformance import planned, run

    def sequentially(machine: Any, settings: Any) -> planned.MachineRun:
        run_state_machine_as_test(machine, settings=settings)
        return planned.MachineRun(sequential=True, why="--sequential-machine")

    run.run_machine = sequentially
    try:
        yield
    finally:
        run.run_machine = planned.run_machine


def main(argv: list[str] | None = None) -> int:
    from pubsafe.models.conformance import planned

    from .s3server import local_s3

    parser = argparse.ArgumentParser(prog="python -m pubsafe.devtools.remote_check",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sequential-machine", action="store_true",
                        help="run the state machine one example after another, not planned and replayed (to compare)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with local_s3("pubsafe", latency=args.latency_ms / 1000), contextlib.ExitStack() as stack:
        if args.sequential_machine:
            stack.enter_context(sequential_machine())
        report, counts = measure_check(args.profile, seed=args.seed)
    verdicts = {v.guarantee.value: v.status.value for v in report.verdicts}
    print(json.dumps({"latency_ms": args.latency_ms, "profile": args.profile, "seed": args.seed,
                      "check_seconds": report.seconds, "wall_seconds": round(time.perf_counter() - started, 2),
                      "requests": counts.total, "phases": counts.table(), "verdicts": verdicts,
                      "machine_runs": [dataclasses.asdict(run) for run in planned.RUNS]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
