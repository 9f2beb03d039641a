"""Manifest history: entries read only when they prove what they claim, walked back
with loops detected, and listed with the evidence of which were ever current.

An entry at ``history/<tenant>/<surface>/<V>.json`` is trusted only if it parses, its
manifest hashes to ``V``, and it belongs to that tenant and surface: a copied,
edited or misplaced file must never be swapped in as current.
"""

from __future__ import annotations

from typing import NamedTuple

from .documents import HistoryEntry, load_document
from .errors import IntegrityError, ObjectNotFound, RollbackRefused
from .layout import HISTORY, history_key
from .phases import phase
from .store import Store

__all__ = ["read_entry", "walk_back", "list_history", "HistoryItem", "HistoryListing"]


def read_entry(store: Store, tenant: str, surface: str, version: str) -> HistoryEntry:
    """The verified history entry of manifest ``version``.

    Raises ObjectNotFound if there is none, IntegrityError if the file is not what
    its key says.
    """
    key = history_key(tenant, surface, version)
    with phase("history-read"):
        raw = store.get(key)
    entry = load_document(HistoryEntry, raw, key)
    manifest = entry.manifest
    if (manifest.tenant, manifest.surface) != (tenant, surface):
        raise IntegrityError(f"{key} holds a manifest of {manifest.tenant}/{manifest.surface}, not {tenant}/{surface}")
    if manifest.version != version:
        raise IntegrityError(f"{key} holds manifest {manifest.version}, not {version}: it was altered or misplaced")
    return entry


def walk_back(store: Store, tenant: str, surface: str, start: str, steps: int) -> str:
    """The manifest ``steps`` links back from ``start`` along the ``previous`` links."""
    version, seen = start, {start}
    for taken in range(steps):
        try:
            entry = read_entry(store, tenant, surface, version)
        except ObjectNotFound:
            raise RollbackRefused(
                f"manifest {version} has no history entry, so it cannot be walked back from "
                f"(after {taken} of {steps} steps); roll back with --to VERSION instead"
            ) from None
        except IntegrityError as exc:
            raise RollbackRefused(f"cannot walk back past {version}: {exc}; roll back with --to VERSION") from None
        if entry.previous is None:
            raise RollbackRefused(
                f"{tenant}/{surface} has only {taken} earlier manifest(s) along this chain; cannot go back {steps}"
            )
        if entry.previous in seen:
            raise RollbackRefused(
                f"the history of {tenant}/{surface} loops: manifest {version} names {entry.previous} as previous, "
                "which comes later in the chain; roll back with --to VERSION (`pubsafe audit` reports the loop)"
            )
        version = entry.previous
        seen.add(version)
    return version


class HistoryItem(NamedTuple):
    entry: HistoryEntry
    #: current: it is current now; replaced: a later entry names it as previous, so it
    #: was current once; unconfirmed: no later entry names it (it lost a guarded race,
    #: or was rolled back from)
    status: str


class HistoryListing:
    def __init__(self) -> None:
        self.items: list[HistoryItem] = []
        self.problems: list[tuple[str, str]] = []  #: (key, why it was skipped)


def list_history(store: Store, tenant: str, surface: str, current_version: str | None) -> HistoryListing:
    """Every readable entry, oldest first; unreadable ones reported, not fatal."""
    listing = HistoryListing()
    entries = []
    for key in store.list(f"{HISTORY}{tenant}/{surface}/"):
        version = key.rsplit("/", 1)[-1].removesuffix(".json")
        try:
            entries.append(read_entry(store, tenant, surface, version))
        except ObjectNotFound:
            continue
        except IntegrityError as exc:
            listing.problems.append((key, str(exc)))
    named = {e.previous for e in entries}
    for entry in sorted(entries, key=lambda e: (e.manifest.updated_at, e.manifest.version)):
        version = entry.manifest.version
        status = "current" if version == current_version else "replaced" if version in named else "unconfirmed"
        listing.items.append(HistoryItem(entry, status))
    return listing
