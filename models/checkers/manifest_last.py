"""G2: the manifest is swapped last, so current is always valid.

Whenever current exists it parses, and every artifact it names exists, hashes to
its version and is recorded; a publish that fails before its swap leaves current
byte-identical; a publish that returns has made its merged mapping current.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..guarantees import Guarantee
from .oracle import CURRENT, Oracle, current_key, is_tombstone, key_of_uri, parse_blob_key, parse_manifest
from .violation import Violation

__all__ = ["check_currents", "check_current_at", "check_failed_publish", "check_mapping", "mapping_keys", "as_keys"]

G2 = Guarantee.G2


def check_currents(contents: Mapping[str, bytes], root_uri: str, oracle: Oracle) -> list[Violation]:
    found = []
    for key in [k for k in contents if k.startswith(CURRENT)]:  # by key: a lazy mapping reads only these
        data = contents.get(key)
        if data is not None:  # else gone since it was listed
            found += _check_current(key, data, contents, root_uri, oracle)
    return found


def check_current_at(key: str, data: bytes, contents: Mapping[str, bytes], root_uri: str,
                     oracle: Oracle) -> list[Violation]:
    """G2 for the document read at one current key (read by key, not found by listing:
    a store that folds two keys into one lists only one of them)."""
    return _check_current(key, data, contents, root_uri, oracle)


def _check_current(key: str, data: bytes, contents: Mapping[str, bytes], root_uri: str,
                   oracle: Oracle) -> list[Violation]:
    try:
        manifest = parse_manifest(data)
    except ValueError as exc:
        return [Violation(G2, f"current {key} does not parse: {exc}")]
    tenant, surface = manifest.tenant, manifest.surface
    if key not in (current_key(tenant, surface), current_key(tenant.strip(), surface.strip())):
        return [Violation(G2, f"{key} holds the manifest of {tenant}/{surface}")]
    found = []
    for type_, uri in sorted(manifest.current.items()):
        blob = oracle.key_of(uri, root_uri)
        ref = parse_blob_key(blob)
        own = f"{tenant}/{surface}/{type_}/"
        if ref is None or not (blob.startswith(own) or blob.startswith(own.strip())):
            found.append(Violation(G2, f"{key} names {uri!r} for {type_}, which is not a {type_} blob of its own "
                                       "tenant/surface"))
            continue
        if blob not in contents:
            found.append(Violation(G2, f"{key} names {blob} ({type_}), which does not exist", blob))
            continue
        if not oracle.valid(contents[blob], ref.version):
            found.append(Violation(G2, f"{key} names {blob}, which does not validate", blob))
        record = oracle.record(blob, contents)
        if record is None or is_tombstone(record):
            found.append(Violation(G2, f"{key} names {blob}, which is not recorded", blob))
    return found


def mapping_keys(data: bytes | None, root_uri: str) -> dict[str, str] | None:
    """A current manifest's mapping as store keys; None if absent or unreadable."""
    if data is None:
        return None
    try:
        return as_keys(parse_manifest(data).current, root_uri)
    except ValueError:
        return None


def as_keys(mapping: Mapping[str, str], root_uri: str) -> dict[str, str]:
    """A manifest mapping with every URI as the store key it names."""
    return {t: key_of_uri(uri, root_uri) for t, uri in mapping.items()}


def check_failed_publish(
    slot: tuple[str, str], before: bytes | None, after: bytes | None, complete: dict[str, str], root_uri: str,
    cause: str
) -> Violation | None:
    """After a failed publish, current is byte-identical, or the complete new mapping
    (the failure came after the swap landed: a lost acknowledgement)."""
    if after == before or mapping_keys(after, root_uri) == complete:
        return None
    return Violation(G2, f"after {cause}: a failed publish left {slot[0]}/{slot[1]} half-updated: "
                         f"{mapping_keys(after, root_uri)}")


def check_mapping(
    slot: tuple[str, str], got: dict[str, str] | None, expected: dict[str, str], guarantee: Guarantee = G2
) -> Violation | None:
    """A publish that returned has made exactly its merged mapping current."""
    if (got or {}) == expected:
        return None
    return Violation(guarantee, f"{slot[0]}/{slot[1]}: current is {got}, expected the merged mapping {expected}")
