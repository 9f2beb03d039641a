"""The documents pubsafe reads and writes, as pydantic v2 models.

``Manifest`` is upstream's ManifestV1 exactly (extra fields refused), so what we write
validates under ``manifest.v1.schema.json`` and what upstream wrote loads here.
The rest are ours: the registry record, the manifest history entry, the GC
tombstone, and the receipts and findings the engine returns. Schemas only: the
engine's hand-written serialisers live in ``_serialise`` and its memo of parsed
manifests in ``_memo``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from ._canonical_fast import canonical_strings_document
from .canonical import version_of_bytes
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
    "GCLease",
    "OrphanInfo",
    "utc_timestamp",
    "load_document",
    "dump_document",
    "is_tombstone",
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
        return version_of_bytes(canonical_strings_document(body))

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


def is_tombstone(raw: bytes) -> bool:
    """Is this document at a record key a GC tombstone rather than a registry record?"""
    if b"gc_tombstone" not in raw:
        return False  # a registry record: no need to parse it
    try:
        doc = json.loads(raw)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("gc_tombstone") is True


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
    from_version: str | None = Field(description="None when current was missing or did not parse")
    to_version: str
    swapped: bool


class Finding(BaseModel):
    guarantee: str
    key: str
    message: str
    severity: Literal["error", "notice"] = Field(
        default="error", description="error: a guarantee is broken or a command blocked; notice: an expected leftover")


class OrphanInfo(BaseModel):
    key: str
    size: int
    age_seconds: float


class GCReport(BaseModel):
    deleted: list[str] = []
    kept_young: list[str] = []
    lost_race: list[str] = Field(default=[], description="recorded by a publish mid-sweep; kept")
    finished_tombstones: list[str] = Field(default=[], description="tombstones of crashed sweeps, finished")
    removed_debris: list[str] = Field(default=[], description="temp files of interrupted writes, removed")
    left_alone: dict[str, str] = Field(default={}, description="key -> why the sweep did not touch it")


class GCLease(_Document):
    """Held at ``gc/lease.json`` by the one sweep allowed to run; expires unless renewed."""

    gc_lease: Literal[True] = True
    owner: str
    acquired_at: Timestamp
    expires_at: Timestamp


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
