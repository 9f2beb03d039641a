"""The checker's own view of the protocol, independent of the engine it judges.

Everything the checker needs to know about bytes on a store, computed from the
specification with plain ``json``, ``hashlib`` and the ``rfc8785`` library: payload
versions, manifest versions, the key layout, and what a manifest must look like.
Never the engine's fast paths, caches or pydantic models: a bug there must not be
able to hide itself from the checker.

``Oracle`` remembers what the system under test acknowledged (blobs, manifests,
records as first seen), so the checkers can compare what the store holds with it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import pickle
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import unquote

import rfc8785

from .reading import read_store

__all__ = [
    "Oracle",
    "BlobKey",
    "sha256_hex",
    "canonical",
    "payload_version",
    "manifest_version",
    "parse_manifest",
    "parse_blob_key",
    "blob_key",
    "record_key",
    "current_key",
    "history_key",
    "key_of_uri",
    "read_store",
    "is_tombstone",
]

RECORDS, CURRENT, HISTORY = "records/", "current/", "history/"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical(payload: Any) -> bytes:
    """RFC 8785 bytes by the reference library; exact big integers as the doubles they are.

    Remembered by the payload's pickle (the checker's own memo: a step canonicalises
    each payload it publishes three or four times, and ``rfc8785`` is pure Python). A
    pickle names every value's exact type and bits (``1``, ``1.0`` and ``True``, ``0.0``
    and ``-0.0``, ``str`` and a subclass all differ), so equal pickles are equal
    payloads; what does not pickle is not remembered.
    """
    try:
        fingerprint = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - unpicklable: not JSON either, and rfc8785 says why
        return _canonical(payload)
    data = _CANONICAL.get(fingerprint)
    if data is None:
        data = _canonical(payload)
        if len(_CANONICAL) > 4096:
            _CANONICAL.clear()
        _CANONICAL[fingerprint] = data
    return data


_CANONICAL: dict[bytes, bytes] = {}


def _canonical(payload: Any) -> bytes:
    try:
        return rfc8785.dumps(payload)
    except rfc8785.IntegerDomainError:
        return rfc8785.dumps(_big_ints_as_floats(payload))


def _big_ints_as_floats(value: Any) -> Any:
    """Integers beyond 2**53 as the doubles they name: exactly, or as that double's
    shortest spelling (which is what a canonical form read back gives)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53 - 1:
        as_float = float(value) if abs(value) < 2**1024 else math.inf
        if math.isfinite(as_float) and (int(as_float) == value or rfc8785.dumps(as_float) == str(value).encode()):
            return as_float
        raise ValueError(f"integer {value} has no exact JSON form")
    if isinstance(value, dict):
        return {k: _big_ints_as_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_big_ints_as_floats(v) for v in value]
    return value


def payload_version(payload: Any) -> str:
    return sha256_hex(canonical(payload))


def manifest_version(tenant: str, surface: str, mapping: dict[str, str]) -> str:
    """The hash of a manifest's canonical ``{v, tenant, surface, current}``."""
    return sha256_hex(canonical({"v": 1, "tenant": tenant, "surface": surface, "current": mapping}))


class ParsedManifest(NamedTuple):
    tenant: str
    surface: str
    current: dict[str, str]
    version: str


_PARSED: dict[bytes, ParsedManifest] = {}


def parse_manifest(data: bytes) -> ParsedManifest:
    """A ManifestV1 document, or ValueError saying what is wrong with it.

    Remembered by its exact bytes (the checker's own memo: every step re-reads every
    current manifest); the engine's parser and its memo are never consulted.
    """
    parsed = _PARSED.get(data)
    if parsed is None:
        parsed = _parse_manifest(data)
        if len(_PARSED) > 4096:
            _PARSED.clear()
        _PARSED[data] = parsed
    return ParsedManifest(parsed.tenant, parsed.surface, dict(parsed.current), parsed.version)


def _parse_manifest(data: bytes) -> ParsedManifest:
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    if set(doc) != {"v", "tenant", "surface", "current", "updated_at"}:
        raise ValueError(f"fields {sorted(doc)} are not exactly v, tenant, surface, current, updated_at")
    if doc["v"] != 1 or isinstance(doc["v"], bool):
        raise ValueError(f"v is {doc['v']!r}, not 1")
    tenant, surface, mapping = doc["tenant"], doc["surface"], doc["current"]
    if not isinstance(tenant, str) or not isinstance(surface, str) or not isinstance(doc["updated_at"], str):
        raise ValueError("tenant, surface and updated_at must be strings")
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ValueError("current must map types to URI strings")
    return ParsedManifest(tenant, surface, mapping, manifest_version(tenant, surface, mapping))


def is_tombstone(data: bytes) -> bool:
    """Is this document at a record key a GC sweep's tombstone (not a registry record)?"""
    try:
        doc = json.loads(data)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("gc_tombstone") is True


# -- the key layout, from the specification --------------------------------------


class BlobKey(NamedTuple):
    tenant: str
    surface: str
    type: str
    version: str


