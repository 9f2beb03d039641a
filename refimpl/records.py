"""The documents pubsafe reads and writes, as pydantic v2 models.

``Manifest`` is upstream's ManifestV1 exactly (extra fields refused), so what we write
validates under ``manifest.v1.schema.json`` and what upstream wrote loads here.
The rest are ours: the registry record, the manifest history entry, the GC
tombstone, and the receipts and findings the engine returns.
"""

from __future__ import annotations

import json
from functools import cached_property
from datetime import datetime, timezone
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .canonical import canonicalize, compact_json, sorted_compact_json, version_of_bytes
from .errors import IntegrityError

__all__ = [
    "Manifest",
    "RegistryRecord",
    "GCTombstone",
    "HistoryEntry",
    "PublishReceipt",
    "RollbackReceipt",
    "Finding",
    "GCReport",
    "OrphanInfo",
    "utc_timestamp",
    "load_document",
    "dump_document",
    "dump_history_entry",
    "dump_record",
    "MANIFESTS",
]


def utc_timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


#: A time held in UTC, which pydantic writes as upstream does: "2025-01-02T03:04:05Z".
Timestamp = Annotated[
    datetime, AfterValidator(lambda value: value if value.tzinfo is timezone.utc else value.astimezone(timezone.utc))
]


def _sorted_mapping(value: dict[str, str]) -> dict[str, str]:
    return value if len(value) < 2 else dict(sorted(value.items()))


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Manifest(_Document):
    """Upstream ManifestV1: which artifact version of each type is current."""

    v: Literal[1] = 1
    tenant: str
    surface: str
    #: type -> blob key, kept sorted so equal mappings are written as equal bytes
    current: Annotated[dict[str, str], AfterValidator(_sorted_mapping)]
    updated_at: Timestamp

    @cached_property
    def version(self) -> str:
        """Hash of the canonical ``{v, tenant, surface, current}``; not ``updated_at``."""
        body = {"v": self.v, "tenant": self.tenant, "surface": self.surface, "current": self.current}
        # Strings and the integer 1 only: for ASCII text Python's compact sorted JSON
        # *is* RFC 8785 (same escapes, code-point key order), so skip its number probes.
        text = sorted_compact_json(body)
        if text.isascii():
            return version_of_bytes(text.encode())
        return canonicalize(body)[1]

    @cached_property
    def document(self) -> bytes:
        """The bytes this manifest is written as; history and current share them."""
        return dump_document(self)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Manifest:
        """A copy; with ``update``, its version and document are computed afresh."""
        copy = super().model_copy(update=update, deep=deep)
        if update:
            copy.__dict__.pop("version", None)
            copy.__dict__.pop("document", None)
        return copy


class RegistryRecord(_Document):
    """Append-only audit record: this artifact version was written and validated."""

    v: Literal[1] = 1
    tenant: str
    surface: str
    type: str
    version: str
    uri: str
    size: int
    recorded_at: Timestamp


class GCTombstone(_Document):
    """Held at a record key while a GC sweep deletes that unrecorded blob.

    Create-only on the record key makes the sweep and a publish mutually exclusive:
    whichever creates the key first wins, the other backs off.
    """

    gc_tombstone: Literal[True] = True
    sweep_id: str
    claimed_at: Timestamp


class HistoryEntry(_Document):
    """An immutable copy of a manifest that was swapped in, and the one it replaced."""

    manifest: Manifest
    previous: str | None = None


class PublishReceipt(BaseModel):
    tenant: str
    surface: str
    artifacts: dict[str, str] = Field(description="type -> artifact version")
    manifest_version: str
    previous_manifest_version: str | None
    swapped: bool = Field(description="False when current already had this mapping")
    written: list[str] = Field(description="keys this run created or replaced")
    attempts: int = 1


class RollbackReceipt(BaseModel):
    tenant: str
    surface: str
    from_version: str
    to_version: str
    swapped: bool


class Finding(BaseModel):
    guarantee: str
    key: str
    message: str


class OrphanInfo(BaseModel):
    key: str
    size: int
    age_seconds: float


class GCReport(BaseModel):
    deleted: list[str] = []
    kept_young: list[str] = []
    lost_race: list[str] = Field(default=[], description="recorded by a publish mid-sweep; kept")
    finished_tombstones: list[str] = []


def load_document(model: type[_Document], data: bytes, key: str):  # type: ignore[no-untyped-def]
    """Parse ``data`` as ``model``, raising IntegrityError that names the key."""
    try:
        return model.model_validate_json(data)
    except (ValidationError, ValueError) as exc:
        first = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise IntegrityError(f"{key} is not a valid {model.__name__}: {first}") from exc


def dump_document(doc: _Document) -> bytes:
    """Compact JSON bytes, fields in declaration order (pydantic's Rust serializer)."""
    return doc.model_dump_json().encode()


_in_field_order = compact_json(sort_keys=False)


def dump_record(
    tenant: str, surface: str, type_: str, version: str, uri: str, size: int, recorded_at: datetime
) -> bytes:
    """``dump_document(RegistryRecord(...))`` without building the model.

    One record per artifact on every publish: building and validating the model cost
    as much as all of the publish's other documents together. A test pins the bytes
    to pydantic's.
    """
    when = recorded_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return _in_field_order({
        "v": 1, "tenant": tenant, "surface": surface, "type": type_, "version": version, "uri": uri,
        "size": size, "recorded_at": when,
    }).encode()


def dump_history_entry(manifest_bytes: bytes, previous: str | None) -> bytes:
    """``dump_document(HistoryEntry(...))`` from the manifest's already-dumped bytes.

    A publish writes the manifest twice (in history, then as current); this way it is
    serialised once.
    """
    return b'{"manifest":' + manifest_bytes + b',"previous":' + json.dumps(previous).encode() + b"}"


class ManifestMemo:
    """Parsed manifests by their exact bytes, bounded.

    Parsing a manifest and hashing it for its version cost more than the rest of
    reading current, and the bytes a publish reads are usually the bytes the last
    swap wrote (which it remembers here). A pure memo: same bytes, same manifest, so
    a crash or another process can never make it stale. Callers get a shared frozen
    instance and must not mutate its ``current`` dict.
    """

    def __init__(self, size: int = 256) -> None:
        self._by_bytes: dict[bytes, Manifest] = {}
        self._size = size

    def load(self, data: bytes, key: str) -> Manifest:
        manifest = self._by_bytes.get(data)
        if manifest is None:
            manifest = load_document(Manifest, data, key)
            self.remember(data, manifest)
        return manifest

    def remember(self, data: bytes, manifest: Manifest) -> None:
        if len(self._by_bytes) >= self._size:
            self._by_bytes.clear()  # one atomic step, safe without a lock
        self._by_bytes[data] = manifest


MANIFESTS = ManifestMemo()
