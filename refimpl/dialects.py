"""Dialects: what differs between the writers of one store layout.

pubsafe and upstream recsys-pipelines (Go) put blobs, records and current manifests
at the same paths (``layout``), but differ in how a stored blob's version is
computed, the record schema, whether manifest history exists, how temp files are
named, whether names are trimmed, and whether GC claims are honoured
(shared/upstream/FORMAT.md). A ``Dialect`` holds those rules; ``PUBSAFE`` and
``RECSYS_PIPELINES`` ship. A store may hold the writing of both (pubsafe publishing
on top of an upstream store), so validation accepts an artifact valid under any
dialect, and the store's dialect (``detect``) is the one of its records.

The upstream version rule, verified on every fixture blob and vector: sha256 of the
stored blob with insignificant whitespace removed, every string and number token
kept exactly as stored, and the value of the top-level ``build`` member replaced by
``{"built_at":"","version":""}``. (The checker reproduces it independently, by
re-encoding like Go: ``pubsafe.models.checkers.upstream``.)
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import NamedTuple

from .canonical import version_of_bytes
from .layout import RECORDS
from .store import Store

__all__ = [
    "Dialect",
    "RecordInfo",
    "PUBSAFE",
    "RECSYS_PIPELINES",
    "DIALECTS",
    "detect",
    "upstream_version",
    "blob_version_matches",
    "parse_any_record",
]


class RecordInfo(NamedTuple):
    """What a registry record says, in any dialect."""

    tenant: str
    surface: str
    type: str
    version: str
    dialect: str
    built_at: str | None = None  #: upstream: the time of the first publish of this version


class Dialect(NamedTuple):
    name: str
    keeps_history: bool  #: does this writer keep manifest history (rollback by version)?
    honours_claims: bool  #: does its publish back off from a GC tombstone at a record key?
    trims_names: bool  #: are record and current paths built from trimmed names?
    temp_file: re.Pattern[str]  #: names of this writer's temp files of interrupted writes

    def blob_version(self, data: bytes) -> str | None:
        """The version the stored bytes hash to under this writer's rule (None: not computable)."""
        return version_of_bytes(data) if self is PUBSAFE else upstream_version(data)

    def parse_record(self, raw: bytes) -> RecordInfo | None:
        return _parse_pubsafe_record(raw) if self is PUBSAFE else _parse_upstream_record(raw)


PUBSAFE = Dialect("pubsafe", keeps_history=True, honours_claims=True, trims_names=False,
                  temp_file=re.compile(r"\.tmp-[0-9a-f]{32}"))
RECSYS_PIPELINES = Dialect("recsys-pipelines", keeps_history=False, honours_claims=False, trims_names=True,
                           temp_file=re.compile(r"\..+\.tmp-[0-9]{1,10}"))
DIALECTS = {d.name: d for d in (PUBSAFE, RECSYS_PIPELINES)}


def blob_version_matches(data: bytes, version: str) -> bool:
    """Do the stored bytes hash to ``version`` under some writer's rule?"""
    return version_of_bytes(data) == version or upstream_version(data) == version


def parse_any_record(raw: bytes) -> RecordInfo | None:
    """A registry record in whichever dialect it is written (None: neither)."""
    return _parse_pubsafe_record(raw) or _parse_upstream_record(raw)


def detect(store: Store, *, sample: int = 20) -> Dialect:
    """recsys-pipelines if any of the first records is upstream's, else pubsafe."""
    for key in store.list(RECORDS)[:sample]:
        try:
            record = parse_any_record(store.get(key))
        except Exception:  # noqa: BLE001 - an unreadable record says nothing about the writer
            continue
        if record is not None and record.dialect == RECSYS_PIPELINES.name:
            return RECSYS_PIPELINES
    return PUBSAFE


# -- records -----------------------------------------------------------------------


def _parse_pubsafe_record(raw: bytes) -> RecordInfo | None:
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("v") != 1:
            return None
        return RecordInfo(doc["tenant"], doc["surface"], doc["type"], doc["version"], PUBSAFE.name)
    except (ValueError, KeyError, TypeError):
        return None


def _parse_upstream_record(raw: bytes) -> RecordInfo | None:
    """Go's struct written without JSON tags: capitalised field names."""
    try:
        doc = json.loads(raw)
        key = doc["Key"]
        fields = (key["Tenant"], key["Surface"], key["Type"], doc["Version"])
        if not all(isinstance(f, str) for f in fields) or not isinstance(doc.get("URI"), str):
            return None
        return RecordInfo(*fields, RECSYS_PIPELINES.name, doc.get("BuiltAt"))
    except (ValueError, KeyError, TypeError):
        return None


# -- the upstream version rule ------------------------------------------------------------

_WHITESPACE = frozenset(b" \t\n\r")
_BLANK_BUILD = b'{"built_at":"","version":""}'


def upstream_version(data: bytes) -> str | None:
    """recsys-pipelines' version of a stored blob (see the module docstring), or None if
    the bytes are not one JSON document."""
    compact = _compact(data)
    if compact is None:
        return None
    return hashlib.sha256(_blank_build(compact)).hexdigest()


def _compact(data: bytes) -> bytes | None:
    """The JSON text without whitespace between tokens; tokens untouched."""
    out = bytearray()
    in_string = escaped = False
    for byte in data:
        if in_string:
            out.append(byte)
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte in _WHITESPACE:
            continue
        else:
            out.append(byte)
            in_string = byte == 0x22
    if in_string:
        return None
    try:
        json.loads(out)  # one well-formed document, or no version at all
    except ValueError:
        return None
    return bytes(out)


def _blank_build(compact: bytes) -> bytes:
    """Replace the value of the top-level ``build`` member of compact JSON."""
    if not compact.startswith(b"{"):
        return compact
    depth, i, n = 0, 0, len(compact)
    while i < n:
        byte = compact[i]
        if byte == 0x22:  # a string: a key when it follows '{' or ',' at depth 1
            end = _string_end(compact, i)
            if depth == 1 and compact[i - 1] in b"{," and compact[i:end] == b'"build"' and compact[end] == 0x3A:
                value_end = _value_end(compact, end + 1)
                return compact[: end + 1] + _BLANK_BUILD + compact[value_end:]
            i = end
            continue
        if byte in b"{[":
            depth += 1
        elif byte in b"}]":
            depth -= 1
        i += 1
    return compact


def _string_end(text: bytes, start: int) -> int:
    """Index just past the string token starting at ``start``."""
    i = start + 1
    while text[i] != 0x22:
        i += 2 if text[i] == 0x5C else 1
    return i + 1


def _value_end(text: bytes, start: int) -> int:
    """Index just past the value starting at ``start`` (compact JSON)."""
    depth, i = 0, start
    while True:
        byte = text[i]
        if byte == 0x22:
            i = _string_end(text, i)
            if depth == 0:
                return i
            continue
        if depth == 0 and byte in b",}]":
            return i  # the end of a number or literal
        if byte in b"{[":
            depth += 1
        elif byte in b"}]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
