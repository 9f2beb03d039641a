"""Shared by the test publishers: arguments, payload versions, the layout.

These are deliberately small, stand-alone programs (run as scripts by the black-box
tests), each following one protocol, right or wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys


def arguments() -> tuple[str, str, str, dict[str, str]]:
    """``STORE TENANT SURFACE TYPE=FILE...``"""
    store, tenant, surface, *specs = sys.argv[1:]
    return store, tenant, surface, dict(spec.split("=", 1) for spec in specs)


def canonical(value: object) -> bytes:
    """Good enough for these inputs (no floats that JSON spells differently)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def makedirs_for(path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
