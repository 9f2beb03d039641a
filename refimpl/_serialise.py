"""Hand-written serialisers for the two documents every publish writes.

What they must equal: ``documents.dump_document`` of the corresponding pydantic model,
byte for byte (tests/refimpl/test_canonical.py pins both with Hypothesis). Building
and validating a model per record cost as much as all of a publish's other documents
together; the manifest is written twice (history, then current) but serialised once.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from ._canonical_fast import compact_json

__all__ = ["dump_record", "dump_history_entry"]

_in_field_order = compact_json(sort_keys=False)


def dump_record(
    tenant: str, surface: str, type_: str, version: str, uri: str, size: int, recorded_at: datetime
) -> bytes:
    """``dump_document(RegistryRecord(...))`` without building the model.

    One record per artifact on every publish: building and validating the model cost
    as much as all of the publish's other documents together. A test pins the bytes
    to pydantic's.
    """
    when = recorded_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return _in_field_order({
        "v": 1, "tenant": tenant, "surface": surface, "type": type_, "version": version, "uri": uri,
        "size": size, "recorded_at": when,
    }).encode()


def dump_history_entry(manifest_bytes: bytes, previous: str | None) -> bytes:
    """``dump_document(HistoryEntry(...))`` from the manifest's already-dumped bytes.

    A publish writes the manifest twice (in history, then as current); this way it is
    serialised once.
    """
    return b'{"manifest":' + manifest_bytes + b',"previous":' + json.dumps(previous).encode() + b"}"
