"""LocalStore: a directory on a POSIX filesystem, durable against power loss.

Each primitive maps onto one native mechanism:

- create-only ``put``: write a temp file, fsync it, ``link`` it to the key (link
  refuses an existing name atomically, and readers never see a partial file);
- ``replace``: temp file in the same directory, fsync, ``rename`` over the key;
- compare-and-swap: the comparison and the rename under an advisory ``flock``; the
  etag is the content's sha256 (inode, size and mtime are not enough: under load a
  freed inode is reused within one timestamp tick, and a stale etag would match);
- durability: after every rename or link the directory is fsynced, and every
  directory created on the way is fsynced into its parent (deletions need not be
  durable; see ``delete``).

Confinement: nothing inside the store is followed through a symbolic link (each
directory of a key is checked with ``lstat``, files are opened with O_NOFOLLOW), a
named pipe, socket or device is never read or written (opened with O_NONBLOCK, so a
pipe cannot make a read wait for ever, then checked with ``fstat``), and a directory
where an object belongs is refused, not skipped: all raise UnsafeStoreState and touch
nothing; ``debris`` reports links and special files, so audit and gc name them.
Temp files (``.tmp-<hex>``) of failed writes are removed; those of a killed process
stay, invisible to ``list``, and are reported by ``debris`` so that audit counts them
and GC removes them after its grace period.
Lock files (``.<name>.lock``) are permanent: removing one while a writer holds it
would let a second writer in.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import os
import re
import stat
from collections.abc import Iterator
from functools import cached_property

from .errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    NoSpace,
    ObjectNotFound,
    RetryableStoreError,
    StoreError,
    UnsafeStoreState,
)
from .layout import BOUND, GC, SWEEPING
from .osio import UNSUPPORTED, NotRegularFile, OSOps, RealOS
from .store import (
    ABSENT,
    ANY,
    NOT_REGULAR,
    Capabilities,
    Debris,
    Expect,
    ObjectInfo,
    Store,
    StoredObject,
    check_key,
    etag_of,
)

__all__ = ["LocalStore", "TEMP_PREFIX"]

TEMP_PREFIX = ".tmp-"
#: Temp files of interrupted writes: pubsafe's, and recsys-pipelines' (``.<name>.tmp-<digits>``).
_TEMP = re.compile(r"\.tmp-[0-9a-f]{32}|\..+\.tmp-[0-9]{1,10}")
_GC_FOLDERS = (BOUND.rstrip("/"), SWEEPING.rstrip("/"))  #: the only directories inside gc/


class LocalStore(Store):
    capabilities = Capabilities(atomic_replace=True, create_only=True, compare_and_swap=True, durable=True)
    wire_terms = {"create_only": "link(2) of a synced temp file to the key",
                  "compare_and_swap": "compare the content's sha256 and rename(2), both under flock(2) on the key's "
                                      "lock file",
                  "refused": "EEXIST from link, or a mismatch seen under the lock",
                  "read": "one read of the file; the etag is the sha256 of the bytes read"}

    def __init__(
        self, root: str | os.PathLike[str], *, create: bool = True, os_ops: OSOps | None = None
    ) -> None:
        """``create=False`` refuses a missing root instead of making one (read-only use)."""
        if os_ops is None and UNSUPPORTED:
            raise InvalidInput(f"store root {os.fspath(root)!r}: {UNSUPPORTED}")
        self.os: OSOps = os_ops or RealOS()
        self.root = os.path.abspath(os.fspath(root))
        try:
            is_dir: bool | None = stat.S_ISDIR(self.os.stat(self.root).st_mode)
        except FileNotFoundError:
            is_dir = None
        except NotADirectoryError:
            raise InvalidInput(f"store root {self.root!r} is inside a file, not a directory") from None
        except OSError as exc:
            raise InvalidInput(f"store root {self.root!r} cannot be used: {_reason(exc)}") from None
        if is_dir is False:
            raise InvalidInput(f"store root {self.root!r} exists and is not a directory")
        if not create and not is_dir:
            raise InvalidInput(f"no store at {self.root!r}: the directory does not exist")
        # The root is created by the first write (durably, like any directory), so
        # opening a store for a refused request leaves nothing behind.

    @cached_property
    def root_uri(self) -> str:  # type: ignore[override]
        """``file:///...`` of the root; pathlib (4 ms to import) only when a URI is compared."""
        from pathlib import Path

        return Path(self.root).as_uri()

    # -- paths ---------------------------------------------------------------

    def _path(self, key: str) -> str:
        """The file of ``key``, after checking no directory on the way is a link or a file."""
        parts = check_key(key).split("/")
        path = self.root
        for depth, part in enumerate(parts[:-1]):
            path = f"{path}/{part}"
            try:
                mode = self.os.lstat(path).st_mode
            except FileNotFoundError:
                return os.path.join(path, *parts[depth + 1:])  # created, without following, on write
            except OSError as exc:
                raise StoreError(f"{key}: cannot examine {path!r}: {_reason(exc)}") from exc
            if stat.S_ISLNK(mode):
                raise UnsafeStoreState(
                    f"{key}: {'/'.join(parts[:depth + 1])} is a symbolic link inside the store; pubsafe does not "
                    "follow links (one could lead outside the store). Replace it with a real directory"
                )
            if not stat.S_ISDIR(mode):
                raise UnsafeStoreState(f"{key}: {'/'.join(parts[:depth + 1])} is a file where a directory belongs")
        return f"{path}/{parts[-1]}"

    def _not_an_object(self, key: str, path: str, *, writing: bool = True) -> UnsafeStoreState | None:
        """Why the entry at ``path`` cannot be written (a link or a directory), if it cannot.

        Reading a directory is simply "not found": a key prefix, as in any object
        store. Writing over one, or anything through a link, is refused.
        """
        try:
            mode = self.os.lstat(path).st_mode
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return UnsafeStoreState(f"{key} is a symbolic link; pubsafe does not follow links inside the store")
        if stat.S_ISDIR(mode):
            return UnsafeStoreState(f"{key} is a directory where an object belongs; move it out of the store") \
                if writing else None
        if not stat.S_ISREG(mode):
            return _not_regular(key, mode)
        return None

    def _ensure_dir(self, path: str) -> None:
        """Create ``path`` and missing parents, each made durable in its parent."""
        missing = []
        while True:
            try:
                self.os.stat(path)
                break
            except FileNotFoundError:
                missing.append(path)
                parent = os.path.dirname(path)
                if parent == path:
                    break
                path = parent
        for directory in reversed(missing):
            try:
                self.os.mkdir(directory)
            except FileExistsError:
                continue  # a concurrent writer made it; it fsyncs it too
            self.os.fsync_dir(os.path.dirname(directory), "new-directory")

    def _write_temp(self, directory: str, data: bytes) -> str:
        temp = os.path.join(directory, f"{TEMP_PREFIX}{os.urandom(16).hex()}")
        fd = self.os.create_exclusive(temp)
        try:
            try:
                self.os.write(fd, data)
                self.os.fsync(fd, "file-data")
            finally:
                self.os.close(fd)
        except BaseException:
            _unlink_quietly(self.os, temp)  # a full disk must not stay full because of us
            raise
        return temp

    # -- the contract --------------------------------------------------------

    def get_object(self, key: str) -> StoredObject:
        path = self._path(key)
        try:
            data, _ = self.os.read(path)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc
        except (IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFound(key) from exc  # a key prefix, not an object
        except NotRegularFile as exc:
            raise _not_regular(key, exc.mode) from exc
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENXIO):  # a link; a socket (which open refuses)
                raise self._not_an_object(key, path, writing=False) or StoreError(
                    f"reading {key}: {_reason(exc)}") from exc
            raise StoreError(f"reading {key}: {_reason(exc)}") from exc
        return StoredObject(data)  # content etag, computed only if asked for

    def put(self, key: str, data: bytes) -> str:
        path = self._path(key)
        directory = os.path.dirname(path)
        try:
            self._ensure_dir(directory)
            temp = self._write_temp(directory, data)
            try:
                self.os.link(temp, path)
            except FileExistsError as exc:
                raise self._not_an_object(key, path) or AlreadyExists(key) from exc
            except FileNotFoundError as exc:
                raise _temp_vanished(key) from exc
            finally:
                _unlink_quietly(self.os, temp)
            self.os.fsync_dir(directory, "created-entry")
            return etag_of(data)
        except (AlreadyExists, ObjectNotFound, UnsafeStoreState, RetryableStoreError):
            raise
        except OSError as exc:
            raise _failure(f"writing {key}", exc) from exc

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        path = self._path(key)
        directory = os.path.dirname(path)
        name = os.path.basename(path)
        try:
            self._ensure_dir(directory)
            temp = self._write_temp(directory, data)
            try:
                # Every replace takes the lock, so an unconditional replace cannot
                # slip between a compare-and-swap's comparison and its rename.
                with self._lock(key, os.path.join(directory, f".{name}.lock")):
                    if expect is not ANY:
                        self._compare(key, path, expect)
                    try:
                        self.os.rename(temp, path)
                    except FileNotFoundError as exc:
                        raise _temp_vanished(key) from exc
                    etag = etag_of(data)
            except BaseException:
                _unlink_quietly(self.os, temp)
                raise
            self.os.fsync_dir(directory, "replaced-entry")
            return etag
        except (Conflict, ObjectNotFound, UnsafeStoreState, RetryableStoreError):
            raise
        except NotRegularFile as exc:
            raise _not_regular(key, exc.mode) from exc
        except (IsADirectoryError, NotADirectoryError) as exc:
            raise self._not_an_object(key, path) or StoreError(f"replacing {key}: {_reason(exc)}") from exc
        except OSError as exc:
            raise _failure(f"replacing {key}", exc) from exc

    @contextlib.contextmanager
    def _lock(self, key: str, lock_path: str) -> Iterator[None]:
        """The key's lock, refused (UnsafeStoreState) if its lock file is a link."""
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(self.os.lock(lock_path))
            except NotRegularFile as exc:
                raise UnsafeStoreState(
                    f"{key}: its lock file {os.path.basename(lock_path)} is {_words(exc.mode)}, not a regular file; "
                    "pubsafe locks only regular files. Remove it by hand (pubsafe makes a new one)"
                ) from exc
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
                raise UnsafeStoreState(
                    f"{key}: its lock file {os.path.basename(lock_path)} is a symbolic link; pubsafe never opens "
                    "a link inside the store (it could lead outside it). Remove the link"
                ) from exc
            yield

    def _compare(self, key: str, path: str, expect: str | Expect) -> None:
        try:
            actual: str | None = etag_of(self.os.read(path)[0])
        except FileNotFoundError:
            actual = None
        wanted = None if expect is ABSENT else expect
        if actual != wanted:
            raise Conflict(f"{key}: expected etag {wanted}, found {actual}", actual_etag=actual)

    def _walk(self, prefix: str = "") -> tuple[list[str], list[tuple[str, str]]]:
        """(object keys under ``prefix``, (key, kind) of hidden or linked entries)."""
        # Start the walk at the deepest directory the prefix fully names.
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = os.path.join(self.root, *base.split("/")) if base else self.root
        keys: list[str] = []
        odd: list[tuple[str, str]] = []
        stack = [(start, base)]
        while stack:
            directory, rel = stack.pop()
            try:
                entries = self.os.listdir(directory)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                raise StoreError(f"listing {rel or 'the store root'}: {_reason(exc)}") from exc
            for entry_name, kind in entries:
                key = f"{rel}/{entry_name}" if rel else entry_name
                if kind in ("link", "other"):  # "other": a named pipe, socket or device
                    odd.append((key, kind))
                elif entry_name.startswith("."):
                    if kind == "file" and _TEMP.fullmatch(entry_name):
                        odd.append((key, "temp"))
                elif kind == "dir":
                    if key.startswith(GC) and key not in _GC_FOLDERS:
                        odd.append((key, "dir"))  # e.g. a binding replaced by a directory: not simply absent
                    if key.startswith(prefix) or prefix.startswith(key + "/"):
                        stack.append((os.path.join(directory, entry_name), key))
                elif kind == "file" and key.startswith(prefix):
                    keys.append(key)
        return keys, odd

    def list(self, prefix: str = "") -> list[str]:
        return sorted(self._walk(prefix)[0])

    def debris(self) -> builtins.list[Debris]:
        found = []
        for key, kind in self._walk("")[1]:
            try:
                st = self.os.lstat(os.path.join(self.root, *key.split("/")))
            except FileNotFoundError:
                continue  # a writer finished with its temp file meanwhile
            found.append(Debris(key, _special_kind(st.st_mode) if kind == "other" else kind, st.st_size, st.st_mtime))
        return sorted(found, key=lambda d: d.key)

    def remove_debris(self, key: str) -> None:
        path = self._path(key)
        if not _TEMP.fullmatch(key.rsplit("/", 1)[-1]) or self._not_an_object(key, path) is not None:
            raise UnsafeStoreState(f"{key} is not a temp file of an interrupted write; only those are removed")
        _unlink_quietly(self.os, path)

    def delete(self, key: str) -> None:
        path = self._path(key)
        if (unsafe := self._not_an_object(key, path, writing=False)) is not None:
            raise unsafe
        try:
            self.os.unlink(path)
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise ObjectNotFound(key) from exc  # absent, or a key prefix
        except OSError as exc:
            raise StoreError(f"deleting {key}: {_reason(exc)}") from exc
        # No directory fsync: only GC deletes, and a deletion undone by power loss
        # leaves an orphan (or a stale tombstone) that the next sweep finishes.
        # tests/faults/test_power_loss.py checks that no guarantee depends on it.

    def stat(self, key: str) -> ObjectInfo:  # noqa: A003
        path = self._path(key)
        try:
            st = self.os.lstat(path)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise ObjectNotFound(key) from exc
        except OSError as exc:
            raise StoreError(f"examining {key}: {_reason(exc)}") from exc
        if not stat.S_ISREG(st.st_mode):
            raise self._not_an_object(key, path, writing=False) or ObjectNotFound(key)
        return ObjectInfo(key, self.get_object(key).etag, st.st_size, st.st_mtime)

    def exists(self, key: str) -> bool:
        # Overridden: existence needs no etag, and blobs can be large.
        path = self._path(key)
        try:
            mode = self.os.lstat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise StoreError(f"examining {key}: {_reason(exc)}") from exc
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            raise self._not_an_object(key, path, writing=False) or UnsafeStoreState(f"{key} is not a regular file")
        return stat.S_ISREG(mode)


