"""The mutant catalogue: deliberately broken stores, engines and readers.

Each mutant breaks one thing a real implementation gets wrong, and names the
guarantee that must then be reported BREAKS. The default profile must kill every
one (tests/models/test_mutants.py); ``python -m pubsafe.devtools.mutants`` prints
time-to-detect and counterexample length per mutant.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pubsafe.refimpl import Engine, MemoryStore, ServingReader

from ..target import Target, factory_target, remove_store_data
from .benign import ExtraReadsEngine, UnorderedSlowStore
from .engines import (
    AsciiEscapingEngine,
    AssumesExistingBlobIsRecordedEngine,
    CleansUpOnConflictEngine,
    InPlacePatchEngine,
    NoHistoryEngine,
    NonCanonicalHashEngine,
    PythonNumbersEngine,
    RecordOverwriteEngine,
    RollbackTrustsHistoryEngine,
    RollbackWritesEngine,
    StaleEtagSwapEngine,
    StepsFromNewestEngine,
    SwapBeforeRecordEngine,
    SwapBeforeValidateEngine,
    TimeoutRetryEngine,
    UnprotectedGCEngine,
)
from .readers import (
    CachesAbsenceReader,
    CaseFoldingReader,
    NeverExpiringReader,
    NormalisingInvalidateReader,
    SurfaceBlindReader,
    TrustingReader,
    VerifiesOnceReader,
)
from .stores import (
    CaseInsensitiveStore,
    CheckThenWriteCASStore,
    CheckThenWritePutStore,
    FirstPageListingStore,
    FlexibleChecksumError,
    IgnoresConditionsStore,
    IncompleteReadError,
    LinkErrorsAsExistsStore,
    NoFsyncLocalStore,
    NonAtomicReplaceStore,
    NormalizingStore,
    OverwritingPutStore,
    ReadsBytesThenEtagStore,
    StaleChecksumMetadataStore,
    StaleSizeMetadataStore,
    TearsEqualSizeReplacesStore,
    TearsLargeValuesStore,
)

__all__ = [
    "Mutant", "MUTANTS", "BENIGN", "mutant_target", "NonAtomicReplaceStore", "OverwritingPutStore",
    "IgnoresConditionsStore", "NoFsyncLocalStore", "CheckThenWritePutStore", "CheckThenWriteCASStore",
    "TearsLargeValuesStore", "ReadsBytesThenEtagStore", "IncompleteReadError", "TearsEqualSizeReplacesStore",
    "StaleSizeMetadataStore", "FlexibleChecksumError", "StaleChecksumMetadataStore", "CaseInsensitiveStore",
    "NormalizingStore", "FirstPageListingStore", "LinkErrorsAsExistsStore", "SwapBeforeRecordEngine",
    "SwapBeforeValidateEngine", "InPlacePatchEngine", "NonCanonicalHashEngine", "RecordOverwriteEngine",
    "RollbackWritesEngine", "NoHistoryEngine", "UnprotectedGCEngine", "AsciiEscapingEngine",
    "PythonNumbersEngine", "TimeoutRetryEngine", "CleansUpOnConflictEngine", "StaleEtagSwapEngine",
    "AssumesExistingBlobIsRecordedEngine", "RollbackTrustsHistoryEngine", "StepsFromNewestEngine",
    "NeverExpiringReader", "TrustingReader", "SurfaceBlindReader", "CachesAbsenceReader", "CaseFoldingReader",
    "NormalisingInvalidateReader", "VerifiesOnceReader", "ExtraReadsEngine", "UnorderedSlowStore",
]

# -- the catalogue ---------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    name: str
    breaks: str
    what: str
    store: Callable[[], Any] = MemoryStore
    engine: type[Engine] = Engine
    reader: type[ServingReader] = ServingReader
    guarded: bool = False
    local: bool = False
    benign: bool = False  #: a harmless variant: every guarantee must stay as expected


MUTANTS = [
    Mutant("non-atomic-replace", "G2", "replace truncates, then writes", store=NonAtomicReplaceStore),
    Mutant("put-overwrites", "G1", "create-only put overwrites", store=OverwritingPutStore),
    Mutant("ignores-conditions", "R1", "compare-and-swap ignores the etag (guarded mode)",
           store=IgnoresConditionsStore, guarded=True),
    Mutant("missing-fsync-before-rename", "G2", "temp file renamed into place unsynced", local=True),
    Mutant("swap-before-validate", "G2", "swap first, validate and record after", engine=SwapBeforeValidateEngine),
    Mutant("swap-before-record", "G2", "swap first, record after", engine=SwapBeforeRecordEngine),
    Mutant("in-place-manifest-patch", "G2", "current patched type by type", engine=InPlacePatchEngine),
    Mutant("non-canonical-hash", "G1", "version = sha256(json.dumps(payload))", engine=NonCanonicalHashEngine),
    Mutant("record-overwrite", "G3", "registry record rewritten on each publish", engine=RecordOverwriteEngine),
    Mutant("rollback-writes-artifacts", "G4", "rollback also rewrites history", engine=RollbackWritesEngine),
    Mutant("no-history", "G4", "no manifest history kept", engine=NoHistoryEngine),
    Mutant("gc-without-protection", "R5", "GC deletes orphans without a claim", engine=UnprotectedGCEngine),
    Mutant("reader-cache-never-expires", "G5", "serving cache ignores its TTL", reader=NeverExpiringReader),
    Mutant("reader-trusts-uris", "G5", "serving follows any URI, no hash check", reader=TrustingReader),
    # guarded races judged from outcomes
    Mutant("cas-against-fresh-etag", "R1", "guarded swap compares against an etag re-read just before it",
           engine=StaleEtagSwapEngine, guarded=True),
    # races inside one store operation
    Mutant("check-then-write-put", "G1", "create-only put checks, then writes", store=CheckThenWritePutStore),
    Mutant("check-then-write-cas", "R1", "compare-and-swap compares, then writes (guarded mode)",
           store=CheckThenWriteCASStore, guarded=True),
    Mutant("tears-large-values", "G2", "replaces over 1 MiB become visible half-written", store=TearsLargeValuesStore),
    Mutant("reads-bytes-then-etag", "R1", "get_object reads the bytes, then the etag, in two requests (guarded mode)",
           store=ReadsBytesThenEtagStore, guarded=True),
    Mutant("tears-equal-size-replaces", "G2", "replace overwrites in place when the length is unchanged",
           store=TearsEqualSizeReplacesStore),
    Mutant("stale-size-metadata", "G2", "replace renames the bytes in, then writes size and etag; reads trust the size",
           store=StaleSizeMetadataStore),
    Mutant("stale-checksum-metadata", "G2", "replace renames the bytes in, then writes the checksum; reads check it",
           store=StaleChecksumMetadataStore),
    # bugs that need particular names or payloads
    Mutant("case-insensitive-keys", "G2", "keys differing only in case are one object", store=CaseInsensitiveStore),
    Mutant("unicode-normalizing-keys", "G2", "keys are compared in NFC", store=NormalizingStore),
    Mutant("ascii-escaping-canonical", "G1", "non-ASCII text hashed as \\u escapes", engine=AsciiEscapingEngine),
    Mutant("python-number-spelling", "G1", "numbers hashed as Python spells them", engine=PythonNumbersEngine),
    Mutant("reader-surface-blind", "G5", "serving confines URIs to the tenant, not the surface",
           reader=SurfaceBlindReader),
    Mutant("reader-caches-absence", "G5", "invalidate() forgets found manifests, not absent ones",
           reader=CachesAbsenceReader),
    Mutant("reader-folds-tenant-case", "G5", "serving looks manifests up by lower-cased tenant",
           reader=CaseFoldingReader),
    # the retry path after a timeout, and errors that used to read as UNKNOWN
    Mutant("retry-after-timeout-refuses", "G3", "a record write retried after a timeout calls itself foreign",
           engine=TimeoutRetryEngine),
    Mutant("cleans-up-on-conflict", "G3", "on a lost guarded swap, deletes its writes and raises its own error",
           engine=CleansUpOnConflictEngine, guarded=True),
    Mutant("existing-blob-assumed-recorded", "G2", "an existing blob is taken as recorded (no R5 blamed)",
           engine=AssumesExistingBlobIsRecordedEngine),
    # issue 24: blind spots of the stateful model
    Mutant("listing-stops-at-a-page", "G1", "list() returns the first page of 1,000 keys, continuation ignored",
           store=FirstPageListingStore),
    Mutant("reader-invalidates-normalised-slot", "G5", "invalidate() forgets the NFC, case-folded slot, not the one "
           "named", reader=NormalisingInvalidateReader),
    Mutant("reader-verifies-blobs-once", "G5", "a blob's hash is checked on its first load only, not when re-read",
           reader=VerifiesOnceReader),
    Mutant("rollback-trusts-history", "G4", "rollback does not validate blobs only history names",
           engine=RollbackTrustsHistoryEngine),
    Mutant("steps-from-newest-entry", "G4", "rollback --steps counts back from the newest history entry, not current",
           engine=StepsFromNewestEngine),
    Mutant("link-errors-read-as-exists", "G4", "create-only put maps any failed link (ENOSPC, EIO) to AlreadyExists",
           store=LinkErrorsAsExistsStore),
]

#: Harmless variants: a checker that flags them raises false alarms.
BENIGN = [
    Mutant("extra-harmless-reads", "", "reads current and stats blobs more than needed", engine=ExtraReadsEngine,
           benign=True),
    Mutant("unordered-slow-listings", "", "lists in no order, 50 µs per call", store=UnorderedSlowStore, benign=True),
]


def mutant_target(mutant: Mutant | str) -> Target:
    """The conformance target of a mutant (or of the mutant of that name)."""
    if isinstance(mutant, str):
        mutant = next(m for m in [*MUTANTS, *BENIGN] if m.name == mutant)
    rebuild = f"mutant_target({mutant.name!r})"

    def engine_factory(store, *, clock, guarded=False):
        return mutant.engine(store, guarded=guarded, clock=clock)

    if mutant.local:
        def local_store() -> NoFsyncLocalStore:
            return NoFsyncLocalStore(tempfile.mkdtemp(prefix="pubsafe-check-"))

        return factory_target(f"mutant:{mutant.name}", local_store,
                              remove=remove_store_data, engine_factory=engine_factory, reader_factory=mutant.reader,
                              guarded=mutant.guarded, rebuild=rebuild)
    return Target(f"mutant:{mutant.name}", mutant.store, engine_factory, mutant.reader, mutant.guarded,
                  rebuild=rebuild)
