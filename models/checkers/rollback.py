"""G4: rollback is a pointer change.

A rollback writes only the current pointer, restores exactly the chosen earlier
mapping (cost independent of history length: checked by the engine's own tests), and
an unknown target is refused with nothing changed; so is a target whose blobs are
gone or altered since it left current (history alone named them). ``--steps N``
restores the manifest N links back along the history entries' ``previous`` links,
which the checker walks itself (``walk_back``); each link is checked when a publish
writes it (``check_history_link``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import NamedTuple

from ..guarantees import Guarantee
from .oracle import Oracle, ParsedManifest, current_key, history_key, is_tombstone, parse_blob_key, parse_manifest
from .violation import Violation

__all__ = ["check_rollback", "check_refused_rollback", "check_history", "HistoryLink", "read_history_entry",
           "walk_back", "unusable", "check_history_link"]

G4 = Guarantee.G4


def _changed(before: Mapping[str, bytes], after: Mapping[str, bytes]) -> set[str]:
    return {k for k in set(before) | set(after) if before.get(k) != after.get(k)}


def check_rollback(
    slot: tuple[str, str],
    target: str,
    before: Mapping[str, bytes],
    after: Mapping[str, bytes],
    restored: dict[str, str] | None,
    expected: dict[str, str],
) -> list[Violation]:
    found = []
    changed = _changed(before, after)
    if not changed <= {current_key(*slot)}:
        found.append(Violation(G4, f"rollback wrote more than the current pointer: {sorted(changed)}"))
    if restored != expected:
        found.append(Violation(G4, f"rollback to {target[:12]}… restored {restored}, not {expected}"))
    return found


def check_refused_rollback(target: str, accepted: bool, before: Mapping[str, bytes], after: Mapping[str, bytes],
                           why: str = "") -> list[Violation]:
    """A rollback that had to be refused (``why``; default: an unknown target) was, and wrote nothing."""
    found = []
    if accepted:
        found.append(Violation(G4, f"rollback to {target[:12]}… was accepted, though {why}" if why else
                               f"rollback to unknown manifest {target[:12]}… was accepted"))
    if _changed(before, after):
        found.append(Violation(G4, "a refused rollback changed the store"))
    return found


def check_history(contents: Mapping[str, bytes], oracle: Oracle) -> list[Violation]:
    """Every acknowledged manifest is in history, intact, so a rollback can name it."""
    found = []
    for slot, versions in oracle.manifests.items():
        for version in versions:
            key = history_key(*slot, version)
            data = contents.get(key)
            if data is None:
                found.append(Violation(G4, f"acknowledged manifest {version[:12]}… of {slot[0]}/{slot[1]} has no "
                                           "history entry", key))
                continue
            try:
                manifest = parse_manifest(json.dumps(json.loads(data)["manifest"]).encode())
            except (ValueError, KeyError, TypeError):
                found.append(Violation(G4, f"history entry {key} does not parse", key))
                continue
            if manifest.version != version:
                found.append(Violation(G4, f"history entry {key} holds manifest {manifest.version[:12]}…", key))
    return found


class HistoryLink(NamedTuple):
    """A history entry as the checker reads it: the manifest's mapping and the one it replaced."""

    mapping: dict[str, str]
    previous: str | None


def read_history_entry(contents: Mapping[str, bytes], slot: tuple[str, str], version: str) -> HistoryLink | str:
    """The history entry of ``version`` in ``slot``, or why there is no trustworthy one.

    Trusted as the engine must trust it: it parses, its manifest hashes to ``version``
    and belongs to the slot (read with the checker's own parser, never the engine's).
    """
    key = history_key(*slot, version)
    data = contents.get(key)
    if data is None:
        return f"manifest {version[:12]}… has no history entry"
    parsed = _parse_entry(data)
    if parsed is None:
        return f"history entry {key} does not parse"
    manifest, previous = parsed
    if manifest.version != version or (manifest.tenant, manifest.surface) != slot:
        return (f"history entry {key} holds another manifest ({manifest.tenant}/{manifest.surface} "
                f"{manifest.version[:12]}…)")
    if previous is not None and not isinstance(previous, str):
        return f"history entry {key} names {previous!r} as previous"
    return HistoryLink(manifest.current, previous)


@functools.lru_cache(maxsize=4096)  # the checker's own memo: entries never change, and are read on every ack
def _parse_entry(data: bytes) -> tuple[ParsedManifest, object] | None:
    try:
        doc = json.loads(data)
        return parse_manifest(json.dumps(doc["manifest"]).encode()), doc.get("previous")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def walk_back(contents: Mapping[str, bytes], slot: tuple[str, str], start: str | None, steps: int) -> str | tuple[str]:
    """The manifest ``steps`` links back from ``start`` along the history entries'
    ``previous`` links (what ``rollback(steps=N)`` must restore), or ``(why,)`` when
    there is none: no current, a missing or untrusted entry, the chain's end, a loop."""
    if start is None:
        return (f"{slot[0]}/{slot[1]} has no readable current manifest to walk back from",)
    version, seen = start, {start}
    for taken in range(steps):
        link = read_history_entry(contents, slot, version)
        if isinstance(link, str):
            return (f"{link} (after {taken} of {steps} steps back)",)
        if link.previous is None:
            return (f"the chain of {slot[0]}/{slot[1]} ends after {taken} of {steps} steps back",)
        if link.previous in seen:
            return (f"the history of {slot[0]}/{slot[1]} loops at {link.previous[:12]}…",)
        version = link.previous
        seen.add(version)
    return version


def unusable(mapping: Mapping[str, str], slot: tuple[str, str], contents: Mapping[str, bytes], root_uri: str,
             oracle: Oracle) -> str | None:
    """Why a manifest's mapping cannot be made current (a blob of it is missing, does not
    hash to its version or is unrecorded), as the checker sees the store; None if it can."""
    for type_, uri in sorted(mapping.items()):
        blob = oracle.key_of(uri, root_uri)
        ref = parse_blob_key(blob)
        if ref is None or (ref.tenant, ref.surface, ref.type) != (*slot, type_):
            return f"{type_} names {uri!r}, not a {type_} blob of {slot[0]}/{slot[1]}"
        data = contents.get(blob)
        if data is None:
            return f"its {type_} blob {blob} is missing"
        if not oracle.valid(data, ref.version):
            return f"its {type_} blob {blob} does not hash to its version"
        record = oracle.record(blob, contents)
        if record is None or is_tombstone(record):
            return f"its {type_} blob {blob} is not recorded"
    return None


def check_history_link(contents: Mapping[str, bytes], slot: tuple[str, str], version: str,
                       previous: str | None) -> Violation | None:
    """A manifest a publish swapped in for the first time names, in its history entry, the
    manifest that was current before (``rollback(steps=N)`` walks those links)."""
    link = read_history_entry(contents, slot, version)
    if isinstance(link, str):
        return Violation(G4, f"{link}, though a publish made it current: a rollback cannot name it",
                         history_key(*slot, version))
    if link.previous != previous:
        return Violation(G4, f"the history entry of {version[:12]}… names {str(link.previous)[:12]}… as the manifest "
                             f"it replaced, but {str(previous)[:12]}… was current before the publish: "
                             "rollback --steps would walk to the wrong manifest", history_key(*slot, version))
    return None
