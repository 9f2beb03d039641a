"""Capability probes: does the store honour what it claims?

Real backends silently ignore conditional writes, so before the model runs, each
claimed capability is tried directly. A claim that does not hold makes the store
non-conforming, with the probe's evidence, and names the guarantees it costs.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

from pubsafe.refimpl import LocalStore
from pubsafe.refimpl.errors import AlreadyExists, Conflict, PubsafeError
from pubsafe.refimpl.store import ABSENT, Store

from .durability import ROOT, power_loss_violations, workload_calls
from .guarantees import Guarantee
from .verdicts import ProbeResult

__all__ = ["probe_capabilities", "PROBE_GUARANTEES"]

#: Which guarantees a dishonoured capability breaks.
PROBE_GUARANTEES = {
    "create_only": (Guarantee.G1, Guarantee.G3),
    "compare_and_swap": (Guarantee.R1, Guarantee.R2, Guarantee.R3),
    "atomic_replace": (Guarantee.G2,),
    "durable": (Guarantee.G1, Guarantee.G2),
}


def probe_capabilities(store_factory: Callable[[], Store], cleanup: Callable[[Store], None]) -> list[ProbeResult]:
    store = store_factory()
    try:
        caps = store.capabilities
        return [
            _probe("create_only", caps.create_only, lambda: _create_only(store)),
            _probe("compare_and_swap", caps.compare_and_swap, lambda: _compare_and_swap(store)),
            _probe("atomic_replace", caps.atomic_replace, lambda: _atomic_replace(store)),
            _probe("durable", caps.durable, lambda: _durable(store)),
        ]
    finally:
        cleanup(store)


def _probe(name: str, claimed: bool, run: Callable[[], str | None]) -> ProbeResult:
    if not claimed:
        return ProbeResult(capability=name, claimed=False, honoured=None, evidence="not claimed, not relied on")
    try:
        problem = run()
    except PubsafeError as exc:
        problem = f"the probe failed with {exc!r}"
    if problem is None:
        return ProbeResult(capability=name, claimed=True, honoured=True, evidence="probed: honoured")
    if problem.startswith("skipped:"):
        return ProbeResult(capability=name, claimed=True, honoured=None, evidence=problem)
    return ProbeResult(capability=name, claimed=True, honoured=False, evidence=problem)


def _create_only(store: Store) -> str | None:
    key = "probe/create-only.json"
    store.put(key, b"first")
    try:
        store.put(key, b"second")
    except AlreadyExists:
        pass
    else:
        return "a second put on an existing key succeeded instead of raising AlreadyExists"
    if store.get(key) != b"first":
        return f"a refused put still changed the object (now {store.get(key)[:20]!r})"
    return None


def _compare_and_swap(store: Store) -> str | None:
    key = "probe/cas.json"
    etag = store.replace(key, b"one", expect=ABSENT)
    try:
        store.replace(key, b"two", expect=ABSENT)
        return "replace(expect=ABSENT) overwrote an existing object"
    except Conflict:
        pass
    fresh = store.replace(key, b"three", expect=etag)
    try:
        store.replace(key, b"stale", expect=etag)
        return "replace with a stale etag succeeded: conditional writes are ignored"
    except Conflict:
        pass
    if store.get(key) != b"three" or store.get_object(key).etag != fresh:
        return "a refused compare-and-swap still changed the object"
    return None


def _atomic_replace(store: Store, rounds: int = 150) -> str | None:
    """A reader thread must only ever see whole documents while a writer replaces."""
    key = "probe/atomic.json"
    old, new = b"[" + b"1," * 40_000 + b"1]", b"[" + b"2," * 30_000 + b"2]"
    store.replace(key, old)
    seen_bad: list[bytes] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set() and not seen_bad:
            try:
                data = store.get(key)
            except PubsafeError as exc:
                seen_bad.append(repr(exc).encode())
                return
            if data not in (old, new):
                seen_bad.append(data[:40])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, to expose any window
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        for _ in range(rounds):
            if seen_bad:
                break
            store.replace(key, new)
            store.replace(key, old)
    finally:
        done.set()
        reader.join(10)
        sys.setswitchinterval(interval)
    if seen_bad:
        return f"a concurrent reader saw a partial or missing document: {seen_bad[0]!r}"
    return None


def _durable(store: Store) -> str | None:
    if not isinstance(store, LocalStore):
        return "skipped: power loss is modelled for stores on LocalStore's OS seam only"
    make = lambda disk: type(store)(ROOT, os_ops=disk)  # noqa: E731
    for cut in [*range(workload_calls(make)), None]:
        broken = power_loss_violations(make, cut)
        if broken:
            where = "after the workload" if cut is None else f"before OS call {cut}"
            return f"power cut {where} broke {sorted(broken)} on a simulated disk"
    return None
