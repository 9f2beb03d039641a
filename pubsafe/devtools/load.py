"""Concurrent publish load: ``python -m pubsafe.devtools.load --store local|s3 [--mode default|guarded]``.

N processes publish M times each into one store, at the same time:

- workers 0-3 publish the same type (``model``) to the same slot: the R1 race;
- workers 4-6 publish their own type to that slot: the R2 race;
- worker 7 publishes to another slot (independent).

Afterwards it checks, and prints counts: every acknowledged blob is readable and
hashes to its version; how many acknowledged swaps silently dropped another's update
(two swaps that replaced the same manifest); how many single-writer types did not
end at their writer's last acknowledged version; how many publishes ended in a
detected conflict instead. Default mode: losses are the documented last-swap-wins.
Guarded mode: none allowed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass

from pubsafe.refimpl import Engine, open_store
from pubsafe.refimpl.canonical import version_of_bytes
from pubsafe.refimpl.errors import ObjectNotFound, PublishConflict
from pubsafe.refimpl.layout import blob_key

__all__ = ["run_load", "LoadResult"]


def _role(worker: int) -> tuple[str, str, str]:
    if worker < 4:
        return "acme", "home", "model"
    if worker < 7:
        return "acme", "home", f"type{worker}"
    return "beta", "feed", "model"


def _worker(args: tuple[str, int, int, bool, int]) -> list[tuple]:
    store_url, worker, publishes, guarded, attempts = args
    engine = Engine(open_store(store_url), guarded=guarded, max_attempts=attempts)
    tenant, surface, type_ = _role(worker)
    results = []
    for n in range(publishes):
        try:
            receipt = engine.publish(tenant, surface, {type_: {"worker": worker, "n": n}})
            results.append((worker, tenant, surface, type_, receipt.artifacts[type_], receipt.manifest_version,
                             receipt.swapped, "", receipt.previous_manifest_version))
        except PublishConflict as exc:
            results.append((worker, tenant, surface, type_, "", "", False, f"conflict: {exc.competing_version}", None))
    return results


@dataclass
class LoadResult:
    mode: str
    publishes: int
    acknowledged: int
    conflicts: int
    blobs_checked: int
    blobs_unreadable: int
    swaps_acknowledged: int
    swaps_lost: int
    types_stale: int
    seconds: float


def run_load(store_url: str, *, processes: int = 8, publishes: int = 200, guarded: bool = False,
             attempts: int = 50) -> LoadResult:
    started = time.perf_counter()
    jobs = [(store_url, w, publishes, guarded, attempts) for w in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = [r for batch in pool.map(_worker, jobs) for r in batch]
    seconds = time.perf_counter() - started
    store = open_store(store_url)
    engine = Engine(store)
    acked = [r for r in results if not r[7]]
    unreadable = 0
    for _, tenant, surface, type_, version, *_ in acked:
        try:
            if version_of_bytes(store.get(blob_key(tenant, surface, type_, version))) != version:
                unreadable += 1
        except ObjectNotFound:
            unreadable += 1
    # A swap that replaced manifest P saw P. Two acknowledged swaps that both replaced
    # the same P: the later one silently dropped the earlier one's update.
    swaps = [r for r in acked if r[6]]
    replaced: Counter[tuple[str, str, str | None]] = Counter((r[1], r[2], r[8]) for r in swaps)
    lost = sum(n - 1 for n in replaced.values())
    # A type only one worker writes must end at that worker's last acknowledged version.
    stale_types = 0
    for worker in range(processes):
        tenant, surface, type_ = _role(worker)
        mine = [r for r in acked if r[0] == worker]
        if type_ != "model" and mine:
            manifest = engine.current(tenant, surface)
            final = manifest.current.get(type_, "") if manifest else ""
            stale_types += not final.endswith(f"{mine[-1][4]}.json")
    return LoadResult("guarded" if guarded else "default", len(results), len(acked), len(results) - len(acked),
                      len(acked), unreadable, len(swaps), lost, stale_types, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pubsafe.devtools.load", description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["local", "s3"], action="append", help="default: both")
    parser.add_argument("--mode", choices=["default", "guarded"], action="append", help="default: both")
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--publishes", type=int, default=200)
    args = parser.parse_args(argv)
    print(f"{'store':<6} {'mode':<8} {'publishes':>9} {'acked':>6} {'conflicts':>9} {'blobs ok':>9} "
          f"{'swaps':>6} {'lost':>5} {'stale types':>11} {'seconds':>8}")
    failed = False
    for kind in args.store or ["local", "s3"]:
        for mode in args.mode or ["default", "guarded"]:
            if kind == "local":
                with tempfile.TemporaryDirectory(prefix="pubsafe-load-") as root:
                    result = run_load(root, processes=args.processes, publishes=args.publishes,
                                      guarded=mode == "guarded")
            else:
                from .s3server import local_s3

                with local_s3("load"):
                    result = run_load(f"s3://load/{uuid.uuid4().hex[:8]}", processes=args.processes,
                                      publishes=args.publishes, guarded=mode == "guarded")
            print(f"{kind:<6} {mode:<8} {result.publishes:>9} {result.acknowledged:>6} {result.conflicts:>9} "
                  f"{result.blobs_checked - result.blobs_unreadable:>9} {result.swaps_acknowledged:>6} "
                  f"{result.swaps_lost:>5} {result.types_stale:>11} {result.seconds:>8.1f}")
            failed |= result.blobs_unreadable > 0 or (mode == "guarded" and result.swaps_lost + result.types_stale > 0)
    print("lost: acknowledged swaps built on a manifest another acknowledged swap also replaced (updates "
          "dropped silently);\nstale types: a single-writer type whose final value is not its writer's last "
          "acknowledged one.\nDefault mode: documented last-swap-wins (R1/R2). Guarded mode: both must be 0.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
