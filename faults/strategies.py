"""Hypothesis strategies for schedules and fault plans that shrink well.

A schedule shrinks toward shorter strings and toward earlier letters; since the
scheduler finishes leftover actors in letter order, a shorter schedule is a more
sequential one, and the minimal counterexample is the least interleaving that
still breaks something.
"""

from __future__ import annotations

from hypothesis import strategies as st

from pubsafe.refimpl.phases import PUBLISH_PHASES

from .plan import Fault, FaultPlan

__all__ = ["schedules", "fault_plans"]


def schedules(actors: str, *, max_steps: int = 40) -> st.SearchStrategy[str]:
    """Schedule strings over the given actor letters (for example ``"AB"``)."""
    if not actors:
        raise ValueError("give at least one actor letter")
    return st.lists(st.sampled_from(sorted(actors)), max_size=max_steps).map("".join)


def fault_plans(kinds: tuple[str, ...] = ("crash", "lost-ack")) -> st.SearchStrategy[FaultPlan]:
    """One fault at a publish phase boundary: the plans that matter most."""
    return st.builds(
        lambda kind, label, nth: FaultPlan((Fault(kind, label, nth),)),
        st.sampled_from(kinds),
        st.sampled_from(PUBLISH_PHASES),
        st.integers(min_value=1, max_value=2),
    )
