"""G4: rollback is a pointer change.

A rollback writes only the current pointer, restores exactly the chosen earlier
mapping (cost independent of history length: checked by the engine's own tests), and
an unknown target is refused with nothing changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ..guarantees import Guarantee
from ..oracle import Oracle, current_key, history_key, parse_manifest
from .violation import Violation

__all__ = ["check_rollback", "check_refused_rollback", "check_history"]

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


def check_refused_rollback(target: str, accepted: bool, before: Mapping[str, bytes], after: Mapping[str, bytes]) -> list[Violation]:
    found = []
    if accepted:
        found.append(Violation(G4, f"rollback to unknown manifest {target[:12]}… was accepted"))
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
                found.append(Violation(G4, f"acknowledged manifest {version[:12]}… of {slot[0]}/{slot[1]} has no history entry", key))
                continue
            try:
                manifest = parse_manifest(json.dumps(json.loads(data)["manifest"]).encode())
            except (ValueError, KeyError, TypeError):
                found.append(Violation(G4, f"history entry {key} does not parse", key))
                continue
            if manifest.version != version:
                found.append(Violation(G4, f"history entry {key} holds manifest {manifest.version[:12]}…", key))
    return found
