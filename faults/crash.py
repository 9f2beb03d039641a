"""The simulated crash."""

from __future__ import annotations

__all__ = ["Crash"]


class Crash(BaseException):
    """The process died here.

    A BaseException, not an Exception, so an engine's ``except Exception`` cannot
    swallow it by accident and carry on as if it had survived. After a Crash the
    engine instance is discarded; recovery is a fresh engine over the same store.
    """

    def __init__(self, message: str, *, op: str = "", key: str = "", phase: str | None = None) -> None:
        super().__init__(message)
        self.op = op
        self.key = key
        self.phase = phase
