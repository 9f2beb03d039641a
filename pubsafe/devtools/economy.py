"""Store requests per publish, by kind: ``python -m pubsafe.devtools.economy [--s3]``.

Counts what one publish of 1, 2 and 3 artifacts costs on a fresh slot and on an
existing one, by store operation (get, put, stat, replace...) and by phase.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable

from pubsafe.faults import FaultyStore
from pubsafe.refimpl import Engine, MemoryStore, open_store
from pubsafe.refimpl.store import Store

__all__ = ["requests_per_publish"]


def requests_per_publish(make_store: Callable[[], Store], artifacts: int, *, existing: bool = True) -> Counter[str]:
    store = make_store()
    if existing:
        Engine(store).publish("acme", "home", {f"t{i}": {"old": i} for i in range(artifacts)})
    recorder = FaultyStore(store)
    Engine(recorder).publish("acme", "home", {f"t{i}": {"new": i} for i in range(artifacts)})
    return Counter(event.op for event in recorder.events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pubsafe.devtools.economy", description=__doc__.splitlines()[0])
    parser.add_argument("--s3", action="store_true", help="count against a local S3-compatible server")
    args = parser.parse_args(argv)

    def run(make: Callable[[], Store], label: str) -> None:
        print(f"{label}: requests per publish (over an existing manifest)")
        print(f"{'artifacts':>9} {'total':>6}  by operation")
        for n in (1, 2, 3):
            counts = requests_per_publish(make, n)
            detail = ", ".join(f"{op} {c}" for op, c in sorted(counts.items()))
            print(f"{n:>9} {sum(counts.values()):>6}  {detail}")

    run(MemoryStore, "memory")
    if args.s3:
        import uuid

        from .s3server import local_s3

        with local_s3("economy"):
            run(lambda: open_store(f"s3://economy/{uuid.uuid4().hex[:8]}"), "s3 (moto)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
