"""The documents pubsafe reads and writes: frozen dataclasses with strict JSON forms.

``Manifest`` is upstream's ManifestV1 exactly (extra fields refused), so what we write
validates under ``manifest.v1.schema.json`` and what upstream wrote loads here.
The rest are ours: the registry record, the manifest history entry, the GC
tombstone and lease, and the receipts and findings the engine returns.

Why not pydantic (which the reports use): building these models cost a ``pubsafe
publish`` process about 110 ms of its start, five times a bare interpreter's, and
every publish validated one. Loading here is as strict as pydantic was or stricter
(no string-to-int or number-to-time coercion); tests/refimpl/test_documents.py pins
the bytes written and what is refused against a pydantic rendition of the same schema.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, ClassVar, Literal

from ._canonical_fast import canonical_strings_document
from ._serialise import dump_manifest, in_field_order, utc_text
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
    "to_json",
    "is_tombstone",
]


def utc_timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


# -- field checks: each returns the value to keep, or raises _Invalid ---------------


class _Invalid(ValueError):
    """A document field that is missing, extra or of the wrong shape."""


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _text(name: str, value: Any) -> str:
    if type(value) is not str:
        raise _Invalid(f"{name}: expected a string, got {_kind(value)}")
    return value


def _optional_text(name: str, value: Any) -> str | None:
    return None if value is None else _text(name, value)


def _count(name: str, value: Any) -> int:
    if type(value) is not int:
        raise _Invalid(f"{name}: expected an integer, got {_kind(value)}")
    return value


def _text_mapping(name: str, value: Any) -> dict[str, str]:
    """A str -> str mapping, kept sorted so equal mappings are written as equal bytes."""
    if not isinstance(value, Mapping):
        raise _Invalid(f"{name}: expected an object, got {_kind(value)}")
    for key, item in value.items():
        if type(key) is not str or type(item) is not str:
            raise _Invalid(f"{name}: expected string keys and values, got {key!r}: {_kind(item)}")
    return dict(value) if len(value) < 2 else dict(sorted(value.items()))


def _timestamp(name: str, value: Any) -> datetime:
    """A time held in UTC, written as upstream writes it: "2025-01-02T03:04:05Z"."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid(f"{name}: {value!r} is not an ISO 8601 time") from None
    if not isinstance(value, datetime):
        raise _Invalid(f"{name}: expected an ISO 8601 time, got {_kind(value)}")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value if value.tzinfo is timezone.utc else value.astimezone(timezone.utc)


def _exactly(expected: Any) -> Callable[[str, Any], Any]:
    def check(name: str, value: Any) -> Any:
        if value is not expected and not (type(value) is type(expected) and value == expected):
            raise _Invalid(f"{name}: expected {json.dumps(expected)}, got {value!r}")
        return value
    return check


def _nested(model: type[_Document]) -> Callable[[str, Any], Any]:
    def check(name: str, value: Any) -> Any:
        if isinstance(value, model):
            return value
        try:
            return model.from_json(value)
        except _Invalid as exc:
            raise _Invalid(f"{name}: {exc}") from None
    return check


# -- the stored documents ------------------------------------------------------------


class _Document:
    """A stored document: fields checked on construction, unknown fields refused."""

    _CHECKS: ClassVar[dict[str, Callable[[str, Any], Any]]]

    def __post_init__(self) -> None:
        for name, check in self._CHECKS.items():
            value = self.__dict__[name]
            kept = check(name, value)
            if kept is not value:
                object.__setattr__(self, name, kept)

    @classmethod
    def from_json(cls, obj: Any) -> Any:
        """Build from a parsed JSON object, refusing extra and missing fields."""
        if not isinstance(obj, dict):
            raise _Invalid(f"expected a JSON object, got {_kind(obj)}")
        extra = obj.keys() - cls._CHECKS.keys()
        if extra:
            raise _Invalid(f"unexpected field {sorted(extra)[0]!r}")
        try:
            return cls(**obj)
        except TypeError:  # a required field is absent
            missing = [f.name for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                       if f.name not in obj and f.default is dataclasses.MISSING]
            raise _Invalid(f"missing field {missing[0]!r}" if missing else "malformed") from None


def _checked(**checks: Callable[[str, Any], Any]) -> Callable[[type], type]:
    def attach(cls: type) -> type:
        cls._CHECKS = checks  # type: ignore[attr-defined]
        return cls
    return attach


@_checked(v=_exactly(1), tenant=_text, surface=_text, current=_text_mapping, updated_at=_timestamp)
@dataclass(frozen=True, kw_only=True)
class Manifest(_Document):
    """Upstream ManifestV1: which artifact version of each type is current."""

    v: Literal[1] = 1
    tenant: str
    surface: str
    #: type -> blob key, kept sorted so equal mappings are written as equal bytes
    current: dict[str, str]
    updated_at: datetime

    @cached_property
    def version(self) -> str:
        """Hash of the canonical ``{v, tenant, surface, current}``; not ``updated_at``."""
        body = {"v": self.v, "tenant": self.tenant, "surface": self.surface, "current": self.current}
        return version_of_bytes(canonical_strings_document(body))

    @cached_property
    def document(self) -> bytes:
        """The bytes this manifest is written as; history and current share them."""
        return dump_manifest(self.tenant, self.surface, self.current, self.updated_at)


