"""What every checker returns: violations tagged with the guarantee they break."""

from __future__ import annotations

from dataclasses import dataclass

from ..guarantees import Guarantee

__all__ = ["Violation", "GuaranteeViolation"]


@dataclass(frozen=True)
class Violation:
    guarantee: Guarantee
    message: str
    key: str = ""  #: the store key the violation is about, where there is one

    def __str__(self) -> str:
        return f"{self.guarantee}: {self.message}"


class GuaranteeViolation(AssertionError):
    """Raised by the state machine so Hypothesis shrinks to the smallest example."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(str(violation))
        self.violation = violation
