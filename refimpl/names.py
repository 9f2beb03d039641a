"""Tenant, surface and type names: each must be one safe path segment.

Names become parts of store keys (``<tenant>/<surface>/<type>/<version>.json``), so
anything that could climb out of a directory, hide in a listing or collide with the
store's own namespaces is refused before a single byte is written.
"""

from __future__ import annotations

import functools
import unicodedata

from .errors import InvalidName

__all__ = ["validate_name", "MAX_NAME_BYTES", "RESERVED_TENANTS"]

MAX_NAME_BYTES = 128

#: Top-level folders the layout itself uses; a tenant of that name would mix
#: its blobs into them.
RESERVED_TENANTS = frozenset({"records", "current", "history", "gc"})


def validate_name(kind: str, name: object, *, reading: bool = False) -> str:
    """Return ``name`` if it is a valid ``kind`` (tenant/surface/type), else raise.

    ``reading``: also accept the names recsys-pipelines writes with surrounding
    whitespace (it trims them in some paths only), so its stores can be read.
    """
    if not isinstance(name, str):
        raise InvalidName(f"{kind} must be a string, got {type(name).__name__}")
    problem = _problem(name.strip() if reading and name.strip() else name)
    if problem is None and not reading and name.endswith("."):
        # Azure Blob Storage (and Windows) drop it: ``acme.`` and ``acme`` would be one tenant
        problem = "ends with '.', which Azure Blob Storage drops from a key's segments"
    if problem is None and kind == "tenant" and name in RESERVED_TENANTS:
        problem = f"is reserved for the store layout ({', '.join(sorted(RESERVED_TENANTS))})"
    if problem is not None:
        raise InvalidName(
            f"{kind} {name!r} {problem}; use a single path segment such as 'acme' or "
            "'home-feed' (letters, digits, '-', '_', '.', at most "
            f"{MAX_NAME_BYTES} bytes)"
        )
    return name


@functools.lru_cache(maxsize=4096)  # the same few names, on every publish
def _problem(name: str) -> str | None:
    if name == "":
        return "is empty"
    if name in (".", ".."):
        return "is a relative directory reference"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if name != name.strip():
        return "has surrounding whitespace"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in name):
        return "contains a control or unencodable character"
    if name.startswith("."):
        return "starts with '.', which hides it in listings"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"is longer than {MAX_NAME_BYTES} bytes in UTF-8"
    return None
