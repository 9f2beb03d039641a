"""Simulated power loss for LocalStore (LazyFS in miniature).

``SimulatedDisk`` implements the few OS primitives LocalStore uses (the ``RealOS``
seam) over an in-memory file system that keeps two states:

- what the running system sees (every write, link, rename, unlink, mkdir);
- what the disk has made durable: a file's data as of its last ``fsync``, and a
  directory's entries as of its last directory ``fsync``.

``power_loss()`` throws the first away and keeps only the second, as a disk without
a battery-backed cache may. ``cut_after(n)`` raises a Crash after the n-th primitive,
so a test can cut the power at every point of a publish. ``drop`` turns the fsyncs
with the given labels (``refimpl.osio.FSYNC_LABELS``) into no-ops: the mutants that
show each fsync is needed.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import stat as stat_mod
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .crash import Crash

__all__ = ["SimulatedDisk"]


@dataclass
class _File:
    data: bytes = b""
    durable: bytes = b""
    mtime_ns: int = 0


@dataclass
class _Dir:
    entries: dict[str, int] = field(default_factory=dict)  # name -> inode
    durable: dict[str, int] = field(default_factory=dict)


class SimulatedDisk:
    """An ``OSOps`` whose un-synced state vanishes at power loss."""

    ROOT_INODE = 1

    def __init__(self, *, drop: Iterable[str] = ()) -> None:
        self._inodes: dict[int, _File | _Dir] = {self.ROOT_INODE: _Dir()}
        self._next = itertools.count(2)
        self._fds: dict[int, int] = {}
        self._next_fd = itertools.count(3)
        self._clock: Iterator[int] = itertools.count(1)  # modification times, in ns (a test may set a real clock)
        self._lock = threading.RLock()
        self.dropped = frozenset(drop)
        self.calls = 0
        self.cut_at: int | None = None
        self.log: list[str] = []

    # -- faults ------------------------------------------------------------------

    def cut_after(self, calls: int | None) -> None:
        """Raise Crash once ``calls`` more primitives have run (None: never)."""
        self.cut_at = None if calls is None else self.calls + calls

    def drop(self, labels: Iterable[str]) -> None:
        """From now on, fsyncs with these labels do nothing."""
        self.dropped = frozenset(labels)

    def power_loss(self) -> None:
        """Forget everything not made durable; open descriptors are gone too."""
        with self._lock:
            reachable: dict[int, _File | _Dir] = {}
            stack = [self.ROOT_INODE]
            while stack:
                ino = stack.pop()
                node = self._inodes[ino]
                reachable[ino] = node
                if isinstance(node, _Dir):
                    node.entries = dict(node.durable)
                    stack.extend(i for i in node.entries.values() if i not in reachable)
                else:
                    node.data = node.durable
            self._inodes = reachable
            self._fds.clear()
            self.cut_at = None
            self.log.append("power-loss")

    def _step(self, what: str) -> None:
        self.calls += 1
        self.log.append(what)
        if self.cut_at is not None and self.calls > self.cut_at:
            self.cut_at = None
            raise Crash(f"power cut before {what}")

    # -- path walking --------------------------------------------------------------

    def _parts(self, path: str) -> list[str]:
        return [p for p in path.split("/") if p]

    def _lookup(self, path: str) -> int:
        ino = self.ROOT_INODE
        for part in self._parts(path):
            node = self._inodes[ino]
            if not isinstance(node, _Dir):
                raise NotADirectoryError(path)
            if part not in node.entries:
                raise FileNotFoundError(path)
            ino = node.entries[part]
        return ino

    def _parent(self, path: str) -> tuple[_Dir, str]:
        parts = self._parts(path)
        parent = self._inodes[self._lookup("/" + "/".join(parts[:-1]))]
        if not isinstance(parent, _Dir):
            raise NotADirectoryError(path)
        return parent, parts[-1]

    def _file(self, ino: int, path: str) -> _File:
        node = self._inodes[ino]
        if isinstance(node, _Dir):
            raise IsADirectoryError(path)
        return node

    # -- the RealOS seam -------------------------------------------------------------

    def create_exclusive(self, path: str) -> int:
        with self._lock:
            self._step(f"create {path}")
            parent, name = self._parent(path)
            if name in parent.entries:
                raise FileExistsError(path)
            ino = next(self._next)
            self._inodes[ino] = _File(mtime_ns=next(self._clock))
            parent.entries[name] = ino
            fd = next(self._next_fd)
            self._fds[fd] = ino
            return fd

    def write(self, fd: int, data: bytes) -> None:
        with self._lock:
            self._step(f"write fd{fd} {len(data)}B")
            node = self._file(self._fds[fd], f"fd{fd}")
            node.data += bytes(data)
            node.mtime_ns = next(self._clock)

    def fsync(self, fd: int, label: str) -> None:
        with self._lock:
            self._step(f"fsync fd{fd} ({label})")
            if label not in self.dropped:
                node = self._file(self._fds[fd], f"fd{fd}")
                node.durable = node.data

    def close(self, fd: int) -> None:
        with self._lock:
            self._fds.pop(fd, None)

    def link(self, src: str, dst: str) -> None:
        with self._lock:
            self._step(f"link {dst}")
            ino = self._lookup(src)
            parent, name = self._parent(dst)
            if name in parent.entries:
                raise FileExistsError(dst)
            parent.entries[name] = ino

    def rename(self, src: str, dst: str) -> None:
        with self._lock:
            self._step(f"rename {dst}")
            src_parent, src_name = self._parent(src)
            ino = src_parent.entries.pop(src_name)
            dst_parent, dst_name = self._parent(dst)
            dst_parent.entries[dst_name] = ino

    def unlink(self, path: str) -> None:
        with self._lock:
            self._step(f"unlink {path}")
            parent, name = self._parent(path)
            if name not in parent.entries:
                raise FileNotFoundError(path)
            if isinstance(self._inodes[parent.entries[name]], _Dir):
                raise IsADirectoryError(path)
            del parent.entries[name]

    def mkdir(self, path: str) -> None:
        with self._lock:
            self._step(f"mkdir {path}")
            parent, name = self._parent(path)
            if name in parent.entries:
                raise FileExistsError(path)
            ino = next(self._next)
            self._inodes[ino] = _Dir()
            parent.entries[name] = ino

    def fsync_dir(self, path: str, label: str) -> None:
        with self._lock:
            self._step(f"fsync-dir {path} ({label})")
            if label not in self.dropped:
                node = self._inodes[self._lookup(path)]
                assert isinstance(node, _Dir)
                node.durable = dict(node.entries)

    def read(self, path: str) -> tuple[bytes, os.stat_result]:
        with self._lock:
            ino = self._lookup(path)
            return self._file(ino, path).data, self._stat(ino)

    def stat(self, path: str) -> os.stat_result:
        with self._lock:
            return self._stat(self._lookup(path))

    def _stat(self, ino: int) -> os.stat_result:
        node = self._inodes[ino]
        if isinstance(node, _Dir):
            return os.stat_result((stat_mod.S_IFDIR | 0o755, ino, 0, 1, 0, 0, 0, 0, 0, 0))
        seconds = node.mtime_ns / 1e9
        fields = (stat_mod.S_IFREG | 0o644, ino, 0, 1, 0, 0, len(node.data), 0, seconds, seconds)
        return os.stat_result(fields + (seconds, seconds, seconds, node.mtime_ns, node.mtime_ns, node.mtime_ns))

    def lstat(self, path: str) -> os.stat_result:
        return self.stat(path)  # no links on this disk

    def listdir(self, path: str) -> list[tuple[str, str]]:
        with self._lock:
            node = self._inodes[self._lookup(path)]
            if not isinstance(node, _Dir):
                raise NotADirectoryError(path)
            return [(name, "dir" if isinstance(self._inodes[i], _Dir) else "file")
                    for name, i in sorted(node.entries.items())]

    @contextlib.contextmanager
    def lock(self, path: str) -> Iterator[None]:
        # One process: a real mutex stands in for flock; the lock file itself is
        # irrelevant to durability, so it is not modelled.
        with self._lock:
            yield
