"""refimpl: the reference publish engine (the system under test).

Stores behind one small contract (``Store``), the four-phase publish with the
manifest swapped last, rollback as a pointer change, audit, orphan listing, a
GC that never races a publish, and the serving reader. Imports nothing else of
pubsafe's.
"""

from __future__ import annotations

from .canonical import canonical_bytes, canonicalize, version_of_bytes
from .engine import Current, Engine
from .errors import *  # noqa: F403 - the exception tree is part of the public surface
from .errors import __all__ as _error_names
from .fsspec_store import FsspecStore
from .local import LocalStore
from .memory import MemoryStore
from .open_store import open_store
from .phases import current_phase, phase
from .reader import ReadError, ServingReader
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
from .store import ABSENT, ANY, Capabilities, Expect, ObjectInfo, Store, StoredObject

__all__ = [
    "ABSENT",
    "ANY",
    "Capabilities",
    "Current",
    "Engine",
    "Expect",
    "Finding",
    "FsspecStore",
    "GCReport",
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
