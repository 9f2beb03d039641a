"""R4 (documented): crashed publishes leave orphans, blobs nothing references.

Counted from the store alone: a blob key with no registry record (or only a GC
tombstone) that no current or historic manifest names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from .oracle import CURRENT, HISTORY, RECORDS, key_of_uri, parse_blob_key

__all__ = ["orphans"]


def orphans(contents: Mapping[str, bytes], root_uri: str) -> list[str]:
    referenced: set[str] = set()
    for key, data in contents.items():
        if key.startswith((CURRENT, HISTORY)):
            try:
                doc = json.loads(data)
                mapping = doc["manifest"]["current"] if key.startswith(HISTORY) else doc["current"]
                referenced.update(key_of_uri(uri, root_uri) for uri in mapping.values())
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # an unreadable manifest is G2's or G4's business
    return sorted(
        key for key in contents
        if parse_blob_key(key) is not None and RECORDS + key not in contents and key not in referenced
    )
