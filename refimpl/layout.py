"""Where things live on a store (upstream recsys-pipelines compatible).

- artifact blob:     ``<tenant>/<surface>/<type>/<version>.json``        immutable
- registry record:   ``records/<tenant>/<surface>/<type>/<version>.json`` append-only
- current manifest:  ``current/<tenant>/<surface>/manifest.json``       replaced whole
- manifest history:  ``history/<tenant>/<surface>/<version>.json``      immutable (ours)
- GC lease:          ``gc/lease.json``                                   one sweep at a time (ours)

Manifests name blobs by their store-relative key, so a store copied to another root
or bucket keeps working; ``resolve_uri`` also accepts absolute URIs under the root.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import InvalidKey

__all__ = [
    "blob_key",
    "record_key",
    "current_key",
    "history_key",
    "BlobRef",
    "parse_blob_key",
    "resolve_uri",
    "Listing",
    "classify",
    "RECORDS",
    "CURRENT",
    "HISTORY",
    "GC",
    "GC_LEASE",
]

RECORDS = "records/"
CURRENT = "current/"
HISTORY = "history/"
GC = "gc/"
GC_LEASE = "gc/lease.json"
_VERSION = re.compile(r"[0-9a-f]{64}")


def blob_key(tenant: str, surface: str, type_: str, version: str) -> str:
    return f"{tenant}/{surface}/{type_}/{version}.json"


def record_key(tenant: str, surface: str, type_: str, version: str) -> str:
    return f"{RECORDS}{blob_key(tenant, surface, type_, version)}"


def current_key(tenant: str, surface: str) -> str:
    return f"{CURRENT}{tenant}/{surface}/manifest.json"


def history_key(tenant: str, surface: str, manifest_version: str) -> str:
    return f"{HISTORY}{tenant}/{surface}/{manifest_version}.json"


@dataclass(frozen=True)
class BlobRef:
    """A blob key taken apart."""

    tenant: str
    surface: str
    type: str
    version: str

    @property
    def key(self) -> str:
        return blob_key(self.tenant, self.surface, self.type, self.version)


@functools.lru_cache(maxsize=65536)  # pure, and checkers parse the same keys every step
def parse_blob_key(key: str) -> BlobRef | None:
    """The parts of a blob key, or None if ``key`` is not shaped like one."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] + "/" in (RECORDS, CURRENT, HISTORY, GC):
        return None
    stem, dot, ext = parts[3].rpartition(".")
    if not dot or ext != "json" or not _VERSION.fullmatch(stem):
        return None
    if any(p in ("", ".", "..") for p in parts):
        return None
    return BlobRef(parts[0], parts[1], parts[2], stem)


def resolve_uri(uri: str, *, tenant: str, surface: str, root_uri: str | None = None) -> BlobRef:
    """Turn a manifest's artifact URI into a blob under ``tenant/surface``, or refuse.

    Serving must never follow a manifest out of the store root or into another
    tenant's data, whoever wrote the manifest.
    """
    key = uri
    if "://" in uri or uri.startswith("/"):
        prefix = (root_uri or "").rstrip("/") + "/"
        if root_uri is None or not uri.startswith(prefix):
            raise InvalidKey(f"artifact URI {uri!r} is outside the store root {root_uri!r}")
        key = uri[len(prefix):]
    ref = parse_blob_key(key)
    if ref is None:
        raise InvalidKey(
            f"artifact URI {uri!r} is not a blob key of the form "
            "<tenant>/<surface>/<type>/<sha256>.json"
        )
    if (ref.tenant, ref.surface) != (tenant, surface):
        raise InvalidKey(
            f"artifact URI {uri!r} points outside {tenant}/{surface}; a manifest may "
            "only name its own tenant and surface's blobs"
        )
    return ref


@dataclass
class Listing:
    """A store's keys sorted into the layout's parts (one listing, parsed once)."""

    blobs: list[BlobRef] = field(default_factory=list)
    records: set[str] = field(default_factory=set)
    currents: list[str] = field(default_factory=list)
    histories: list[str] = field(default_factory=list)
    gc: list[str] = field(default_factory=list)  #: the sweep lease
    other: list[str] = field(default_factory=list)  #: keys that fit no part of the layout


def classify(keys: Iterable[str]) -> Listing:
    listing = Listing()
    for key in keys:
        if key.startswith(RECORDS):
            listing.records.add(key)
        elif key.startswith(CURRENT):
            listing.currents.append(key)
        elif key.startswith(HISTORY):
            listing.histories.append(key)
        elif key.startswith(GC):
            listing.gc.append(key)
        elif (ref := parse_blob_key(key)) is not None:
            listing.blobs.append(ref)
        else:
            listing.other.append(key)
    return listing
