"""What the machine holds between steps and the helpers every rule uses.

``MachineState`` is the model's side of an example: the store under test (observed),
the checker's own mirror of it, the oracle of what was acknowledged, the step clock,
the serving reader; and the helpers that call the system under test, note
acknowledgements and turn a checker's ``Violation`` into a failed example. The
rules themselves are ``publish_machine.PublishMachine``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any, ClassVar, Self

from hypothesis import assume
from hypothesis.stateful import RuleBasedStateMachine

from pubsafe.faults import Event, FaultyStore
from pubsafe.faults.backend import backend_seam
from pubsafe.refimpl.errors import PubsafeError

from ..checkers import GuaranteeViolation, Violation, check_contents
from ..checkers.listing import LISTING_FAULT, listing_fault
from ..checkers.manifest_last import check_current_at, mapping_keys
from ..checkers.oracle import (
    RECORDS,
    Oracle,
    blob_key,
    canonical,
    current_key,
    history_key,
    parse_manifest,
    payload_version,
)
from ..checkers.orphans import orphans
from ..checkers.reading import read_keys
from ..checkers.rollback import (
    read_history_entry,
)
from ..checkers.serving import CurrentLog
from ..exploration import TTL, StepClock, payload
from ..failures import store_failed
from ..guarantees import Guarantee
from ..target import Target
from .observed import ObservedStore, StoreView
from .sink import RunSink

__all__ = ["MachineState", "SLOTS"]


#: The slots every example starts with; ``add_slot`` adds drawn ones. Rules name a slot
#: by its index (modulo the number of slots), so a printed program stays plain data.
SLOTS = [("acme", "home"), ("acme", "feed"), ("beta", "home"), ("caf\u00e9", "home")]
#: How ``add_variant_slot`` derives a new name from an existing one: the pairs that a
#: store folding case or Unicode normalisation, or a careless prefix match, conflates.
VARIANTS = {
    "upper": str.upper,
    "title": str.title,
    "nfd": lambda name: unicodedata.normalize("NFD", name),
    "longer": lambda name: name + "-2",
    "shorter": lambda name: name[:-1] or name + "x",
}
#: A payload is a seed of the familiar payload or a drawn document (always an object).
Payload = int | dict[str, Any]
FAULT_KINDS = ("crash", "lost-ack", "error", "error-after", "torn")
#: Tenants of the slots ``rollback_to_a_lost_blob`` makes: wide, and cheap to draw
WIDE_TENANTS = ["acme", "caf\u00e9", "cafe\u0301", "ACME", "\u65e5\u672c", "\U0001f600smile", "a b", "100%", "x" * 128]
#: What happens to a blob only history names, before a rollback to it (``rollback_to_a_lost_blob``)
DAMAGE = {"deleted": "deleted", "altered": "replaced by other bytes", "truncated": "cut to half its length",
          "emptied": "emptied", "unrecorded": "left without its registry record"}


class MachineState(RuleBasedStateMachine):
    """The state of one example, its helpers, and the whole-store check at its end
    (``teardown``); no rules (``PublishMachine`` adds them)."""

    target: ClassVar[Target]
    skip: ClassVar[frozenset[Guarantee]] = frozenset()
    sink: ClassVar[RunSink] = RunSink()
    atomic: ClassVar[bool] = True  #: does the store claim atomic replace (so no torn writes)?

    @classmethod
    def bind(
        cls, target: Target, *, skip: frozenset[Guarantee] = frozenset(), sink: RunSink | None = None
    ) -> type[Self]:
        """This machine, checking ``target``. The subclass keeps the name, so a printed
        program reads ``state = PublishMachine()``."""
        probe = target.store_factory()
        atomic = probe.capabilities.atomic_replace
        reachable = backend_seam(probe) is not None
        target.cleanup(probe)
        attributes = {"target": target, "skip": frozenset(skip), "sink": sink or RunSink(), "atomic": atomic,
                      "__qualname__": "PublishMachine", "__module__": cls.__module__}
        if not reachable:  # no backend to fail: not a rule at all (a rule never enabled still costs draws)
            attributes["publish_with_backend_fault"] = None
        return type("PublishMachine", (cls,), attributes)

    def __init__(self) -> None:
        super().__init__()
        self.clock = StepClock()
        self.store = ObservedStore(self.target.store_factory())
        self.view = StoreView(self.store)  # the checker's mirror: re-reads what each step wrote
        self.oracle = Oracle()
        self.history: list[Event] = []
        self.reader = self.target.reader_factory(self.store, manifest_ttl=TTL, clock=self.clock)
        self.seam = backend_seam(self.store.inner)  #: where backend errors can be injected, if anywhere
        self.current_log: dict[tuple[str, str], CurrentLog] = {}
        self.invalidated: set[tuple[str, str]] = set()  #: slots invalidated since the reader last read them
        self.slots = list(SLOTS)
        self.isolated = 0  #: slots made by rules that need one of their own (never in ``slots``)
        self.checked: tuple[int, int] | None = None  #: (mirror version, oracle changes) the invariant last held at
        self.sink.examples += 1
        self.sink.last_history = self.history

    # -- helpers -------------------------------------------------------------------

    def engine(self, store: Any = None) -> Any:
        return self.target.engine_factory(store if store is not None else self.store,
                                          guarded=self.target.guarded, clock=self.clock)

    def recorder(self, actor: str, plan: str = "") -> FaultyStore:
        return FaultyStore(self.store, plan, actor=actor, events=self.history)

    def fail(self, violation: Violation) -> None:
        if violation.guarantee in self.skip:
            return
        violation = self.listing_behind(violation)
        self.history.append(Event("checker", "violation", str(violation.guarantee), result="violation",
                                  time=len(self.history)))
        raise GuaranteeViolation(violation)

    def fail_all(self, violations: list[Violation]) -> None:
        for violation in violations:
            self.fail(violation)

    def listing_behind(self, violation: Violation) -> Violation:
        """The listing fault behind ``violation``, if the store's listing leaves out keys
        that exist (whatever worked from a listing, a sweep or a history walk, saw part
        of the store, and the report must name the cause, not what it caused); else
        ``violation`` itself. Run only on the way to a failure: one listing."""
        if LISTING_FAULT in violation.message or Guarantee.G1 in self.skip:
            return violation
        try:
            return self.listing_check("", consequence=str(violation)) or violation
        except PubsafeError:
            return violation

    def listing_check(self, prefix: str, consequence: str = "") -> Violation | None:
        """The store's ``list(prefix)`` against the keys the mirror holds there, each
        left out of the listing read again by key (the mirror may be stale, not the listing)."""
        listed = self.store.inner.list(prefix)
        seen = set(listed)
        missing = [k for k in self.view.refresh() if k.startswith(prefix) and k not in seen]
        found = [k for k, data in read_keys(self.store.inner, missing).items() if data is not None]
        return listing_fault(prefix, listed, [*seen, *found], consequence)

    def call(self, guarantee: Guarantee, what: str, run: Callable[[], Any], *,
             allowed: tuple[type[BaseException], ...] = ()) -> Any:
        """Call the system under test; an error it is not documented to raise is a counterexample."""
        passed_on: tuple[type[BaseException], ...] = (*allowed, GuaranteeViolation)  # a check inside ``run`` found one
        try:
            return run()
        except passed_on:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the engine raises is judged, not propagated
            if failure := store_failed(what, exc):
                raise failure from exc
            self.fail(Violation(guarantee, f"{what} raised {type(exc).__name__}: {exc}"))
            assume(False)  # that guarantee is already known broken: this example cannot go on

    def slot(self, index: int) -> tuple[str, str]:
        return self.slots[index % len(self.slots)]

    @staticmethod
    def artifacts(types: list[str], values: list[Payload], variant: int = 0) -> dict[str, Any]:
        return {t: payload(v, variant) if isinstance(v, int) else v for t, v in zip(types, values, strict=False)}

    def current_bytes(self, slot: tuple[str, str]) -> bytes | None:
        return self.view.refresh().get(current_key(*slot))

    def mapping(self, slot: tuple[str, str]) -> dict[str, str] | None:
        return mapping_keys(self.current_bytes(slot), self.store.root_uri)

    def merged(self, slot: tuple[str, str], before: dict[str, str] | None, artifacts: dict[str, Any]) -> dict[str, str]:
        return (before or {}) | {t: blob_key(*slot, t, payload_version(p)) for t, p in artifacts.items()}

    def ack(self, slot: tuple[str, str], artifacts: dict[str, Any]) -> None:
        """Note a publish as acknowledged: its payloads, and the manifest now current,
        whose history entry must be there (else no rollback can name it: G4)."""
        for type_, value in artifacts.items():
            self.oracle.ack_payload(*slot, type_, value)
        data = self.current_bytes(slot)
        if data is not None:
            manifest = parse_manifest(data)
            new = manifest.version not in self.oracle.mappings
            self.oracle.ack_manifest(*slot, manifest.version, mapping_keys(data, self.store.root_uri) or {})
            if new and isinstance(entry := read_history_entry(self.view.refresh(), slot, manifest.version), str):
                self.fail(Violation(Guarantee.G4, f"{entry}, though a publish to {slot[0]}/{slot[1]} returned with it "
                                                  "current: no rollback can name it",
                                    history_key(*slot, manifest.version)))

    def current_version(self, slot: tuple[str, str]) -> str | None:
        """The version of the slot's current manifest; None if absent or unreadable."""
        data = self.current_bytes(slot)
        try:
            return None if data is None else parse_manifest(data).version
        except ValueError:
            return None

    def history_keys(self, slot: tuple[str, str]) -> set[str]:
        prefix = f"history/{slot[0]}/{slot[1]}/"
        return {k for k in self.view.refresh() if k.startswith(prefix)}

    def current_at(self, slot: tuple[str, str]) -> list[Violation]:
        """G2 for what the store returns at the slot's current key, read by key (a listing
        of a store that folds two keys into one shows only one of them)."""
        key = current_key(*slot)
        try:
            data = self.store.inner.get(key)
        except PubsafeError:
            return []
        return check_current_at(key, data, self.view.refresh(), self.store.root_uri, self.oracle)

    def note_current(self) -> None:
        """Log, per slot, when current changed to which manifest (the serving checks' truth)."""
        for slot in self.slots:
            try:
                data = self.current_bytes(slot)
                version = parse_manifest(data).version if data is not None else None
            except ValueError:
                version = None
            log = self.current_log.setdefault(slot, [])
            if not log or log[-1][1] != version:
                log.append((self.clock(), version))

    def after_step(self) -> None:
        """The invariant, called by every rule so that a pasted program checks it too."""
        self.sink.steps += 1
        self.sink.progress(1)
        self.note_current()
        contents = self.view.refresh()
        state = (self.view.version, self.oracle.changes)
        if state != self.checked:  # else the same contents and acknowledgements as the last check: no news
            self.fail_all(check_contents(contents, self.store.root_uri, self.oracle, skip=self.skip))
            self.checked = state

    def note_orphans(self, cause: str) -> None:
        found = orphans(self.view.refresh(), self.store.root_uri)
        if found:
            self.sink.witness(Guarantee.R4, f"after {cause}: {len(found)} orphan(s), e.g. {found[0]}", self.history)

    def damage(self, blob: str, how: str) -> None:
        """What an operator, a lifecycle rule or bit rot does to a blob behind pubsafe's back."""
        if how == "deleted":
            self.store.delete(blob)
        elif how == "unrecorded":
            self.store.delete(RECORDS + blob)
        else:
            data = self.store.get(blob)
            bad = {"altered": canonical({"not": "what its version says"}), "truncated": data[: len(data) // 2],
                   "emptied": b""}[how]
            self.store.replace(blob, bad)
        self.oracle.acked_blobs.pop(blob, None)
        self.oracle.first_seen_blobs.pop(blob, None)
        self.oracle.changes += 1

    def refusal(self, guarantee: Guarantee, what: str, run: Callable[[], Any]) -> BaseException | None:
        """Run an operation that may be refused: the refusal (a pubsafe error or ValueError),
        or None if it went through; a store failing by itself proves nothing (StoreFailed)."""
        try:
            self.call(guarantee, what, run, allowed=(PubsafeError, ValueError))
        except (PubsafeError, ValueError) as exc:
            if failure := store_failed(what, exc):
                raise failure from exc
            return exc
        return None

    def listed_prefixes(self) -> list[str]:
        """Prefixes whose listing the end of an example checks besides the whole store's:
        what ``pubsafe history`` and dialect detection list, and a name cut short (a
        prefix is a plain string, not a path segment) of the slot added last (often a
        drawn, wide name)."""
        tenant, surface = self.slots[-1]
        return [f"history/{tenant}/{surface}/", "records/", tenant[: max(1, len(tenant) // 2)]]

    def teardown(self) -> None:
        """The full, independent check: the whole store read again. A key that changed
        without a write addressed to it is invisible to the per-step checks; so is a
        listing that leaves keys out (judged here, whole and under ``listed_prefixes``)."""
        try:
            wrong = self.view.verify()
            if self.view.omitted and (fault := listing_fault("", self.view.listed, self.view.contents)):
                self.fail(fault)  # before what it would pass for: objects that look gone
            for prefix in self.listed_prefixes():
                if fault := self.listing_check(prefix):
                    self.fail(fault)
            if wrong:
                self.fail_all(check_contents(self.view.contents, self.store.root_uri, self.oracle, skip=self.skip))
        finally:
            self.target.cleanup(self.store.inner)
