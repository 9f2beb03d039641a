"""G1: artifacts are immutable and version-addressed.

The same canonical payload gets the same version (and key); a stored blob never
changes; every acknowledged blob stays readable after later publishes, crashes,
retries, rollbacks and sweeps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..guarantees import Guarantee
from .oracle import Oracle, canonical, parse_blob_key, payload_version
from .violation import Violation

__all__ = ["check_blobs", "check_receipt_versions"]

G1 = Guarantee.G1


def check_blobs(contents: Mapping[str, bytes], oracle: Oracle) -> list[Violation]:
    """Acknowledged blobs still hold their bytes; no stored blob ever changes."""
    found = []
    for key, data in oracle.acked_blobs.items():
        if key not in contents:
            twin = _same_payload_elsewhere(key, data, contents)
            found.append(Violation(G1, f"acknowledged blob {key} is missing: " + (
                f"the same payload is stored as {twin}, so its version is not the sha256 of its canonical "
                "(RFC 8785) form, and one content now has two names" if twin else
                "deleted, or never written under the version its canonical form hashes to")))
        elif contents[key] != data:
            found.append(Violation(G1, f"acknowledged blob {key} changed"))
    for key, data in contents.items():
        ref = parse_blob_key(key)
        if ref is None or oracle.hash(data) != ref.version:
            continue  # a torn or foreign blob is judged when something references it
        first = oracle.first_seen_blobs.setdefault(key, data)
        if first != data:
            found.append(Violation(G1, f"blob {key} changed after it was stored"))
    return found


def _same_payload_elsewhere(key: str, canonical_data: bytes, contents: Mapping[str, bytes]) -> str | None:
    """Another blob of the same type whose payload is the acknowledged one."""
    prefix = key.rsplit("/", 1)[0] + "/"
    for other, data in contents.items():
        if other.startswith(prefix) and other != key and parse_blob_key(other):
            try:
                if canonical(json.loads(data)) == canonical_data:
                    return other
            except ValueError:
                continue
    return None


def check_receipt_versions(receipt: Any, artifacts: Mapping[str, Any]) -> list[Violation]:
    """Each published type got the sha256 of its RFC 8785 form as its version."""
    reported = getattr(receipt, "artifacts", None) or {}
    found = []
    for type_, payload in artifacts.items():
        version = reported.get(type_)
        if version is not None and version != payload_version(payload):
            found.append(Violation(G1, f"{type_} got version {version[:12]}…, not the sha256 of its canonical form"))
    return found
