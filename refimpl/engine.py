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
from .dialects import Dialect, detect, parse_any_record
from .documents import (
    Finding,
    GCReport,
    HistoryEntry,
    Manifest,
    OrphanInfo,
    PublishReceipt,
    RollbackReceipt,
    is_tombstone,
    utc_timestamp,
)
from .errors import (
    AlreadyExists,
    CollectionInProgress,
    CollectionRefused,
    Conflict,
    IntegrityError,
    InvalidInput,
    ObjectNotFound,
    PublishConflict,
    RollbackRefused,
)
from .gc import LEASE_SECONDS, list_orphans, plan, sweep
from .history import HistoryListing, list_history, read_entry, walk_back
from .layout import RECORDS, blob_key, current_key, history_key
from .names import validate_name
from .phases import phase
from .split import SplitStore
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
    dialect:      who writes this store (``dialects``), for audit and GC; detected from
                  its records when not given.
    sweep_ids:    where GC sweeps get their ids (default: random, as each must be unique);
                  a model checker gives a counter, so that equal runs leave equal bytes.
    """

    def __init__(
        self,
        store: Store,
        *,
        guarded: bool = False,
        max_attempts: int = 5,
        clock: Callable[[], float] = time.time,
        dialect: Dialect | None = None,
        sweep_ids: Callable[[], str] | None = None,
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
        self._dialect = dialect
        self.sweep_ids = sweep_ids

    @property
    def dialect(self) -> Dialect:
        """The writer of this store's records: as given, or detected from them."""
        if self._dialect is None:
            self._dialect = detect(self.store)
        return self._dialect

    # -- publish -------------------------------------------------------------

    def publish(self, tenant: str, surface: str, artifacts: Mapping[str, Any]) -> PublishReceipt:
        """Publish ``{type: payload}`` and make it current; see the module docstring."""
        validate_name("tenant", tenant)
        validate_name("surface", surface)
        if not isinstance(artifacts, Mapping) or not artifacts:
            raise InvalidInput("nothing to publish: give at least one {type: payload}")
        for type_ in artifacts:
            validate_name("type", type_)
        prepared = []
        for type_ in sorted(artifacts):
            data, version = self._encode(artifacts[type_])
            prepared.append(_Artifact(type_, data, version, blob_key(tenant, surface, type_, version)))
        overlay = {art.type: art.key for art in prepared}

        written: list[str] = []
        with phase("read-current"):
            current = self._read_current_to_publish(tenant, surface)
        base = self._carried(tenant, surface, current, overlay)  # refused here, nothing is written yet
        if isinstance(self.store, SplitStore):
            self.store.bind()  # so gc can tell which registries publish into the blob store
        for art in prepared:
            self._write_blob(art, written)
        for art in prepared:
            self._write_record(tenant, surface, art, written)
        for art in prepared:
            self._confirm_blob(art, written)

        attempts = 0
        while True:
            attempts += 1
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
                        current = self._read_current_to_publish(tenant, surface)
                    if current.version != manifest.version:  # another publish swapped first
                        if attempts >= self.max_attempts:
                            raise PublishConflict(
                                f"{tenant}/{surface}: current kept changing under this publish "
                                f"({attempts} attempts); last competing manifest {current.version}. "
                                "Nothing of ours is current; the artifacts are written and "
                                "recorded, so re-running the publish is safe",
                                competing_version=current.version,
                            ) from None
                        base = self._carried(tenant, surface, current, overlay)
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

    def _read_current_to_publish(self, tenant: str, surface: str) -> Current:
        try:
            return self._read_current(tenant, surface)
        except IntegrityError as exc:
            raise IntegrityError(
                f"{exc}; a publish merges into current, so it refuses and writes nothing. Restore a good manifest "
                "with `pubsafe rollback --to VERSION` (`pubsafe history` lists them)"
            ) from None

    def _carried(self, tenant: str, surface: str, current: Current, overlay: dict[str, str]) -> dict[str, str]:
        """The entries of current this publish keeps, after checking they are usable.

        Current must be this slot's own manifest, and each entry carried forward must
        name a blob of its own type, tenant and surface that exists, hashes to its
        version and is recorded: a publish never carries a foreign, altered, deleted or
        unrecorded entry into a manifest of ours (each carried blob is read once).
        """
        manifest = current.manifest
        if manifest is None:
            return {}
        if (manifest.tenant.strip(), manifest.surface.strip()) != (tenant.strip(), surface.strip()):
            raise IntegrityError(
                f"{current_key(tenant, surface)} holds the manifest of {manifest.tenant!r}/{manifest.surface!r}, not "
                f"of {tenant!r}/{surface!r}; a publish merges into current, so it refuses and writes nothing. Run "
                f"`pubsafe audit`, and restore this slot's manifest with `pubsafe rollback --to VERSION` (`pubsafe "
                f"history` lists them)"
            )
        carried = {t: uri for t, uri in manifest.current.items() if t not in overlay}
        if not carried:  # every type is republished: nothing of current's to check
            return dict(manifest.current)
        validator = ArtifactValidator(self.store)
        for type_, uri in sorted(carried.items()):
            if problem := validator.problem(manifest, type_, uri):
                raise IntegrityError(self._carried_refusal(manifest, type_, problem.message))
        return dict(manifest.current)

    @staticmethod
    def _carried_refusal(manifest: Manifest, type_: str, problem: str) -> str:
        return (f"current manifest of {manifest.tenant}/{manifest.surface} names an unusable {type_!r} artifact "
                f"({problem}); this publish would carry it forward, so it refuses and writes nothing. `pubsafe audit` "
                f"says what else is wrong; publish {type_!r} too, or roll back to a manifest without it")

    def _encode(self, payload: Any) -> tuple[bytes, str]:
        """Blob bytes and version of a payload: RFC 8785 form and its sha256."""
        return canonicalize(payload)

    def _write_blob(self, art: _Artifact, written: list[str]) -> None:
        for _ in range(3):
            with phase("blob-write"):
                try:
                    self.store.put(art.key, art.data)
                    written.append(art.key)
                except AlreadyExists:
                    pass  # same key, same content: an earlier run or another publisher
            with phase("validate-read"):
                state = self._blob_state(art)
            if state == "ok":
                return
            if state == "altered":
                self._repair_blob(art, written)
                return
            # Gone between our put and our read: a sweep collected it as an orphan
            # (nothing records it yet). Write it again.
        raise self._collected(art)

    def _blob_state(self, art: _Artifact) -> str:
        """ok, missing, or altered (bytes that do not hash to the version: torn, or foreign)."""
        try:
            data = self.store.get(art.key)
        except ObjectNotFound:
            return "missing"
        return "ok" if version_of_bytes(data) == art.version else "altered"

    def _blob_matches(self, art: _Artifact) -> bool:
        return self._blob_state(art) == "ok"

    @staticmethod
    def _collected(art: _Artifact) -> IntegrityError:
        return IntegrityError(
            f"{art.key} does not read back as written (it reads as missing): the store does not give "
            "read-after-write consistency, or a gc sweep with a grace period shorter than a publish keeps "
            "collecting it. Nothing was swapped; retry, and give gc a longer grace period"
        )

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
            state = self._blob_state(art)
        if state == "missing":
            raise self._collected(art)
        if state == "altered":
            raise IntegrityError(f"{art.key} does not read back as written; the store is unreliable")

    def _write_record(self, tenant: str, surface: str, art: _Artifact, written: list[str]) -> None:
        key = record_key_of(art)
        record = dump_record(tenant, surface, art.type, art.version, art.key, len(art.data),
                             utc_timestamp(self.clock()))
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
            if parse_any_record(existing) is None:
                # A torn record from a crashed run on a store without atomic writes.
                with phase("record-repair"):
                    self.store.replace(key, record)
                written.append(key)
            return  # recorded before (by us or by another writer): append-only, so nothing to do
        raise CollectionInProgress(
            f"{art.key} is being garbage-collected (tombstone at {key}); nothing was "
            "swapped. Retry once the sweep has finished; if no sweep is running, the "
            "next `pubsafe gc` clears the stale tombstone (of the registry whose blob "
            "store this is, if it is one: its sweep claims there too)"
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
        """The history entry of ``version``, verified (see ``refimpl.history``)."""
        return read_entry(self.store, tenant, surface, version)

    def history(self, tenant: str, surface: str) -> list[HistoryEntry]:
        """Every readable manifest ever swapped in, oldest first (``history_listing`` says more)."""
        return [item.entry for item in self.history_listing(tenant, surface).items]

    def history_listing(self, tenant: str, surface: str) -> HistoryListing:
        """History entries with the evidence that each was current, and the files that are not entries."""
        validate_name("tenant", tenant)
        validate_name("surface", surface)
        try:
            current = self.read_current(tenant, surface).version
        except IntegrityError:
            current = None  # listing history is how one recovers from a broken current
        return list_history(self.store, tenant, surface, current)

    # -- rollback ------------------------------------------------------------

    def rollback(
        self, tenant: str, surface: str, *, to: str | None = None, steps: int | None = None
    ) -> RollbackReceipt:
        """Point current at an earlier manifest from history; writes nothing else.

        ``to`` names a manifest version; ``steps=N`` walks N links back along the
        manifests each history entry replaced. A target that is not in history, is
        not what its history file claims, or whose artifacts do not validate, is
        refused and nothing is written. ``to`` also restores a current manifest that
        is missing or does not parse (the way back from a damaged store).
        """
        validate_name("tenant", tenant)
        validate_name("surface", surface)
        if (to is None) == (steps is None):
            raise InvalidInput("rollback needs exactly one of to=<manifest version> or steps=N")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
            raise InvalidInput(f"steps must be a positive integer, got {steps!r}")
        if to is not None and (not isinstance(to, str) or len(to) != 64
                               or any(c not in "0123456789abcdef" for c in to)):
            raise InvalidInput(f"rollback target {to!r} is not a manifest version (64 hex digits)")
        with phase("read-current"):
            current, broken = self._read_current_leniently(tenant, surface)
        if steps is not None:
            if broken is not None:
                raise RollbackRefused(
                    f"{broken}; --steps walks back from the current manifest, so it cannot start. Restore one with "
                    "--to VERSION (`pubsafe history` lists them)"
                )
            if current.version is None:
                raise RollbackRefused(f"{tenant}/{surface} has no current manifest to roll back from")
            to = walk_back(self.store, tenant, surface, current.version, steps)
        assert to is not None
        target = self._rollback_target(tenant, surface, to)
        self._validate_manifest_for_rollback(target)
        receipt = RollbackReceipt(
            tenant=tenant, surface=surface, from_version=current.version, to_version=target.version, swapped=False
        )
        if target.version == current.version:
            return receipt
        restored = target.replace(updated_at=utc_timestamp(self.clock()))
        try:
            with phase("swap"):
                self._swap(restored, current)
        except Conflict:
            with phase("read-current"):
                now, _ = self._read_current_leniently(tenant, surface)
            if now.version == target.version:
                return receipt.replace(swapped=True)
            raise RollbackRefused(
                f"{tenant}/{surface}: current changed to {now.version} while rolling back "
                "(guarded mode refuses to overwrite it); inspect `pubsafe current` and retry"
            ) from None
        return receipt.replace(swapped=True)

    def _read_current_leniently(self, tenant: str, surface: str) -> tuple[Current, str | None]:
        """Current, or (for a manifest that does not parse) its etag and what is wrong with it."""
        key = current_key(tenant, surface)
        try:
            obj = self.store.get_object(key)
        except ObjectNotFound:
            return Current(None, None), None
        try:
            return Current(MANIFESTS.load(obj.data, key), obj.etag), None
        except IntegrityError as exc:
            return Current(None, obj.etag), str(exc)

    def _rollback_target(self, tenant: str, surface: str, to: str) -> Manifest:
        try:
            return self.history_entry(tenant, surface, to).manifest
        except ObjectNotFound:
            raise RollbackRefused(
                f"manifest {to} is not in the history of {tenant}/{surface}; "
                "`pubsafe history` lists the versions you can roll back to"
            ) from None
        except IntegrityError as exc:
            raise RollbackRefused(f"refusing to roll back to {to}: {exc}; current is unchanged") from None

    def _validate_manifest_for_rollback(self, manifest: Manifest) -> None:
        problem = ArtifactValidator(self.store).first_problem(manifest)
        if problem is not None:
            raise RollbackRefused(f"refusing to roll back to {manifest.version}: {problem.message}; "
                                  "current is unchanged")

    # -- inspection and garbage collection (in their own modules) -------------

    def orphans(self) -> list[OrphanInfo]:
        """Blobs that no record and no current or historic manifest references (R4)."""
        return list_orphans(self.store, self.clock())

    def audit(self) -> list[Finding]:
        """Check G1–G4 on what the store holds now; one finding per problem (see ``refimpl.audit``)."""
        return audit_store(self.store, self.clock(), self.dialect)

    def gc(self, grace_seconds: float, *, lease_seconds: float = LEASE_SECONDS, dry_run: bool = False) -> GCReport:
        """Delete orphans and temp debris older than ``grace_seconds``; see ``refimpl.gc``.

        ``dry_run``: write and delete nothing; the report's ``planned`` says what would
        be deleted and why.
        """
        if self._dialect is not None and not self._dialect.honours_claims:
            raise CollectionRefused(
                f"this store is written by {self._dialect.name}, whose publish does not honour gc's claims (R5): gc "
                "cannot prove a deletion safe there, so it deletes nothing"
            )
        if dry_run:
            return plan(self.store, grace_seconds, self.clock())
        return sweep(self.store, grace_seconds, clock=self.clock, lease_seconds=lease_seconds,
                     sweep_id=self.sweep_ids() if self.sweep_ids else None)


def record_key_of(art: _Artifact) -> str:
    return RECORDS + art.key
