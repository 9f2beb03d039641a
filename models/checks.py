"""The checker: what must be true of a store, given what was acknowledged.

``Oracle`` remembers what the system under test acknowledged (blobs, manifests,
records as first seen). ``check_store`` compares a store against it and returns
violations tagged with guarantee IDs. It knows only the Store contract and the
layout, so it judges any engine that writes the upstream layout.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from pubsafe.refimpl.canonical import version_of_bytes
from pubsafe.refimpl.errors import InvalidKey, ObjectNotFound, PubsafeError
from pubsafe.refimpl.layout import CURRENT, RECORDS, current_key, parse_blob_key, resolve_uri
from pubsafe.refimpl.records import MANIFESTS
from pubsafe.refimpl.store import Store

__all__ = ["Violation", "GuaranteeViolation", "Oracle", "check_store", "current_mapping"]


@dataclass(frozen=True)
class Violation:
    guarantee: str
    message: str

    def __str__(self) -> str:
        return f"{self.guarantee}: {self.message}"


class GuaranteeViolation(AssertionError):
    """Raised by the state machine so Hypothesis shrinks to the smallest example."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(str(violation))
        self.violation = violation


@dataclass
class Oracle:
    acked_blobs: dict[str, bytes] = field(default_factory=dict)
    first_seen_records: dict[str, bytes] = field(default_factory=dict)
    first_seen_blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    _versions: dict[bytes, str] = field(default_factory=dict, repr=False)

    def ack_blob(self, key: str, data: bytes) -> None:
        self.acked_blobs[key] = data

    def version_of(self, data: bytes) -> str:
        """sha256 of ``data``, remembered: a check hashes every blob on every step."""
        version = self._versions.get(data)
        if version is None:
            version = self._versions[data] = version_of_bytes(data)
        return version

    def ack_manifest(self, tenant: str, surface: str, version: str) -> None:
        versions = self.manifests[(tenant, surface)]
        if version not in versions:
            versions.append(version)


def current_mapping(store: Store, tenant: str, surface: str) -> dict[str, str] | None:
    try:
        return json.loads(store.get(current_key(tenant, surface)))["current"]
    except ObjectNotFound:
        return None


def check_store(store: Store, oracle: Oracle, *, skip: frozenset[str] = frozenset()) -> list[Violation]:
    """G1–G3 on the store's present state; guarantees in ``skip`` are not checked.

    Every object is read once per check (remote stores pay per request).
    """
    found: list[Violation] = []
    contents = {}
    for key in store.list(""):
        try:
            contents[key] = store.get(key)
        except ObjectNotFound:
            continue  # deleted between list and get (a concurrent sweep)
    if "G1" not in skip:
        for key, data in oracle.acked_blobs.items():
            if key not in contents:
                found.append(Violation("G1", f"acknowledged blob {key} is gone"))
            elif contents[key] != data:
                found.append(Violation("G1", f"acknowledged blob {key} changed"))
    for key, data in contents.items():
        if key.startswith(RECORDS):
            if "G3" in skip:
                continue
            first = oracle.first_seen_records.setdefault(key, data)
            if first != data and b"gc_tombstone" not in first + data:
                found.append(Violation("G3", f"registry record {key} was rewritten"))
        elif key.startswith(CURRENT):
            if "G2" not in skip:
                found += _check_current(store.root_uri, key, contents, oracle)
        elif (ref := parse_blob_key(key)) is not None and "G1" not in skip:
            if oracle.version_of(data) != ref.version:
                continue  # a torn or foreign blob is judged when something references it
            first = oracle.first_seen_blobs.setdefault(key, data)
            if first != data:
                found.append(Violation("G1", f"blob {key} changed after it was stored"))
    return found


def _check_current(root_uri: str, key: str, contents: dict[str, bytes], oracle: Oracle) -> list[Violation]:
    try:
        manifest = MANIFESTS.load(contents[key], key)
    except PubsafeError as exc:
        return [Violation("G2", f"current {key} does not parse: {exc}")]
    found = []
    for type_, uri in sorted(manifest.current.items()):
        try:
            ref = resolve_uri(uri, tenant=manifest.tenant, surface=manifest.surface, root_uri=root_uri)
        except InvalidKey as exc:
            found.append(Violation("G2", f"{key} names an invalid artifact URI: {exc}"))
            continue
        if ref.key not in contents:
            found.append(Violation("G2", f"{key} names {ref.key} ({type_}), which does not exist"))
            continue
        if oracle.version_of(contents[ref.key]) != ref.version:
            found.append(Violation("G2", f"{key} names {ref.key}, which does not validate"))
        record = contents.get(RECORDS + ref.key)
        if record is None or b"gc_tombstone" in record:
            found.append(Violation("G2", f"{key} names {ref.key}, which is not recorded"))
    return found


def half_updated(store: Store, tenant: str, surface: str, before: bytes | None, complete: dict[str, str]) -> Violation | None:
    """G2 after a failed publish: current is byte-identical, or the complete new mapping."""
    try:
        raw = store.get(current_key(tenant, surface))
    except ObjectNotFound:
        raw = None
    if raw == before:
        return None
    root = store.root_uri.rstrip("/") + "/"
    try:
        now = {t: uri.removeprefix(root) for t, uri in json.loads(raw)["current"].items()} if raw else None
    except (ValueError, KeyError, TypeError, AttributeError):
        now = None
    if now == complete:
        return None
    return Violation("G2", f"a failed publish left {tenant}/{surface} half-updated: {now}")
