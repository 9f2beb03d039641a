"""FaultyStore: any Store, delegating, with faults injected by a plan.

Same contract as the store it wraps (fsspec's dirfs shape: forward to ``inner``),
plus two things: it records every operation it saw (``events``, the history, as
``actor``) and it fires the plan's faults. Wrappers compose: a FaultyStore can wrap
another wrapper.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pubsafe.refimpl.errors import RetryableStoreError
from pubsafe.refimpl.phases import current_phase
from pubsafe.refimpl.store import Store

from .crash import Crash
from .delegate import DelegatingStore
from .history import Event
from .plan import Fault, FaultPlan


class InjectedError(RetryableStoreError):
    """A transient store error the nemesis injected: a fault under test, unlike one
    the store under test raised by itself (which makes a check UNKNOWN, not BREAKS)."""

__all__ = ["FaultyStore"]


@dataclass
class FaultyStore(DelegatingStore):
    inner: Store
    plan: FaultPlan | str = field(default_factory=FaultPlan)  #: a plan, or its text (``FaultPlan.parse``)
    delay: float = 0.0
    sleep: Callable[[float], None] = time.sleep
    on_pause: Callable[[str], None] = lambda where: None
    actor: str = "publish"  #: who the recorded events are attributed to
    events: list[Event] = field(default_factory=list)
    crashed: Crash | None = None

    def __post_init__(self) -> None:
        self.faults = (self.plan if isinstance(self.plan, FaultPlan) else FaultPlan.parse(self.plan)).faults
        self._seen = [0] * len(self.faults)
        self._fired = [False] * len(self.faults)

    @property
    def fired(self) -> list[Fault]:
        return [f for f, fired in zip(self.faults, self._fired, strict=True) if fired]

    def _due(self, op: str, key: str, phase: str | None) -> Fault | None:
        index = len(self.events)
        due = None
        for i, fault in enumerate(self.faults):
            if self._fired[i] or not fault.matches(index, op, key, phase):
                continue
            self._seen[i] += 1
            if due is None and self._seen[i] == fault.nth:
                self._fired[i] = True
                due = fault
        return due

    def _call(self, op: str, key: str, run: Callable[[], Any], data: bytes | None = None) -> Any:
        if self.crashed is not None:
            raise Crash(f"store used after the process crashed ({self.crashed})", op=op, key=key)
        phase = current_phase()
        fault = self._due(op, key, phase)
        event = Event(self.actor, op, key, phase, fault=None if fault is None else str(fault), time=len(self.events))
        self.events.append(event)
        try:
            return self._inject(fault, op, key, phase, run, data)
        except BaseException as exc:
            event.result = type(exc).__name__
            raise

    def _inject(
        self, fault: Fault | None, op: str, key: str, phase: str | None, run: Callable[[], Any], data: bytes | None
    ) -> Any:
        if fault is None:
            return run()
        where = f"{op} {key}" + (f" ({phase})" if phase else "")
        if fault.kind == "slow":
            self.sleep(self.delay)
            return run()
        if fault.kind == "pause":
            self.on_pause(f"before {where}")
            return run()
        if fault.kind == "error":
            raise InjectedError(f"injected transient error before {where}")
        if fault.kind == "crash":
            self._crash(f"injected crash before {where}", op, key, phase)
        if fault.kind == "torn":
            assert data is not None
            self.inner.replace(key, data[: len(data) // 2])
            self._crash(f"injected torn write at {where}: {len(data) // 2} of {len(data)} bytes", op, key, phase)
        result = run()
        if fault.kind == "pause-after":
            self.on_pause(f"after {where}")
            return result
        if fault.kind == "error-after":
            raise InjectedError(f"injected error after {where} took effect")
        self._crash(f"injected crash after {where} took effect (lost ack)", op, key, phase)

    def _crash(self, message: str, op: str, key: str, phase: str | None) -> None:
        self.crashed = Crash(message, op=op, key=key, phase=phase)
        raise self.crashed

    def recover(self) -> Store:
        """The store as a fresh process would find it: the inner store, unwrapped."""
        return self.inner
