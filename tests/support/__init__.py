"""Helpers shared by the test packages (importable as ``support``; conftest puts tests/ on the path)."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

from pubsafe.refimpl.store import Store

__all__ = ["REPO", "DATA", "S3_BUCKET", "StepClock", "snapshot", "tree", "entries", "fresh_s3_url"]

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
S3_BUCKET = "pubsafe-test"


class StepClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def snapshot(store: Store) -> dict[str, bytes]:
    """Every object of a store with its bytes."""
    return {key: store.get(key) for key in store.list("")}


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root (lock and temp files included) with its bytes."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def entries(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under root, links and special files included, never followed:
    a file's bytes, mode and mtime; a link's target; the kind of anything else.
    Stricter than ``tree`` (which sees regular files only): two equal results mean
    nothing was written, removed, replaced or retimed."""
    if not root.exists():
        return {}
    found: dict[str, tuple[object, ...]] = {}
    for directory, dirs, files in os.walk(root):  # never descends through a link
        for name in dirs + files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            key = os.path.relpath(path, root)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    found[key] = ("file", f.read(), st.st_mode, st.st_mtime_ns)
            elif stat.S_ISLNK(st.st_mode):
                found[key] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                found[key] = ("dir", st.st_mode)
            else:
                found[key] = ("special", stat.S_IFMT(st.st_mode), st.st_mode)
    return found


def fresh_s3_url() -> str:
    """A new, empty prefix in the test bucket."""
    return f"s3://{S3_BUCKET}/t-{uuid.uuid4().hex[:12]}"
