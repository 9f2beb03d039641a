"""The conformance suite as a pytest mixin, for store-adapter authors.

    from pubsafe.models.pytest_suite import ConformanceTests

    class TestMyStore(ConformanceTests):
        @pytest.fixture(scope="class")
        def store_factory(self):
            return lambda: MyStore(...)      # a fresh, empty store per call

Override ``engine_factory``, ``reader_factory`` or ``guarded`` the same way. One
conformance run per class; one test per guarantee, failing with the counterexample
and the replay command. ``--pubsafe-profile`` and ``--pubsafe-seed`` choose how hard.
"""

from __future__ import annotations

import pytest

from pubsafe.refimpl import ServingReader

from .conformance import run_conformance
from .target import Target, default_engine
from .guarantees import Guarantee
from .verdicts import Report

__all__ = ["ConformanceTests"]


class ConformanceTests:
    @pytest.fixture(scope="class")
    def store_factory(self):  # type: ignore[no-untyped-def]
        raise NotImplementedError("override the `store_factory` fixture: return a callable making a fresh Store")

    @pytest.fixture(scope="class")
    def engine_factory(self):  # type: ignore[no-untyped-def]
        return default_engine

    @pytest.fixture(scope="class")
    def reader_factory(self):  # type: ignore[no-untyped-def]
        return ServingReader

    @pytest.fixture(scope="class")
    def guarded(self) -> bool:
        return False

    @pytest.fixture(scope="class")
    def conformance_report(self, request, store_factory, engine_factory, reader_factory, guarded) -> Report:  # type: ignore[no-untyped-def]
        target = Target(request.cls.__name__, store_factory, engine_factory, reader_factory, guarded)
        return run_conformance(
            target,
            request.config.getoption("pubsafe_profile"),
            seed_value=request.config.getoption("pubsafe_seed"),
            replay=f"pytest {request.node.nodeid}",
        )

    def test_claimed_capabilities_are_honoured(self, conformance_report: Report) -> None:
        dishonoured = [p for p in conformance_report.probes if p.honoured is False]
        assert not dishonoured, "; ".join(f"{p.capability}: {p.evidence}" for p in dishonoured)

    @pytest.mark.parametrize("guarantee", [g.value for g in Guarantee])
    def test_guarantee(self, conformance_report: Report, guarantee: str) -> None:
        verdict = conformance_report.verdict(guarantee)
        if verdict.as_expected:
            return
        detail = verdict.counterexample.message if verdict.counterexample else (verdict.error or verdict.witness)
        steps = "\n".join(verdict.counterexample.steps) if verdict.counterexample else ""
        pytest.fail(
            f"{guarantee} ({verdict.title}): {verdict.status.value}, expected {verdict.expected.value}\n"
            f"{detail}\n{steps}",
            pytrace=False,
        )
