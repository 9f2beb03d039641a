"""Capability probes and the Store contract: does the store do what it claims?

Real backends silently ignore conditional writes, and check-then-write stores pass
any sequential test, so before the model runs every claimed capability is tried
directly, with real threads racing (``models.contract``), and the rest of the Store
contract is checked too (a race of its own included, on stores with compare-and-swap:
get_object's bytes and etag read together). A claim that does not hold makes the store
non-conforming, with the evidence, and breaks the guarantees it costs; so does a failed
contract check. A probe or check that cannot decide leaves only the guarantees resting
on it undecided (``run._judge_store``).
"""

from __future__ import annotations

from collections.abc import Callable

from pubsafe.refimpl import LocalStore
from pubsafe.refimpl.errors import PubsafeError
from pubsafe.refimpl.store import Store

from ..guarantees import PROBE_GUARANTEES
from ..verdicts import ContractResult, ProbeResult
from .contract import CAS_RACES, CHECKS_BY_NAME, CONTRACT, CREATE_RACES, REPLACE_SIZES, WRITERS, run_check
from .durability import ROOT, power_loss_violations, workload_calls

__all__ = ["probe_capabilities", "check_contract", "PROBE_GUARANTEES"]


#: capability -> (the contract checks that probe it, what "honoured" was shown by)
_PROBES = {
    "create_only": (("put_never_overwrites", "create_only_has_one_winner"),
                    f"probed: a second put refused; {CREATE_RACES} trials of {WRITERS} threads racing a create-only "
                    "put on one key, one winner each"),
    "compare_and_swap": (("compare_and_swap_semantics", "compare_and_swap_has_one_winner"),
                         f"probed: stale and absent expectations refused; {CAS_RACES} trials of {WRITERS} threads "
                         "racing one etag, one winner each"),
    "atomic_replace": (("replace_is_atomic_to_a_concurrent_reader",),
                       f"probed: a reader thread racing replaces saw whole documents only, between documents of equal "
                       f"and of different lengths, at {len(REPLACE_SIZES)} sizes from {REPLACE_SIZES[0]} bytes to "
                       f"{REPLACE_SIZES[-1] // 2**20} MiB"),
}


def probe_capabilities(store_factory: Callable[[], Store], cleanup: Callable[[Store], None]) -> list[ProbeResult]:
    store = store_factory()
    try:
        caps = store.capabilities
        results = [_probe(name, getattr(caps, name), store) for name in _PROBES]
        results.append(_durable_probe(caps.durable, store))
        return results
    finally:
        cleanup(store)


def _probe(name: str, claimed: bool, store: Store) -> ProbeResult:
    if not claimed:
        return ProbeResult(capability=name, claimed=False, honoured=None, evidence="not claimed, not relied on")
    checks, honoured = _PROBES[name]
    failures = []
    for check_name in checks:
        status, detail = run_check(CHECKS_BY_NAME[check_name], store)
        if status == "unavailable":  # the store broke the probe off: it shows neither way
            return ProbeResult(capability=name, claimed=True, honoured=None,
                               evidence=f"not judged by {check_name}: {detail.removeprefix('not judged: ')}")
        if status == "failed":
            failures.append(f"{check_name}: {detail}")
    if not failures:
        return ProbeResult(capability=name, claimed=True, honoured=True, evidence=honoured)
    evidence = f"{len(failures)} of {len(checks)} sub-probes failed: " + " | ".join(failures)
    terms = getattr(store, "wire_terms", {})
    if name in terms:
        evidence = (f"asked as {terms[name]}, which a losing or conflicting writer must get {terms['refused']} for; "
                    f"this server did otherwise ({evidence})")
    return ProbeResult(capability=name, claimed=True, honoured=False, evidence=evidence)


def _durable_probe(claimed: bool, store: Store) -> ProbeResult:
    if not claimed:
        return ProbeResult(capability="durable", claimed=False, honoured=None, evidence="not claimed, not relied on")
    if not isinstance(store, LocalStore):
        return ProbeResult(capability="durable", claimed=True, honoured=None,
                           evidence="skipped: power loss is modelled for stores on LocalStore's OS seam only")
    make = lambda disk: type(store)(ROOT, os_ops=disk)  # noqa: E731
    try:
        calls = workload_calls(make)
        for cut in [*range(calls), None]:
            broken = power_loss_violations(make, cut)
            if broken:
                where = "after the workload" if cut is None else f"before OS call {cut}"
                return ProbeResult(capability="durable", claimed=True, honoured=False,
                                   evidence=f"power cut {where} broke {sorted(broken)} on a simulated disk")
    except PubsafeError as exc:
        return ProbeResult(capability="durable", claimed=True, honoured=False,
                           evidence=f"the probe failed with {exc!r}")
    return ProbeResult(capability="durable", claimed=True, honoured=True,
                       evidence=f"probed: power cut before each of {calls} OS calls of a publish, rollback and "
                                "sweep workload on a simulated disk; every acknowledged write survived")


def check_contract(store_factory: Callable[[], Store], cleanup: Callable[[Store], None]) -> list[ContractResult]:
    """The Store contract checks the capability probes do not run: the sequential ones,
    and (where compare-and-swap is claimed) the race of get_object against writers."""
    probed = {name for checks, _ in _PROBES.values() for name in checks}
    store = store_factory()
    try:
        results = []
        for check in CONTRACT:
            if check.name in probed:
                continue
            status, detail = run_check(check, store)
            results.append(ContractResult(check=check.name, status=status, detail=detail or check.doc,
                                          guarantees=list(check.guarantees)))
        return results
    finally:
        cleanup(store)
