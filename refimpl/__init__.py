"""refimpl: the reference publish engine (the system under test).

Stores behind one small contract (``Store``), the four-phase publish with the
manifest swapped last, rollback as a pointer change, audit, orphan listing, a
GC that never races a publish, and the serving reader. Imports nothing else of
pubsafe's.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import *  # noqa: F403 - the exception tree is part of the public surface
from .errors import __all__ as _error_names
from .open_store import open_store  # eager: the submodule of that name would shadow a lazy function

#: public name -> the module defining it. Imported on first use (PEP 562), so that
#: ``--help``, ``--version`` and a usage error do not pay for the engine.
_LAZY = {
    **dict.fromkeys(("canonical_bytes", "canonicalize", "version_of_bytes"), "canonical"),
    **dict.fromkeys(("Current", "Engine"), "engine"),
    "AzureStore": "azure_store",
    "FsspecStore": "fsspec_store",
    "GCSStore": "gcs_store",
    "LocalStore": "local",
    "MemoryStore": "memory",
    **dict.fromkeys(("current_phase", "phase"), "phases"),
    **dict.fromkeys(("ReadError", "ServingReader"), "reader"),
    **dict.fromkeys(("Finding", "GCReport", "HistoryEntry", "Manifest", "OrphanInfo", "PublishReceipt",
                     "RegistryRecord", "RollbackReceipt"), "documents"),
    **dict.fromkeys(("ABSENT", "ANY", "Capabilities", "Expect", "ObjectInfo", "Store", "StoredObject"), "store"),
}

if TYPE_CHECKING:
    from .azure_store import AzureStore
    from .canonical import canonical_bytes, canonicalize, version_of_bytes
    from .documents import (
        Finding,
        GCReport,
        HistoryEntry,
        Manifest,
        OrphanInfo,
        PublishReceipt,
        RegistryRecord,
        RollbackReceipt,
    )
    from .engine import Current, Engine
    from .fsspec_store import FsspecStore
    from .gcs_store import GCSStore
    from .local import LocalStore
    from .memory import MemoryStore
    from .phases import current_phase, phase
    from .reader import ReadError, ServingReader
    from .store import ABSENT, ANY, Capabilities, Expect, ObjectInfo, Store, StoredObject


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ABSENT",
    "ANY",
    "AzureStore",
    "Capabilities",
    "Current",
    "Engine",
    "Expect",
    "Finding",
    "FsspecStore",
    "GCReport",
    "GCSStore",
    "HistoryEntry",
    "LocalStore",
    "Manifest",
    "MemoryStore",
    "ObjectInfo",
    "OrphanInfo",
    "PublishReceipt",
    "ReadError",
    "RegistryRecord",
    "RollbackReceipt",
    "ServingReader",
    "Store",
    "StoredObject",
    "canonical_bytes",
    "canonicalize",
    "current_phase",
    "open_store",
    "phase",
    "version_of_bytes",
    *_error_names,
]
