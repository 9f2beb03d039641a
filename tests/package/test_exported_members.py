"""Pin the public surface so changes to it are deliberate."""

from __future__ import annotations

from pubsafe import faults, refimpl
from pubsafe.refimpl import errors as _errors  # noqa: F401 - loads refimpl.errors


def test_refimpl_exports():
    assert set(refimpl.__all__) == {
        "ABSENT", "ANY", "AzureStore", "Capabilities", "Current", "Engine", "Expect", "Finding", "FsspecStore",
        "GCReport", "GCSStore", "HistoryEntry", "LocalStore", "Manifest", "MemoryStore", "ObjectInfo",
        "OrphanInfo", "PublishReceipt", "ReadError", "RegistryRecord", "RollbackReceipt",
        "ServingReader", "Store", "StoredObject", "canonical_bytes", "canonicalize",
        "current_phase", "open_store", "phase", "version_of_bytes", *refimpl.errors.__all__,
    }
    for name in refimpl.__all__:
        assert getattr(refimpl, name) is not None


def test_every_error_is_a_pubsafe_error_and_documented():
    for name in refimpl.errors.__all__:
        error = getattr(refimpl.errors, name)
        assert issubclass(error, refimpl.errors.PubsafeError)
        assert name in refimpl.errors.__doc__, f"{name} missing from the exception tree"


def test_faults_exports():
    assert set(faults.__all__) == {
        "Crash", "Event", "FAULT_KINDS", "Fault", "FaultPlan", "FaultyStore", "InjectedError", "Interleaving",
        "RunResult", "SimulatedDisk", "StaleStore", "explore", "explore_reduced",
    }
    assert not issubclass(faults.Crash, Exception)
