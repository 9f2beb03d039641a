"""Fault plans: where to inject what, as a string that replays.

Grammar (faults separated by ``,``)::

    KIND@WHERE[#N]

KIND   crash        die before the operation (it does not happen)
       lost-ack     the operation takes effect, then the process dies before it returns
       torn         a write persists only a prefix of its bytes, then the process dies
                    (writes only; meaningful on stores without atomic replace)
       error        a transient, retryable error; the operation did not happen
       error-after  the operation happened, but the caller gets a retryable error
                    (a timeout whose request did land)
       slow         the operation is delayed by the wrapper's ``delay`` seconds
       pause        call the wrapper's ``on_pause`` before the operation (a
                    real-process test uses it to stop there and be SIGKILLed)
       pause-after  call ``on_pause`` after the operation took effect
WHERE  an operation index (``3``: the fourth store call), a phase label
       (``swap``, ``record-write``...), an operation name (``op=put``) or a key
       glob (``key=current/*``)
#N     fire at the N-th matching operation (default 1); each fault fires once

Examples: ``lost-ack@swap``, ``crash@record-write#2``, ``torn@op=replace``,
``error@3,crash@swap``.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from pubsafe.refimpl.errors import InvalidInput

__all__ = ["Fault", "FaultPlan", "FAULT_KINDS", "WRITE_OPS"]

FAULT_KINDS = ("crash", "lost-ack", "torn", "error", "error-after", "slow", "pause", "pause-after")
WRITE_OPS = frozenset({"put", "replace"})
_FAULT = re.compile(r"(?P<kind>[a-z-]+)@(?P<where>[^#,]+)(?:#(?P<nth>\d+))?")


@dataclass(frozen=True)
class Fault:
    kind: str
    where: str
    nth: int = 1

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise InvalidInput(f"unknown fault kind {self.kind!r}; choose one of {', '.join(FAULT_KINDS)}")
        if self.nth < 1:
            raise InvalidInput(f"#N counts matches from 1, got {self.nth}")

    def matches(self, index: int, op: str, key: str, phase: str | None) -> bool:
        if self.kind == "torn" and op not in WRITE_OPS:
            return False
        where = self.where
        if where.isdigit():
            return index == int(where)
        if where.startswith("op="):
            return op == where[3:]
        if where.startswith("key="):
            return fnmatch.fnmatchcase(key, where[4:])
        return phase == where

    def __str__(self) -> str:
        return f"{self.kind}@{self.where}" + (f"#{self.nth}" if self.nth != 1 else "")


@dataclass(frozen=True)
class FaultPlan:
    faults: tuple[Fault, ...] = ()

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        faults = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            match = _FAULT.fullmatch(part)
            if match is None:
                raise InvalidInput(
                    f"cannot read fault {part!r}: expected KIND@WHERE[#N], for example "
                    "'lost-ack@swap' or 'crash@3'"
                )
            faults.append(Fault(match["kind"], match["where"], int(match["nth"] or 1)))
        return cls(tuple(faults))

    def __str__(self) -> str:
        return ",".join(str(f) for f in self.faults)
