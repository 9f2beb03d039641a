"""ServingReader: the serving side of the safety model (G5).

It caches manifests for ``manifest_ttl`` seconds and artifacts for ``artifact_ttl``
(an artifact is immutable, so its TTL only bounds memory), checks the hash of every
artifact it loads, follows manifest URIs only inside the store root and the
manifest's own tenant/surface, and when current becomes unreadable or corrupt keeps
serving the last good manifest while reporting the error in ``errors``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .dialects import blob_version_matches
from .documents import Manifest, load_document
from .errors import IntegrityError, ObjectNotFound, PubsafeError
from .layout import Locator, current_keys
from .names import validate_name
from .store import Store

_V = TypeVar("_V")

__all__ = ["ServingReader", "ReadError"]


@dataclass(frozen=True)
class ReadError:
    """A problem the reader hit and worked around (or could not)."""

    at: float
    tenant: str
    surface: str
    message: str


@dataclass
class _Cached(Generic[_V]):
    value: _V
    loaded_at: float


@dataclass
class ServingReader:
    store: Store
    manifest_ttl: float = 30.0
    artifact_ttl: float = 300.0
    clock: Callable[[], float] = time.monotonic
    errors: list[ReadError] = field(default_factory=list)
    _manifests: dict[tuple[str, str], _Cached[Manifest | None]] = field(default_factory=dict, repr=False)
    _last_good: dict[tuple[str, str], Manifest] = field(default_factory=dict, repr=False)
    _artifacts: dict[str, _Cached[Any]] = field(default_factory=dict, repr=False)

    def manifest(self, tenant: str, surface: str) -> Manifest | None:
        """Current manifest, at most ``manifest_ttl`` seconds stale; None if none yet."""
        slot = (validate_name("tenant", tenant, reading=True), validate_name("surface", surface, reading=True))
        now = self.clock()
        cached = self._manifests.get(slot)
        if cached is not None and now - cached.loaded_at < self.manifest_ttl:
            return cached.value
        key = current_keys(tenant, surface)[-1]  # recsys-pipelines trims the names of this path
        try:
            manifest: Manifest | None = load_document(Manifest, self.store.get(key), key)
            if manifest is not None and (manifest.tenant, manifest.surface) != slot:
                raise IntegrityError(f"{key} names {manifest.tenant}/{manifest.surface}")
        except ObjectNotFound:
            manifest = None
        except PubsafeError as exc:
            # Keep serving what last worked; a corrupt pointer must not take serving down.
            self.errors.append(ReadError(now, tenant, surface, str(exc)))
            manifest = self._last_good.get(slot)
        else:
            if manifest is not None:
                self._last_good[slot] = manifest
        self._manifests[slot] = _Cached(manifest, now)
        return manifest

    def artifact(self, tenant: str, surface: str, type_: str) -> Any:
        """The parsed payload of ``type_`` in the current manifest.

        Raises KeyError if the manifest has no such type, InvalidKey for a URI outside
        the root or tenant/surface, IntegrityError if the bytes do not hash to the
        version, ObjectNotFound if the blob is gone.
        """
        manifest = self.manifest(tenant, surface)
        if manifest is None or type_ not in manifest.current:
            raise KeyError(f"{tenant}/{surface} has no current artifact of type {type_!r}")
        ref = Locator.of(self.store).resolve(manifest.current[type_], tenant=tenant, surface=surface)
        now = self.clock()
        cached = self._artifacts.get(ref.key)
        if cached is not None and now - cached.loaded_at < self.artifact_ttl:
            return cached.value
        data = self.store.get(ref.key)
        if not blob_version_matches(data, ref.version):
            raise IntegrityError(f"{ref.key} does not hash to its version; refusing to serve it")
        try:
            value = json.loads(data)
        except RecursionError:
            raise IntegrityError(f"{ref.key} is nested too deeply to parse; refusing to serve it") from None
        self._artifacts[ref.key] = _Cached(value, now)
        return value

    def invalidate(self, tenant: str, surface: str) -> None:
        """Forget the cached manifest so the next read sees current."""
        self._manifests.pop((tenant, surface), None)