@_checked(v=_exactly(1), tenant=_text, surface=_text, type=_text, version=_text, uri=_text, size=_count,
          recorded_at=_timestamp)
@dataclass(frozen=True, kw_only=True)
class RegistryRecord(_Document):
    """Append-only audit record: this artifact version was written and validated."""

    v: Literal[1] = 1
    tenant: str
    surface: str
    type: str
    version: str
    uri: str
    size: int
    recorded_at: datetime


@_checked(gc_tombstone=_exactly(True), sweep_id=_text, claimed_at=_timestamp)
@dataclass(frozen=True, kw_only=True)
class GCTombstone(_Document):
    """Held at a record key while a GC sweep deletes that unrecorded blob.

    Create-only on the record key makes the sweep and a publish mutually exclusive:
    whichever creates the key first wins, the other backs off.
    """

    gc_tombstone: Literal[True] = True
    sweep_id: str
    claimed_at: datetime


def is_tombstone(raw: bytes) -> bool:
    """Is this document at a record key a GC tombstone rather than a registry record?"""
    if b"gc_tombstone" not in raw:
        return False  # a registry record: no need to parse it
    try:
        doc = json.loads(raw)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("gc_tombstone") is True


@_checked(manifest=_nested(Manifest), previous=_optional_text)
@dataclass(frozen=True, kw_only=True)
class HistoryEntry(_Document):
    """An immutable copy of a manifest that was swapped in, and the one it replaced."""

    manifest: Manifest
    previous: str | None = None


@_checked(gc_lease=_exactly(True), owner=_text, acquired_at=_timestamp, expires_at=_timestamp)
@dataclass(frozen=True, kw_only=True)
class GCLease(_Document):
    """Held at ``gc/lease.json`` by the one sweep allowed to run; expires unless renewed."""

    gc_lease: Literal[True] = True
    owner: str
    acquired_at: datetime
    expires_at: datetime


# -- what the engine returns (never stored, so not checked) --------------------------


@dataclass(kw_only=True)
class PublishReceipt:
    tenant: str
    surface: str
    #: type -> artifact version
    artifacts: dict[str, str]
    manifest_version: str
    previous_manifest_version: str | None
    #: False when current already had this mapping
    swapped: bool
    #: keys this run created or replaced
    written: list[str]
    attempts: int = 1


@dataclass(kw_only=True)
class RollbackReceipt:
    tenant: str
    surface: str
    #: None when current was missing or did not parse
    from_version: str | None
    to_version: str
    swapped: bool


@dataclass(kw_only=True)
class Finding:
    guarantee: str
    key: str
    message: str
    #: error: a guarantee is broken or a command blocked; notice: an expected leftover
    severity: Literal["error", "notice"] = "error"


@dataclass(kw_only=True)
class OrphanInfo:
    key: str
    size: int
    age_seconds: float


@dataclass(kw_only=True)
class GCReport:
    deleted: list[str] = field(default_factory=list)
    kept_young: list[str] = field(default_factory=list)
    #: recorded by a publish mid-sweep; kept
    lost_race: list[str] = field(default_factory=list)
    #: tombstones of crashed sweeps, finished
    finished_tombstones: list[str] = field(default_factory=list)
    #: temp files of interrupted writes, removed
    removed_debris: list[str] = field(default_factory=list)
    #: key -> why the sweep did not touch it
    left_alone: dict[str, str] = field(default_factory=dict)


# -- JSON forms ------------------------------------------------------------------------

def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_text(value)
    if dataclasses.is_dataclass(value):
        return to_json(value)
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    return value


def to_json(doc: Any) -> dict[str, Any]:
    """A document or receipt as a JSON-ready dict, fields in declaration order."""
    return {f.name: _json_value(getattr(doc, f.name)) for f in dataclasses.fields(doc)}


def load_document(model: type[_Document], data: bytes, key: str):  # type: ignore[no-untyped-def]
    """Parse ``data`` as ``model``, raising IntegrityError that names the key."""
    try:
        return model.from_json(json.loads(data))
    except _Invalid as exc:
        raise IntegrityError(f"{key} is not a valid {model.__name__}: {exc}") from None
    except (ValueError, RecursionError) as exc:  # not JSON, or not UTF-8
        raise IntegrityError(f"{key} is not a valid {model.__name__}: not JSON ({exc})") from None


def dump_document(doc: _Document) -> bytes:
    """Compact UTF-8 JSON, fields in declaration order, times as "...Z"."""
    return in_field_order(to_json(doc)).encode()
