"""The conformance suite and the Store contract as pytest mixins, for adapter authors.

    from pubsafe.models.pytest_suite import ConformanceTests, StoreContractTests

    class TestMyStore(ConformanceTests):
        @pytest.fixture
        def store_factory(self):
            return lambda: MyStore(...)      # a fresh, empty store per call (closed after use)

    class TestMyStoreContract(StoreContractTests):
        @pytest.fixture
        def store(self):
            return MyStore(...)              # a fresh, empty store

``ConformanceTests``: override ``engine_factory``, ``reader_factory`` or ``guarded`` the
same way. One conformance run per class; one test per guarantee, failing with the
counterexample and the replay command. ``--pubsafe-profile`` and ``--pubsafe-seed``
choose how hard. ``StoreContractTests``: one test per check of ``models.contract``
(the checks ``pubsafe check`` runs too); ``skip_checks`` opts out of named checks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pubsafe.refimpl import ServingReader, Store

from .conformance.contract import CHECKS_BY_NAME, CONTRACT, run_check
from .conformance.run import run_conformance
from .guarantees import Guarantee
from .target import default_engine, factory_target
from .verdicts import Report

__all__ = ["ConformanceTests", "StoreContractTests"]


class StoreContractTests:
    #: check name -> why this backend opts out of it (shown as the skip reason)
    skip_checks: dict[str, str] = {}

    @pytest.fixture
    def store(self) -> Store:
        raise NotImplementedError("override the `store` fixture: return a fresh, empty Store")

    @pytest.mark.parametrize("check", [check.name for check in CONTRACT])
    def test_store_contract(self, store: Store, check: str) -> None:
        if check in self.skip_checks:
            pytest.skip(self.skip_checks[check])
        status, detail = run_check(CHECKS_BY_NAME[check], store)
        if status == "skipped":
            pytest.skip(detail)
        assert status == "passed", f"{check} ({CHECKS_BY_NAME[check].doc}): {detail}"


_REPORTS: dict[type, Report] = {}


class ConformanceTests:
    """One conformance run per class (run once, shared by its tests); one test per guarantee.

    The fixtures are function-scoped (plain methods, as pytest wants) and the run is
    cached per class, so overriding one is a plain ``@pytest.fixture`` method.
    """

    @pytest.fixture
    def store_factory(self) -> Callable[[], Store]:
        raise NotImplementedError("override the `store_factory` fixture: return a callable making a fresh Store")

    @pytest.fixture
    def engine_factory(self) -> Callable[..., Any]:
        return default_engine

    @pytest.fixture
    def reader_factory(self) -> Callable[..., Any]:
        return ServingReader

    @pytest.fixture
    def guarded(self) -> bool:
        return False

    @pytest.fixture
    def conformance_report(self, request: pytest.FixtureRequest, store_factory: Callable[[], Store],
                           engine_factory: Callable[..., Any], reader_factory: Callable[..., Any],
                           guarded: bool) -> Report:
        if request.cls not in _REPORTS:
            target = factory_target(request.cls.__name__, store_factory, engine_factory=engine_factory,
                                    reader_factory=reader_factory, guarded=guarded)
            report = run_conformance(
                target,
                request.config.getoption("pubsafe_profile"),
                seed_value=request.config.getoption("pubsafe_seed"),
                replay=f"pytest {request.node.nodeid.split('::')[0]}::{request.cls.__name__} "
                       f"--pubsafe-profile {request.config.getoption('pubsafe_profile')} "
                       f"--pubsafe-seed {request.config.getoption('pubsafe_seed')}",
            )
            directory = request.config.getoption("pubsafe_report")
            if directory:  # the plugin renders (the checker's layer does not import the renderers)
                request.getfixturevalue("pubsafe_write_report")(report, Path(directory) / request.cls.__name__)
            _REPORTS[request.cls] = report
        return _REPORTS[request.cls]

    def test_claimed_capabilities_are_honoured(self, conformance_report: Report,
                                               request: pytest.FixtureRequest) -> None:
        dishonoured = [p for p in conformance_report.probes if p.honoured is False]
        failed = [c for c in conformance_report.contract if c.status == "failed"]
        if dishonoured or failed:
            lines = [f"{p.capability}: {p.evidence}" for p in dishonoured] + [f"{c.check}: {c.detail}" for c in failed]
            pytest.fail("\n".join(lines) + _footer(conformance_report, request), pytrace=False)

    @pytest.mark.parametrize("guarantee", [g.value for g in Guarantee])
    def test_guarantee(self, conformance_report: Report, guarantee: str, request: pytest.FixtureRequest) -> None:
        verdict = conformance_report.verdict(guarantee)
        if verdict.as_expected:
            return
        detail = verdict.counterexample.message if verdict.counterexample else (verdict.error or verdict.witness)
        steps = "\n".join(verdict.counterexample.steps) if verdict.counterexample else ""
        pytest.fail(
            f"{guarantee} ({verdict.title}): {verdict.status.value}, expected {verdict.expected.value}\n"
            f"{detail}\n{steps}" + _footer(conformance_report, request),
            pytrace=False,
        )


def _footer(report: Report, request: pytest.FixtureRequest) -> str:
    replay = next((v.counterexample.replay for v in report.verdicts if v.counterexample), None)
    replay = replay or f"pytest {request.node.nodeid.split('::')[0]}::{request.cls.__name__}"
    directory = request.config.getoption("pubsafe_report")
    where = (f"report: {Path(directory) / request.cls.__name__ / 'report.html'}" if directory
             else "write the HTML report with --pubsafe-report DIR")
    return f"\nreplay: {replay}\n{where}"
