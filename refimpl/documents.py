"""The documents pubsafe reads and writes: immutable records with strict JSON forms.

``Manifest`` is upstream's ManifestV1 exactly (extra fields refused), so what we write
validates under ``manifest.v1.schema.json`` and what upstream wrote loads here.
The rest are ours: the registry record, the manifest history entry, the GC
tombstone and lease, and the receipts and findings the engine returns.

Why not pydantic (which the reports use), nor dataclasses: building these models cost
a ``pubsafe publish`` process about 110 ms of its start, five times a bare
interpreter's (dataclasses, with the ``inspect`` they import, still ~20 ms), and
every publish builds some. Loading here is as strict as pydantic was or stricter
(no string-to-int or number-to-time coercion); tests/refimpl/test_documents.py pins
the bytes written and what is refused against a pydantic rendition of the same schema.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, ClassVar, Literal, Self, TypeVar

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
    return datetime.fromtimestamp(seconds, tz=UTC)


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


def _flag(name: str, value: Any) -> bool:
    if type(value) is not bool:
        raise _Invalid(f"{name}: expected true or false, got {_kind(value)}")
    return value


def _seconds(name: str, value: Any) -> float:
    if type(value) not in (int, float) or not 0 < value < float("inf"):
        raise _Invalid(f"{name}: expected a positive number of seconds, got {value!r}")
    seconds: float = value  # an int stays an int: the document is written back as read
    return seconds


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
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


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


# -- records ---------------------------------------------------------------------------


class _Record:
    """Fields declared as annotations, in order; a class attribute of a field's name is
    its default (a list or dict default is copied per instance). Built by keyword; equal
    when of one type with equal fields."""

    _FIELDS: ClassVar[tuple[str, ...]] = ()
    _NAMES: ClassVar[frozenset[str]] = frozenset()
    _DEFAULTS: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls) -> None:
        own = [name for name in cls.__dict__.get("__annotations__", {}) if not name.startswith("_")]
        cls._FIELDS = (*cls._FIELDS, *own)
        cls._NAMES = frozenset(cls._FIELDS)
        cls._DEFAULTS = {**cls._DEFAULTS, **{name: cls.__dict__[name] for name in own if name in cls.__dict__}}

    def __init__(self, **values: Any) -> None:
        # Instances hold their fields in __dict__ (a publish builds several: kept cheap).
        self.__dict__.update(values if values.keys() == self._NAMES else self._completed(values))

    @classmethod
    def _completed(cls, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` with the defaults of the fields not given; a missing or unknown field is a TypeError."""
        extra = values.keys() - cls._NAMES
        if extra:
            raise TypeError(f"{cls.__name__}() has no field {sorted(extra)[0]!r}")
        filled = {}
        for name in cls._FIELDS:
            if name in values:
                filled[name] = values[name]
            elif name in cls._DEFAULTS:
                default = cls._DEFAULTS[name]
                filled[name] = type(default)(default) if isinstance(default, (list, dict)) else default
            else:
                raise TypeError(f"{cls.__name__}() needs the field {name!r}")
        return filled

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (checked again, and with nothing cached carried over)."""
        return type(self)(**{**{name: getattr(self, name) for name in self._FIELDS}, **changes})

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(getattr(self, n) == getattr(other, n) for n in self._FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self._FIELDS)})"


# -- the stored documents ------------------------------------------------------------


class _Document(_Record):
    """A stored document: immutable, fields checked on construction, unknown fields refused."""

    _CHECKS: ClassVar[dict[str, Callable[[str, Any], Any]]]

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        fields = self.__dict__
        for name, check in self._CHECKS.items():
            fields[name] = check(name, fields[name])

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a {type(self).__name__} is immutable; make a changed copy with .replace()")

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        """Build from a parsed JSON object, refusing extra and missing fields."""
        if not isinstance(obj, dict):
            raise _Invalid(f"expected a JSON object, got {_kind(obj)}")
        extra = obj.keys() - cls._NAMES
        if extra:
            raise _Invalid(f"unexpected field {sorted(extra)[0]!r}")
        missing = [name for name in cls._FIELDS if name not in obj and name not in cls._DEFAULTS]
        if missing:
            raise _Invalid(f"missing field {missing[0]!r}")
        return cls(**obj)


def _checked(**checks: Callable[[str, Any], Any]) -> Callable[[type], type]:
    def attach(cls: type) -> type:
        cls._CHECKS = checks  # type: ignore[attr-defined]
        return cls
    return attach


@_checked(v=_exactly(1), tenant=_text, surface=_text, current=_text_mapping, updated_at=_timestamp)
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


@_checked(gc_tombstone=_exactly(True), sweep_id=_text, claimed_at=_timestamp, generation=_count)
class GCTombstone(_Document):
    """Held at a record key while a GC sweep deletes that unrecorded blob.

    Create-only on the record key makes the sweep and a publish mutually exclusive:
    whichever creates the key first wins, the other backs off.
    """

    gc_tombstone: Literal[True] = True
    sweep_id: str
    claimed_at: datetime
    #: the lease generation of the sweep that claimed it (0: written before generations)
    generation: int = 0


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
class HistoryEntry(_Document):
    """An immutable copy of a manifest that was swapped in, and the one it replaced."""

    manifest: Manifest
    previous: str | None = None


@_checked(gc_lease=_exactly(True), owner=_text, generation=_count, lease_seconds=_seconds, renewed_at=_timestamp,
          released=_flag)
class GCLease(_Document):
    """At ``gc/lease.json``: which sweep may delete (see ``refimpl.gc_lease``).

    ``generation`` grows by one with every sweep that takes the lease; a sweep's
    deletes are fenced by it. Whether the lease has lapsed is judged by the store's
    clock (the object's modification time), never by ``renewed_at``, which is the
    holder's own clock and only informs a person.
    """

    gc_lease: Literal[True] = True
    owner: str
    generation: int
    lease_seconds: float
    renewed_at: datetime
    #: released by its sweep at the end: the next sweep takes it at once
    released: bool = False


# -- what the engine returns (never stored, so not checked; mutable) ----------------


class PublishReceipt(_Record):
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


class RollbackReceipt(_Record):
    tenant: str
    surface: str
    #: None when current was missing or did not parse
    from_version: str | None
    to_version: str
    swapped: bool


class Finding(_Record):
    guarantee: str
    key: str
    message: str
    #: error: a guarantee is broken or a command blocked; notice: an expected leftover
    severity: Literal["error", "notice"] = "error"


class OrphanInfo(_Record):
    key: str
    size: int
    age_seconds: float


class GCReport(_Record):
    #: a dry run: nothing was written or deleted; ``planned`` says what would be
    dry_run: bool = False
    #: key -> why it would be deleted (the proof), in a dry run
    planned: dict[str, str] = {}
    deleted: list[str] = []
    kept_young: list[str] = []
    #: recorded by a publish mid-sweep; kept
    lost_race: list[str] = []
    #: tombstones of crashed sweeps, finished
    finished_tombstones: list[str] = []
    #: temp files of interrupted writes, removed
    removed_debris: list[str] = []
    #: key -> why the sweep did not touch it
    left_alone: dict[str, str] = {}
    #: keys of ``left_alone`` that wait for a person (a link, a special file) or for time (a lease left held)
    for_a_person: list[str] = []
    #: tenant/surface -> why nothing of that slot was deleted (a manifest or record it cannot read)
    blocked_slots: dict[str, str] = {}
    #: key -> why deleting it failed (it is still there, or its claim is kept for the next sweep)
    failed: dict[str, str] = {}
    #: the lease generation this sweep held
    generation: int = 0

    @property
    def partial(self) -> bool:
        """Did the sweep leave something it would have deleted for a person to look at?"""
        return bool(self.blocked_slots or self.failed or self.for_a_person)


# -- JSON forms ------------------------------------------------------------------------

def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, _Record):
        return to_json(value)
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    return value


def to_json(doc: Any) -> dict[str, Any]:
    """A document or receipt as a JSON-ready dict, fields in declaration order."""
    return {name: _json_value(getattr(doc, name)) for name in doc._FIELDS}


_D = TypeVar("_D", bound=_Document)


def load_document(model: type[_D], data: bytes, key: str) -> _D:
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
