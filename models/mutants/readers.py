"""Broken serving readers: caches that never expire, URIs trusted, slots confused,
blobs verified once."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any

from pubsafe.refimpl import ServingReader
from pubsafe.refimpl.errors import (
    IntegrityError,
    InvalidKey,
)
from pubsafe.refimpl.layout import Locator
from pubsafe.refimpl.reader import _Cached

# -- readers ---------------------------------------------------------------------


class NeverExpiringReader(ServingReader):
    """Caches the manifest forever (TTL ignored)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.manifest_ttl = float("inf")


class TrustingReader(ServingReader):
    """Follows any URI a manifest names and never checks a hash."""

    def artifact(self, tenant: str, surface: str, type_: str) -> Any:
        manifest = self.manifest(tenant, surface)
        if manifest is None or type_ not in manifest.current:
            raise KeyError(type_)
        return json.loads(self.store.get(manifest.current[type_]))


# -- readers whose bugs need particular names or scenarios ----------------------------


class SurfaceBlindReader(ServingReader):
    """Confines URIs to the manifest's tenant, but not to its surface."""

    def artifact(self, tenant: str, surface: str, type_: str) -> Any:
        manifest = self.manifest(tenant, surface)
        if manifest is None or type_ not in manifest.current:
            raise KeyError(type_)
        key = manifest.current[type_].removeprefix(self.store.root_uri.rstrip("/") + "/")
        if not key.startswith(f"{tenant}/"):
            raise InvalidKey(f"{key} is outside {tenant}")
        data = self.store.get(key)
        if hashlib.sha256(data).hexdigest() != key.rsplit("/", 1)[-1][:-5]:
            raise IntegrityError(key)
        return json.loads(data)


class CachesAbsenceReader(ServingReader):
    """Remembers "no manifest yet" for good: invalidate() forgets only manifests it found."""

    def manifest(self, tenant: str, surface: str):
        if (tenant, surface) in getattr(self, "_absent", set()):
            return None
        found = super().manifest(tenant, surface)
        if found is None:
            self._absent = getattr(self, "_absent", set()) | {(tenant, surface)}
        return found


class CaseFoldingReader(ServingReader):
    """Looks manifests up by the lower-cased tenant (a case-insensitive cache key)."""

    def manifest(self, tenant: str, surface: str):
        return super().manifest(tenant.lower(), surface)


class NormalisingInvalidateReader(ServingReader):
    """invalidate() cleans up the names it is given first (NFC, case-folded), as an
    admin endpoint might: it forgets the slot of the cleaned-up name, not the one named."""

    def invalidate(self, tenant: str, surface: str) -> None:
        def clean(name: str) -> str:
            return unicodedata.normalize("NFC", name).casefold()

        super().invalidate(clean(tenant), clean(surface))


class VerifiesOnceReader(ServingReader):
    """Checks a blob's hash the first time it loads it; when its cache entry expires it
    reads the blob again and trusts it ("blobs are immutable, it was checked")."""

    def artifact(self, tenant: str, surface: str, type_: str) -> Any:
        manifest = self.manifest(tenant, surface)
        if manifest is None or type_ not in manifest.current:
            raise KeyError(type_)
        ref = Locator.of(self.store).resolve(manifest.current[type_], tenant=tenant, surface=surface)
        now = self.clock()
        cached = self._artifacts.get(ref.key)
        if cached is not None and now - cached.loaded_at < self.artifact_ttl:
            return cached.value
        data = self.store.get(ref.key)
        verified = self.__dict__.setdefault("_verified", set())
        if ref.key not in verified:
            if hashlib.sha256(data).hexdigest() != ref.version:
                raise IntegrityError(f"{ref.key} does not hash to its version")
            verified.add(ref.key)
        value = json.loads(data)
        self._artifacts[ref.key] = _Cached(value, now)
        return value