def _special_kind(mode: int) -> str:
    """The debris kind of an entry that is not a regular file, directory or link."""
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "special"


def _words(mode: int) -> str:
    return NOT_REGULAR[_special_kind(mode)]


def _not_regular(key: str, mode: int) -> UnsafeStoreState:
    return UnsafeStoreState(
        f"{key} is {_words(mode)}, not a regular file; pubsafe reads and writes only regular files (reading this "
        "one could wait for ever) and never removes what it did not write: remove it by hand, or move it out of "
        "the store (`pubsafe audit` then says what is missing)"
    )


def _temp_vanished(key: str) -> RetryableStoreError:
    return RetryableStoreError(
        f"writing {key}: its temp file vanished before it was put in place (a `pubsafe gc` with a grace period "
        "shorter than a write removes temp files in flight); nothing was written, retry"
    )


def _unlink_quietly(os_ops: OSOps, path: str) -> None:
    try:
        os_ops.unlink(path)
    except OSError:
        pass


def _failure(doing: str, exc: OSError) -> StoreError:
    """The StoreError for an OS error while ``doing`` something; a full disk is NoSpace."""
    kind = NoSpace if exc.errno in (errno.ENOSPC, errno.EDQUOT) else StoreError
    return kind(f"{doing}: {_reason(exc)}")


def _reason(exc: OSError) -> str:
    """An OS error in words a person can act on."""
    return {
        errno.ENAMETOOLONG: "the path is too long for this filesystem",
        errno.ELOOP: "too many levels of symbolic links",
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EACCES: "permission denied",
        errno.EROFS: "the filesystem is read-only",
    }.get(exc.errno or 0, exc.strerror or str(exc))
