"""Where things live on a store (upstream recsys-pipelines compatible).

- artifact blob:     ``<tenant>/<surface>/<type>/<version>.json``        immutable
- registry record:   ``records/<tenant>/<surface>/<type>/<version>.json`` append-only
- current manifest:  ``current/<tenant>/<surface>/manifest.json``       replaced whole
- manifest history:  ``history/<tenant>/<surface>/<version>.json``      immutable (ours)
- GC lease:          ``gc/lease.json``                                   one sweep at a time (ours)

Manifests name blobs by their store-relative key, so a store copied to another root
or bucket keeps working; ``Locator`` also accepts absolute URIs under the root, and
the raw ``file://`` paths recsys-pipelines writes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import NamedTuple

from .errors import InvalidKey
from .store import Store

__all__ = [
    "blob_key",
    "record_key",
    "current_key",
    "history_key",
    "BlobRef",
    "parse_blob_key",
    "resolve_uri",
    "Locator",
    "record_keys",
    "current_keys",
    "Listing",
    "classify",
    "RECORDS",
    "CURRENT",
    "HISTORY",
    "GC",
    "GC_LEASE",
    "BOUND",
    "SWEEPING",
]

RECORDS = "records/"
CURRENT = "current/"
HISTORY = "history/"
GC = "gc/"
GC_LEASE = "gc/lease.json"
#: gc's two folders: a blob store's bindings (``<registry id>.json``, see split.py) and
#: the announcements of sweeps in progress. Everything else in gc/ is a file.
BOUND = f"{GC}bound/"
SWEEPING = f"{GC}sweeping/"
_VERSION = re.compile(r"[0-9a-f]{64}")
_SLASHES = re.compile(r"/{2,}")


def blob_key(tenant: str, surface: str, type_: str, version: str) -> str:
    return f"{tenant}/{surface}/{type_}/{version}.json"


def record_key(tenant: str, surface: str, type_: str, version: str) -> str:
    return f"{RECORDS}{blob_key(tenant, surface, type_, version)}"


def current_key(tenant: str, surface: str) -> str:
    return f"{CURRENT}{tenant}/{surface}/manifest.json"


def history_key(tenant: str, surface: str, manifest_version: str) -> str:
    return f"{HISTORY}{tenant}/{surface}/{manifest_version}.json"


class BlobRef(NamedTuple):
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


class Locator:
    """Where a manifest's artifact URI points, as a key of one store.

    A URI is a store-relative key (what pubsafe writes), a URI under the store's root
    URI, or (as recsys-pipelines writes) ``file://`` followed by the raw absolute path
    under the blob root: compared as a path, never percent-decoded (a directory named
    ``a%41`` stays ``a%41``). ``rewrites`` map the roots a store's writers knew to
    where the store is now (a store copied elsewhere keeps naming its old place).
    """

    def __init__(self, root_uri: str, root_path: str | None = None,
                 rewrites: tuple[tuple[str, str], ...] = ()) -> None:
        self.root_uri = root_uri.rstrip("/") + "/"
        self.root_path = None if root_path is None else root_path.rstrip("/") + "/"
        self.rewrites = tuple((old.rstrip("/") + "/", new.rstrip("/") + "/") for old, new in rewrites)

    @classmethod
    def of(cls, store: Store) -> Locator:
        root = getattr(store, "blob_root", None) or getattr(store, "root", None)
        return cls(store.root_uri, root if isinstance(root, str) else None,
                   getattr(store, "uri_rewrites", ()))

    def key(self, uri: str) -> str:
        """The store key ``uri`` names; InvalidKey if it is not in this store."""
        if "://" not in uri and not uri.startswith("/"):
            return uri
        for old, new in self.rewrites:
            if uri.startswith(old):
                uri = new + uri[len(old):]
                break
        if uri.startswith(("file://", "/")):
            # A file path: repeated slashes name the same file (POSIX), as upstream's
            # service, which opens the path, would find it; nothing else is folded.
            uri = "file://" + _SLASHES.sub("/", uri[len("file://"):]) if uri.startswith("file://") else \
                _SLASHES.sub("/", uri)
        if uri.startswith(self.root_uri):
            return uri[len(self.root_uri):]
        path = uri[len("file://"):] if uri.startswith("file://") else uri if uri.startswith("/") else None
        if path is not None and self.root_path is not None and path.startswith(self.root_path):
            return path[len(self.root_path):]
        hint = " (a copied store? map the root its writers knew with --root-map OLD=NEW)" if "://" in uri else ""
        raise InvalidKey(f"artifact URI {uri!r} is outside the store root {self.root_uri.rstrip('/')!r}{hint}")

    def resolve(self, uri: str, *, tenant: str, surface: str) -> BlobRef:
        """The blob ``uri`` names, refused unless it lies under ``tenant/surface``.

        Serving must never follow a manifest out of the store root or into another
        tenant's or surface's data, whoever wrote the manifest.
        """
        key = self.key(uri)
        ref = parse_blob_key(key)
        if ref is None:
            raise InvalidKey(
                f"artifact URI {uri!r} is not a blob key of the form <tenant>/<surface>/<type>/<sha256>.json"
            )
        own = blob_key(tenant, surface, ref.type, ref.version)
        if key not in (own, own.strip()):  # recsys-pipelines trims the ends of the whole key
            raise InvalidKey(
                f"artifact URI {uri!r} points outside {tenant}/{surface}; a manifest may only name its own "
                "tenant and surface's blobs"
            )
        return ref


def resolve_uri(uri: str, *, tenant: str, surface: str, root_uri: str) -> BlobRef:
    """``Locator(root_uri).resolve(...)`` for a store known only by its root URI."""
    return Locator(root_uri).resolve(uri, tenant=tenant, surface=surface)


def record_keys(ref: BlobRef) -> tuple[str, ...]:
    """Where the registry record of a blob may be: pubsafe's key, and recsys-pipelines'
    key built from trimmed names (they differ only for untrimmed names)."""
    own = RECORDS + ref.key
    trimmed = record_key(ref.tenant.strip(), ref.surface.strip(), ref.type.strip(), ref.version)
    return (own,) if trimmed == own else (own, trimmed)


def current_keys(tenant: str, surface: str) -> tuple[str, ...]:
    """Where the current manifest of a slot may be (recsys-pipelines trims the names)."""
    own, trimmed = current_key(tenant, surface), current_key(tenant.strip(), surface.strip())
    return (own,) if own == trimmed else (own, trimmed)


class Listing:
    """A store's keys sorted into the layout's parts (one listing, parsed once)."""

    def __init__(self) -> None:
        self.blobs: list[BlobRef] = []
        self.records: set[str] = set()
        self.currents: list[str] = []
        self.histories: list[str] = []
        self.gc: list[str] = []  #: the sweep lease
        self.other: list[str] = []  #: keys that fit no part of the layout


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