def blob_key(tenant: str, surface: str, type_: str, version: str) -> str:
    return f"{tenant}/{surface}/{type_}/{version}.json"


def record_key(tenant: str, surface: str, type_: str, version: str) -> str:
    return RECORDS + blob_key(tenant, surface, type_, version)


def current_key(tenant: str, surface: str) -> str:
    return f"{CURRENT}{tenant}/{surface}/manifest.json"


def history_key(tenant: str, surface: str, version: str) -> str:
    return f"{HISTORY}{tenant}/{surface}/{version}.json"


@functools.lru_cache(maxsize=65536)  # the checker's own memo: every step looks at every key
def parse_blob_key(key: str) -> BlobKey | None:
    parts = key.split("/")
    if len(parts) != 4 or parts[0] in ("records", "current", "history", "gc") or not parts[3].endswith(".json"):
        return None
    version = parts[3][: -len(".json")]
    if not _HEX64.fullmatch(version) or any(p in ("", ".", "..") for p in parts[:3]):
        return None
    return BlobKey(parts[0], parts[1], parts[2], version)


def key_of_uri(uri: str, root_uri: str) -> str:
    """The store key a manifest URI names (unchanged when it names none of this store's).

    Three spellings name a key: the key itself (what pubsafe writes); the root URI,
    percent-encoded as ``file://`` URIs are, followed by the key; and, for a local
    root, ``file://`` followed by the raw absolute path (what recsys-pipelines writes,
    never encoded, so never decoded: a directory ``a%41`` stays ``a%41``). The two
    file spellings of a root differ at its first character that needs encoding, so
    at most one of them places a URI under the root: no URI is read two ways.
    """
    root = root_uri.rstrip("/") + "/"
    if uri.startswith(root):
        return uri[len(root):]
    if root.startswith("file://") and uri.startswith("file://"):
        raw_root = unquote(root[len("file://"):], errors="surrogateescape")
        if uri[len("file://"):].startswith(raw_root):
            return uri[len("file://") + len(raw_root):]
    return uri


@dataclass
class Oracle:
    """What the system under test acknowledged, and what the checker has seen.

    ``dialect`` says which writer's rules a store follows (``pubsafe``, or
    ``recsys-pipelines``: blobs versioned by ``models.upstream``, records with Go field
    names at trimmed paths, raw ``file://`` URIs under ``root_path``).
    """

    dialect: str = "pubsafe"
    root_path: str | None = None  #: the local directory blobs live in, for raw file:// URIs
    acked_blobs: dict[str, bytes] = field(default_factory=dict)
    first_seen_records: dict[str, bytes] = field(default_factory=dict)
    first_seen_blobs: dict[str, bytes] = field(default_factory=dict)
    #: (tenant, surface) -> acknowledged manifest versions, in order
    manifests: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    #: manifest version -> its mapping as store keys
    mappings: dict[str, dict[str, str]] = field(default_factory=dict)
    #: grows with every acknowledgement (a check of the same contents against the same
    #: acknowledgements finds the same)
    changes: int = 0
    _hashes: dict[bytes, str] = field(default_factory=dict, repr=False)

    def hash(self, data: bytes) -> str:
        """sha256 of ``data``, remembered (the checker's own memo: every step rehashes every blob)."""
        version = self._hashes.get(data)
        if version is None:
            if len(self._hashes) > 4096:
                self._hashes.clear()
            version = self._hashes[data] = sha256_hex(data)
        return version

    def valid(self, data: bytes, version: str) -> bool:
        """Do the stored bytes hash to ``version`` under this store's writer's rule?"""
        if self.hash(data) == version:
            return True
        if self.dialect == "recsys-pipelines":
            from .upstream import go_blob_version

            return go_blob_version(data) == version
        return False

    def key_of(self, uri: str, root_uri: str) -> str:
        """The store key a manifest URI names (a raw file:// path too, never decoded)."""
        key = key_of_uri(uri, root_uri)
        if key.startswith("file://") and self.root_path is not None:
            path, root = key[len("file://"):], self.root_path.rstrip("/") + "/"
            if path.startswith(root):
                return path[len(root):]
        return key

    def record(self, blob: str, contents: Mapping[str, bytes]) -> bytes | None:
        """The registry record of a blob key: at ``records/<key>``, or (recsys-pipelines)
        at the path built from trimmed names."""
        ref = parse_blob_key(blob)
        keys = [RECORDS + blob]
        if ref is not None:
            keys.append(record_key(ref.tenant.strip(), ref.surface.strip(), ref.type.strip(), ref.version))
        return next((contents[k] for k in keys if k in contents), None)

    def ack_payload(self, tenant: str, surface: str, type_: str, payload: Any) -> str:
        data = canonical(payload)
        key = blob_key(tenant, surface, type_, self.hash(data))
        self.acked_blobs[key] = data
        self.changes += 1
        return key

    def ack_manifest(self, tenant: str, surface: str, version: str, mapping: dict[str, str]) -> None:
        versions = self.manifests[(tenant, surface)]
        if version not in versions:
            versions.append(version)
        self.mappings[version] = dict(mapping)
        self.changes += 1
