"""Is an artifact a manifest names usable? One answer for publish, rollback and audit.

Usable means: its URI resolves to a blob key under the store root and the manifest's
own tenant/surface, the blob exists, its bytes hash to the version in its key under
the rule of the writer that wrote it (``dialects``), and it is recorded (by a
registry record of either dialect, not a GC claim).
"""

from __future__ import annotations

from typing import NamedTuple

from .dialects import blob_version_matches
from .documents import Manifest, is_tombstone
from .errors import InvalidKey, ObjectNotFound
from .layout import BlobRef, Locator, record_keys
from .phases import phase
from .store import Store

__all__ = ["Problem", "ArtifactValidator"]


class Problem(NamedTuple):
    guarantee: str
    message: str


class ArtifactValidator:
    """Validates the artifacts of manifests over one store, hashing each blob once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.locator = Locator.of(store)
        self._hashed: dict[str, bool] = {}

    def shape_problem(self, manifest: Manifest, type_: str, uri: str) -> Problem | None:
        """Why ``uri`` cannot be a ``type_`` blob of the manifest's own slot in this store (no I/O)."""
        try:
            ref = self.locator.resolve(uri, tenant=manifest.tenant, surface=manifest.surface)
        except InvalidKey as exc:
            return Problem("G2", str(exc))
        if ref.type != type_:
            return Problem("G2", f"type {type_!r} points at a blob of type {ref.type!r} ({uri})")
        return None

    def problem(self, manifest: Manifest, type_: str, uri: str) -> Problem | None:
        """Why artifact ``type_`` of ``manifest`` is unusable, or None if it is fine."""
        if (shape := self.shape_problem(manifest, type_, uri)) is not None:
            return shape
        ref = self.locator.resolve(uri, tenant=manifest.tenant, surface=manifest.surface)
        ok = self.blob_ok(ref)
        if ok is None:
            return Problem("G2", f"artifact {ref.key} does not exist")
        if not ok:
            return Problem("G1", f"artifact {ref.key} does not hash to its version")
        raw = self.record(ref)
        if raw is None:
            return Problem("G2", f"artifact {ref.key} has no registry record")
        if is_tombstone(raw):
            return Problem("G2", f"artifact {ref.key} is claimed by a GC sweep")
        return None

    def record(self, ref: BlobRef) -> bytes | None:
        """The registry record of a blob (at pubsafe's key or recsys-pipelines'), if any."""
        with phase("record-read"):
            for key in record_keys(ref):
                try:
                    return self.store.get(key)
                except ObjectNotFound:
                    continue
        return None

    def first_problem(self, manifest: Manifest) -> Problem | None:
        for type_, uri in sorted(manifest.current.items()):
            problem = self.problem(manifest, type_, uri)
            if problem is not None:
                return problem
        return None

    def blob_ok(self, ref: BlobRef) -> bool | None:
        """True if the blob hashes to its version, False if not, None if absent."""
        if ref.key not in self._hashed:
            with phase("validate-read"):
                try:
                    self._hashed[ref.key] = blob_version_matches(self.store.get(ref.key), ref.version)
                except ObjectNotFound:
                    return None
        return self._hashed[ref.key]
