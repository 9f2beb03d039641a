"""The reference publish engine: four phases, manifest last; rollback; reads.

A publish of ``{type: payload}`` to (tenant, surface):

1. **blob-write**   each payload's canonical bytes, create-only, under its version key;
2. **validate-read** read each blob back and recompute its version;
3. **record-write** append a registry record (already there: a no-op);
   then **confirm-read**: the blob is still there (see "GC safety" below);
4. **history-write** an immutable copy of the merged manifest, then **swap** it in
   as current: a whole-document replace, last.

Rollback re-points current at a manifest from history and writes nothing else.

Audit lives in ``audit``, orphans and GC in ``gc``; ``Engine`` delegates to them.
GC safety (R5) is argued in ``gc``: the publish's part is the create-only
record-write (it excludes a sweep's tombstone) and the confirm-read after it.

Crashes: the engine keeps no state between calls, so recovery is simply a new
Engine over the same store, and a retry converges (every step is idempotent).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from ._memo import MANIFESTS
from ._serialise import dump_history_entry, dump_record
from .audit import audit_store
from .canonical import canonicalize, version_of_bytes
from .documents import (
    Finding,
    GCReport,
    HistoryEntry,
    Manifest,
    OrphanInfo,
    PublishReceipt,
    RegistryRecord,
    RollbackReceipt,
    is_tombstone,
    load_document,
    utc_timestamp,
)
from .errors import (
    AlreadyExists,
    CollectionInProgress,
    Conflict,
    IntegrityError,
    InvalidInput,
    ObjectNotFound,
    PublishConflict,
    RollbackRefused,
)
from .gc import list_orphans, sweep
from .layout import HISTORY, RECORDS, blob_key, current_key, history_key
from .names import validate_name
from .phases import phase
from .store import ABSENT, ANY, Expect, Store
from .validate import ArtifactValidator

__all__ = ["Engine", "Current"]


class Current(NamedTuple):
    """The current manifest as read, with the etag a guarded swap compares against."""

    manifest: Manifest | None
    etag: str | None

    @property
    def version(self) -> str | None:
        return None if self.manifest is None else self.manifest.version

    @property
    def expect(self) -> str | Expect:
        return ABSENT if self.etag is None else self.etag


class _Artifact(NamedTuple):  # a tuple: built on every publish, cheaper than a dataclass
    type: str
    data: bytes
    version: str
    key: str


class Engine:
    """Publish, roll back, inspect and sweep one store.

    guarded:      swap (and roll back) with compare-and-swap against the manifest read
                  at the start, re-merging on conflict up to ``max_attempts``; turns the
                  documented races R1–R3 into detected conflicts. Needs a store that
                  declares compare_and_swap.
    clock:        seconds since the epoch; used for ``updated_at``, record times and GC age.
    """

    def __init__(
        self,
        store: Store,
        *,
        guarded: bool = False,
        max_attempts: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if guarded and not store.capabilities.compare_and_swap:
            raise InvalidInput(
                f"guarded mode needs compare-and-swap, and {store!r} does not declare it; "
                "use a local, memory or S3 store, or publish unguarded"
            )
        if max_attempts < 1:
            raise InvalidInput("max_attempts must be at least 1")
        self.store = store
        self.guarded = guarded
        self.max_attempts = max_attempts
        self.clock = clock

    # -- publish -------------------------------------------------------------

    def publish(self, tenant: str, surface: str, artifacts: Mapping[str, Any]) -> PublishReceipt:
        """Publish ``{type: payload}`` and make it current; see the module docstring."""
        validate_name("tenant", tenant)
        validate_name("surface", surface)
        if not isinstance(artifacts, Mapping) or not artifacts:
            raise InvalidInput("nothing to publish: give at least one {type: payload}")
        prepared = []
        for type_ in sorted(artifacts):
            validate_name("type", type_)
            data, version = self._encode(artifacts[type_])
            prepared.append(_Artifact(type_, data, version, blob_key(tenant, surface, type_, version)))

        written: list[str] = []
        with phase("read-current"):
            current = self._read_current(tenant, surface)
        for art in prepared:
            self._write_blob(art, written)
        for art in prepared:
            self._write_record(tenant, surface, art, written)
        for art in prepared:
            self._confirm_blob(art, written)

        overlay = {art.type: art.key for art in prepared}
        attempts = 0
        while True:
            attempts += 1
            base = dict(current.manifest.current) if current.manifest else {}
            manifest = Manifest(
                tenant=tenant,
                surface=surface,
                current=base | overlay,
                updated_at=utc_timestamp(self.clock()),
            )
            previous = current.version
            if previous == manifest.version:
                swapped = False  # already current: a retry after a completed swap
            else:
                self._write_history(manifest, previous, written)
                try:
                    with phase("swap"):
                        self._swap(manifest, current)
                    written.append(current_key(tenant, surface))
                    swapped = True
                except Conflict:
                    with phase("read-current"):
                        current = self._read_current(tenant, surface)
                    if current.version != manifest.version:  # another publish swapped first
                        if attempts >= self.max_attempts:
                            raise PublishConflict(
                                f"{tenant}/{surface}: current kept changing under this publish "
                                f"({attempts} attempts); last competing manifest {current.version}. "
                                "Nothing of ours is current; the artifacts are written and "
                                "recorded, so re-running the publish is safe",
                                competing_version=current.version,
                            ) from None
                        continue
                    swapped = False  # ours landed; only its acknowledgement was lost
            return PublishReceipt(
                tenant=tenant,
                surface=surface,
                artifacts={art.type: art.version for art in prepared},
                manifest_version=manifest.version,
                previous_manifest_version=previous,
                swapped=swapped,
                written=written,
                attempts=attempts,
            )

    def _encode(self, payload: Any) -> tuple[bytes, str]:
        """Blob bytes and version of a payload: RFC 8785 form and its sha256."""
        return canonicalize(payload)

    def _write_blob(self, art: _Artifact, written: list[str]) -> None:
        with phase("blob-write"):
            try:
                self.store.put(art.key, art.data)
                written.append(art.key)
            except AlreadyExists:
                pass  # same key, same content: an earlier run or another publisher
        with phase("validate-read"):
            ok = self._blob_matches(art)
        if not ok:
            self._repair_blob(art, written)

    def _blob_matches(self, art: _Artifact) -> bool:
        try:
            data = self.store.get(art.key)
        except ObjectNotFound:
            return False
        return version_of_bytes(data) == art.version

    def _repair_blob(self, art: _Artifact, written: list[str]) -> None:
        """Rewrite a missing or torn blob; refuse to touch an acknowledged one."""
        with phase("record-read"):
            recorded = self.store.exists(record_key_of(art))
        if recorded and self.store.exists(art.key):
            raise IntegrityError(
                f"{art.key} is recorded but its bytes do not hash to {art.version}: an "
                "acknowledged artifact was altered. Run `pubsafe audit` and restore it "
                "from a backup; pubsafe will not overwrite recorded data"
            )
        # Unrecorded means never acknowledged: a torn write from a crashed run.
        with phase("blob-repair"):
            self.store.replace(art.key, art.data)
        written.append(art.key)
        with phase("validate-read"):
            if not self._blob_matches(art):
                raise IntegrityError(f"{art.key} does not read back as written; the store is unreliable")

    def _write_record(self, tenant: str, surface: str, art: _Artifact, written: list[str]) -> None:
        key = record_key_of(art)
        record = dump_record(tenant, surface, art.type, art.version, art.key, len(art.data), utc_timestamp(self.clock()))
        for _ in range(3):
            with phase("record-write"):
                try:
                    self.store.put(key, record)
                    written.append(key)
                    return
                except AlreadyExists:
                    pass
            with phase("record-read"):
                try:
                    existing = self.store.get(key)
                except ObjectNotFound:
                    continue  # a sweep's tombstone, released in between: try again
            if is_tombstone(existing):
                break
            try:
                load_document(RegistryRecord, existing, key)
            except IntegrityError:
                # A torn record from a crashed run on a store without atomic writes.
                with phase("record-repair"):
                    self.store.replace(key, record)
                written.append(key)
            return  # recorded before: append-only, so nothing to do
        raise CollectionInProgress(
            f"{art.key} is being garbage-collected (tombstone at {key}); nothing was "
            "swapped. Retry once the sweep has finished; if no sweep is running, the "
            "next `pubsafe gc` clears the stale tombstone"
        )

    def _confirm_blob(self, art: _Artifact, written: list[str]) -> None:
        # Existence is enough: the bytes were validated, and a key's content can only
        # ever be these bytes. A HEAD, not a GET, on object stores.
        with phase("confirm-read"):
            ok = self.store.exists(art.key)
        if not ok:
            # A sweep deleted it before our record landed; the record now protects it.
            with phase("blob-write"):
                try:
                    self.store.put(art.key, art.data)
                    written.append(art.key)
                except AlreadyExists:
                    pass
            with phase("validate-read"):
                if not self._blob_matches(art):
                    self._repair_blob(art, written)

    def _write_history(self, manifest: Manifest, previous: str | None, written: list[str]) -> None:
        key = history_key(manifest.tenant, manifest.surface, manifest.version)
        with phase("history-write"):
            try:
                self.store.put(key, dump_history_entry(manifest.document, previous))
                written.append(key)
            except AlreadyExists:
                pass  # version-addressed: the same mapping was swapped in before

    def _swap(self, manifest: Manifest, current: Current) -> None:
        expect = current.expect if self.guarded else ANY
        self.store.replace(current_key(manifest.tenant, manifest.surface), manifest.document, expect=expect)
        MANIFESTS.remember(manifest.document, manifest)

    # -- reading -------------------------------------------------------------

    def read_current(self, tenant: str, surface: str) -> Current:
        """The current manifest (None if never published) and its etag."""
        return self._read_current(validate_name("tenant", tenant), validate_name("surface", surface))

    def _read_current(self, tenant: str, surface: str) -> Current:
        key = current_key(tenant, surface)
        try:
            obj = self.store.get_object(key)
        except ObjectNotFound:
            return Current(None, None)
        return Current(MANIFESTS.load(obj.data, key), obj.etag)

    def current(self, tenant: str, surface: str) -> Manifest | None:
        return self.read_current(tenant, surface).manifest

    def history_entry(self, tenant: str, surface: str, version: str) -> HistoryEntry:
        key = history_key(tenant, surface, version)
        with phase("history-read"):
            return load_document(HistoryEntry, self.store.get(key), key)

    def history(self, tenant: str, surface: str) -> list[HistoryEntry]:
        """Every manifest ever swapped in, oldest first."""
        validate_name("tenant", tenant)
        validate_name("surface", surface)
        prefix = f"{HISTORY}{tenant}/{surface}/"
        entries = [load_document(HistoryEntry, self.store.get(k), k) for k in self.store.list(prefix)]
        return sorted(entries, key=lambda e: (e.manifest.updated_at, e.manifest.version))

    # -- rollback ------------------------------------------------------------

    def rollback(
        self, tenant: str, surface: str, *, to: str | None = None, steps: int | None = None
    ) -> RollbackReceipt:
        """Point current at an earlier manifest from history; writes nothing else.

        ``to`` names a manifest version; ``steps=N`` walks N links back along the
        manifests each history entry replaced. A target that is not in history, or
        whose artifacts do not validate, is refused and nothing is written.
        """
        validate_name("tenant", tenant)
        validate_name("surface", surface)
        if (to is None) == (steps is None):
            raise InvalidInput("rollback needs exactly one of to=<manifest version> or steps=N")
        if steps is not None and (not isinstance(steps, int) or steps < 1):
            raise InvalidInput(f"steps must be a positive integer, got {steps!r}")
        with phase("read-current"):
            current = self.read_current(tenant, surface)
        if current.manifest is None:
            raise RollbackRefused(f"{tenant}/{surface} has no current manifest to roll back from")
        target = self._rollback_target(tenant, surface, current, to, steps)
        self._validate_manifest_for_rollback(target)
        receipt = RollbackReceipt(
            tenant=tenant, surface=surface, from_version=current.version, to_version=target.version, swapped=False
        )
        if target.version == current.version:
            return receipt
        restored = target.model_copy(update={"updated_at": utc_timestamp(self.clock())})
        try:
            with phase("swap"):
                self._swap(restored, current)
        except Conflict:
            with phase("read-current"):
                now = self.read_current(tenant, surface)
            if now.version == target.version:
                return receipt.model_copy(update={"swapped": True})
            raise RollbackRefused(
                f"{tenant}/{surface}: current changed to {now.version} while rolling back "
                "(guarded mode refuses to overwrite it); inspect `pubsafe current` and retry"
            ) from None
        return receipt.model_copy(update={"swapped": True})

    def _rollback_target(
        self, tenant: str, surface: str, current: Current, to: str | None, steps: int | None
    ) -> Manifest:
        if to is not None:
            if not isinstance(to, str) or len(to) != 64 or any(c not in "0123456789abcdef" for c in to):
                raise InvalidInput(f"rollback target {to!r} is not a manifest version (64 hex digits)")
            try:
                return self.history_entry(tenant, surface, to).manifest
            except ObjectNotFound:
                raise RollbackRefused(
                    f"manifest {to} is not in the history of {tenant}/{surface}; "
                    "`pubsafe history` lists the versions you can roll back to"
                ) from None
        version: str | None = current.version
        assert steps is not None and version is not None
        for taken in range(steps):
            try:
                entry = self.history_entry(tenant, surface, version)
            except ObjectNotFound:
                raise RollbackRefused(
                    f"manifest {version} has no history entry, so it cannot be walked back from "
                    f"(after {taken} of {steps} steps); roll back with to=<version> instead"
                ) from None
            if entry.previous is None:
                raise RollbackRefused(
                    f"{tenant}/{surface} has only {taken} earlier manifest(s) along this chain; "
                    f"cannot go back {steps}"
                )
            version = entry.previous
        try:
            return self.history_entry(tenant, surface, version).manifest
        except ObjectNotFound:
            raise RollbackRefused(f"manifest {version} is named as previous but missing from history") from None

    def _validate_manifest_for_rollback(self, manifest: Manifest) -> None:
        problem = ArtifactValidator(self.store).first_problem(manifest)
        if problem is not None:
            raise RollbackRefused(f"refusing to roll back to {manifest.version}: {problem.message}; current is unchanged")

    # -- inspection and garbage collection (in their own modules) -------------

    def orphans(self) -> list[OrphanInfo]:
        """Blobs that no record and no current or historic manifest references (R4)."""
        return list_orphans(self.store, self.clock())

    def audit(self) -> list[Finding]:
        """Check G1–G4 on what the store holds now; one finding per problem."""
        return audit_store(self.store)

    def gc(self, grace_seconds: float) -> GCReport:
        """Delete orphans older than ``grace_seconds``; see ``refimpl.gc``."""
        return sweep(self.store, grace_seconds, clock=self.clock)

def record_key_of(art: _Artifact) -> str:
    return RECORDS + art.key
