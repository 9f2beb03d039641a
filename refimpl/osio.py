"""The handful of OS calls LocalStore makes, behind one small seam (``OSOps``).

LocalStore's durability argument is a sequence of these calls (write, fsync,
link/rename, directory fsync). Keeping them behind one protocol lets the fault
injector run the very same LocalStore code on a simulated disk that forgets, at
power loss, whatever was not made durable. Every fsync says which step of the
argument it is (``FSYNC_LABELS``), so a test can remove exactly one and watch a
guarantee break.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from typing import Protocol

__all__ = ["OSOps", "RealOS", "FSYNC_LABELS", "UNSUPPORTED", "NotRegularFile"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: Opening a named pipe for reading waits for a writer; non-blocking, it returns at once
#: (and changes nothing for regular files), so the fstat after it can refuse the pipe.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class NotRegularFile(OSError):
    """The path names a named pipe, socket or device: never read, written or locked."""

    def __init__(self, path: str, mode: int) -> None:
        super().__init__(errno.EINVAL, "not a regular file", path)
        self.mode = mode

try:
    import fcntl
except ImportError:  # Windows: the package imports; a real local store is refused (RealOS)
    fcntl = None  # type: ignore[assignment]

#: Why this platform cannot hold a durable local store, or None where it can.
UNSUPPORTED = None if fcntl is not None else (
    "a local store needs POSIX file locks and directory fsync (Linux, macOS); on this platform use an "
    "s3:// or other fsspec URL, an adapter's scheme, or run pubsafe under WSL")


def _kind(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return "link"
    if entry.is_dir(follow_symlinks=False):
        return "dir"
    return "file" if entry.is_file(follow_symlinks=False) else "other"

#: Why LocalStore fsyncs, one label per step of its durability argument:
#: file-data       a temp file's bytes, before it is linked or renamed into place
#: new-directory   a directory LocalStore created, made durable in its parent
#: created-entry   the directory entry a create-only put linked in
#: replaced-entry  the directory entry a replace renamed over
FSYNC_LABELS = ("file-data", "new-directory", "created-entry", "replaced-entry")


class OSOps(Protocol):
    """What LocalStore needs from an operating system; each method is one primitive."""

    def create_exclusive(self, path: str) -> int: ...
    def write(self, fd: int, data: bytes) -> None: ...
    def fsync(self, fd: int, label: str) -> None: ...
    def close(self, fd: int) -> None: ...
    def link(self, src: str, dst: str) -> None: ...
    def rename(self, src: str, dst: str) -> None: ...
    def unlink(self, path: str) -> None: ...
    def mkdir(self, path: str) -> None: ...
    def fsync_dir(self, path: str, label: str) -> None: ...
    def read(self, path: str) -> tuple[bytes, os.stat_result]: ...
    def stat(self, path: str) -> os.stat_result: ...
    def lstat(self, path: str) -> os.stat_result: ...
    def listdir(self, path: str) -> list[tuple[str, str]]: ...
    def lock(self, path: str) -> contextlib.AbstractContextManager[None]: ...


class RealOS:
    """``OSOps`` by direct calls into ``os``."""

    def create_exclusive(self, path: str) -> int:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)

    def write(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    def fsync(self, fd: int, label: str) -> None:
        os.fsync(fd)

    def close(self, fd: int) -> None:
        os.close(fd)

    def link(self, src: str, dst: str) -> None:
        """Atomic create-only: fails with FileExistsError if ``dst`` exists."""
        os.link(src, dst)

    def rename(self, src: str, dst: str) -> None:
        """Atomic replace of ``dst``."""
        os.replace(src, dst)

    def unlink(self, path: str) -> None:
        os.unlink(path)

    def mkdir(self, path: str) -> None:
        os.mkdir(path)

    def fsync_dir(self, path: str, label: str) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self, path: str) -> tuple[bytes, os.stat_result]:
        """Whole-file read plus the fstat of the very file read.

        Plain descriptor calls: Python's buffered ``open`` adds an isatty ioctl, seeks
        and two objects per read, and a publish reads three files.
        """
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)  # a link is refused (ELOOP), never followed
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):  # a directory fails its read
                raise NotRegularFile(path, st.st_mode)
            parts, want = [], st.st_size + 1  # one read for the whole file, then EOF
            while chunk := os.read(fd, want):
                parts.append(chunk)
                want = 65536  # small: a second file-sized buffer would double peak memory
            return b"".join(parts), st
        finally:
            os.close(fd)

    def stat(self, path: str) -> os.stat_result:
        return os.stat(path)

    def lstat(self, path: str) -> os.stat_result:
        """The entry itself: a link is reported as a link, not followed."""
        return os.lstat(path)

    def listdir(self, path: str) -> list[tuple[str, str]]:
        """(name, kind) for each entry of ``path``; kind is dir, file, link or other."""
        with os.scandir(path) as it:
            return [(entry.name, _kind(entry)) for entry in it]

    @contextlib.contextmanager
    def lock(self, path: str) -> Iterator[None]:
        """Advisory exclusive lock (flock) held for the ``with`` block."""
        # Never through a link: a link planted at the lock's name would make this open
        # create (or lock) a file outside the store.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _NONBLOCK, 0o644)  # flock still waits
        try:
            if not stat.S_ISREG(mode := os.fstat(fd).st_mode):
                raise NotRegularFile(path, mode)
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock
