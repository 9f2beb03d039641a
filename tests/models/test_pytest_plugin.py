"""The pytest plugin and mixin, end to end with pytester."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

CONFORMING = """
import pytest
from pubsafe.models.pytest_suite import ConformanceTests
from pubsafe.refimpl import MemoryStore

class TestMemory(ConformanceTests):
    @pytest.fixture
    def store_factory(self):
        return MemoryStore
"""

BROKEN = """
import pytest
from pubsafe.models.mutants import OverwritingPutStore
from pubsafe.models.pytest_suite import ConformanceTests

class TestBroken(ConformanceTests):
    @pytest.fixture
    def store_factory(self):
        return OverwritingPutStore
"""


def test_a_conforming_store_passes_every_test(pytester: pytest.Pytester):
    pytester.makepyfile(CONFORMING)
    result = pytester.runpytest_subprocess("--pubsafe-profile=quick", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=11)


def test_a_broken_store_fails_with_the_guarantee_named(pytester: pytest.Pytester):
    pytester.makepyfile(BROKEN)
    result = pytester.runpytest_subprocess("--pubsafe-profile=quick", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] >= 2
    result.stdout.fnmatch_lines(["*G1 (immutable, version-addressed artifacts): BREAKS*", "*create_only*"])


def test_the_store_fixture_must_be_overridden(pytester: pytest.Pytester):
    pytester.makepyfile("""
from pubsafe.models.pytest_suite import ConformanceTests
class TestNothing(ConformanceTests):
    pass
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*override the `store_factory` fixture*"])


def test_the_mixins_are_clean_under_warnings_as_errors_and_write_reports(pytester: pytest.Pytester):
    pytester.makepyfile(BROKEN + '''

from pubsafe.models.pytest_suite import StoreContractTests
from pubsafe.refimpl import MemoryStore


class TestContract(StoreContractTests):
    @pytest.fixture
    def store(self):
        return MemoryStore()
''')
    report_dir = pytester.path / "reports"
    result = pytester.runpytest_subprocess("-W", "error", "--pubsafe-profile=quick", f"--pubsafe-report={report_dir}",
                                           "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert "error" not in outcomes and "errors" not in outcomes, result.stdout.str()[-3000:]
    assert outcomes["failed"] >= 2 and outcomes["passed"] >= 10
    result.stdout.fnmatch_lines(["*replay: pytest *TestBroken*", f"*report: {report_dir}*TestBroken*report.html*"])
    assert (report_dir / "TestBroken" / "report.html").read_text().startswith("<!doctype html>")


def test_the_shipped_contract_suite_fails_an_adapter_that_reads_bytes_and_etag_apart(pytester: pytest.Pytester):
    """The contract tests adapter authors run catch the two-request read (issue 24)."""
    pytester.makepyfile('''
import pytest
from pubsafe.models.mutants import ReadsBytesThenEtagStore
from pubsafe.models.pytest_suite import StoreContractTests


class TestReadsApart(StoreContractTests):
    @pytest.fixture
    def store(self):
        return ReadsBytesThenEtagStore()
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*test_store_contract?get_object_reads_bytes_and_etag_together?*",
                                 "*paired the bytes of one write with the etag of another*"])
