"""What a contract check is, the register of them in the order they run, and how one
run is judged (passed, failed, skipped, unavailable)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pubsafe.refimpl.errors import (
    PubsafeError,
)
from pubsafe.refimpl.store import Store

from ...failures import NOT_JUDGED, is_store_failure
from ...guarantees import Guarantee

__all__ = ["Skip", "NotJudged", "ContractCheck", "CONTRACT", "check", "run_check", "G1", "G2", "G3", "G5", "R1", "R2",
           "R3", "R4", "R5"]

G1, G2, G3, G5, R1, R2, R3, R4, R5 = (Guarantee.G1, Guarantee.G2, Guarantee.G3, Guarantee.G5, Guarantee.R1,
                                      Guarantee.R2, Guarantee.R3, Guarantee.R4, Guarantee.R5)


class Skip(Exception):
    """The check does not apply to this store (it does not claim the capability)."""


class NotJudged(Exception):
    """The check ran but saw nothing it could judge either way (it says why)."""


@dataclass(frozen=True)
class ContractCheck:
    name: str
    guarantees: tuple[Guarantee, ...]  #: what a store failing it cannot keep
    doc: str
    run: Callable[[Store], str | None]


CONTRACT: list[ContractCheck] = []


def check(*guarantees: Guarantee) -> Callable[[Callable[[Store], str | None]], Callable[[Store], str | None]]:
    def register(fn: Callable[[Store], str | None]) -> Callable[[Store], str | None]:
        CONTRACT.append(ContractCheck(fn.__name__, guarantees, " ".join((fn.__doc__ or "").split()), fn))
        return fn

    return register


def run_check(check: ContractCheck, store: Store) -> tuple[str, str]:
    """("passed" | "failed" | "skipped" | "unavailable", detail); an unexpected exception
    is a failure that names the contract it broke, unless the store failed by itself."""
    try:
        problem = check.run(store)
    except Skip as skip:
        return "skipped", str(skip)
    except NotJudged as why:
        return "unavailable", f"not judged: {why}"
    except PubsafeError as exc:
        if is_store_failure(exc):
            return "unavailable", f"{NOT_JUDGED} ({type(exc).__name__}: {exc})"
        return "failed", f"raised {type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - a store raising outside the contract is the finding
        return "failed", (f"raised {type(exc).__name__}: {exc}; a Store must raise the exceptions of "
                          "pubsafe.refimpl.errors (ObjectNotFound for a missing key, AlreadyExists, Conflict...)")
    return ("passed", "") if problem is None else ("failed", problem)
