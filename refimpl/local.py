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

Temp and lock files start with ``.`` and are invisible to ``list``.
"""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

from .errors import AlreadyExists, Conflict, InvalidInput, ObjectNotFound, StoreError
from .osio import OSOps, RealOS
from .store import ANY, ABSENT, Capabilities, Expect, ObjectInfo, Store, StoredObject, check_key, etag_of

__all__ = ["LocalStore"]


class LocalStore(Store):
    capabilities = Capabilities(atomic_replace=True, create_only=True, compare_and_swap=True, durable=True)

    def __init__(
        self, root: str | os.PathLike[str], *, create: bool = True, os_ops: OSOps | None = None
    ) -> None:
        """``create=False`` refuses a missing root instead of making one (read-only use)."""
        self.os: OSOps = os_ops or RealOS()
        self.root = os.path.abspath(os.fspath(root))
        try:
            is_dir: bool | None = stat.S_ISDIR(self.os.stat(self.root).st_mode)
        except FileNotFoundError:
            is_dir = None
        if is_dir is False:
            raise InvalidInput(f"store root {self.root!r} exists and is not a directory")
        if not create and not is_dir:
            raise InvalidInput(f"no store at {self.root!r}: the directory does not exist")
        # The root is created by the first write (durably, like any directory), so
        # opening a store for a refused request leaves nothing behind.
        self.root_uri = Path(self.root).as_uri()

    # -- paths ---------------------------------------------------------------

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *check_key(key).split("/"))

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
        temp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
        fd = self.os.create_exclusive(temp)
        try:
            self.os.write(fd, data)
            self.os.fsync(fd, "file-data")
        finally:
            self.os.close(fd)
        return temp

    # -- the contract --------------------------------------------------------

    def get_object(self, key: str) -> StoredObject:
        path = self._path(key)
        try:
            data, st = self.os.read(path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFound(key) from exc
        except OSError as exc:
            raise StoreError(f"reading {key}: {exc}") from exc
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
                raise AlreadyExists(key) from exc
            finally:
                self.os.unlink(temp)
            self.os.fsync_dir(directory, "created-entry")
            return etag_of(data)
        except (AlreadyExists, ObjectNotFound):
            raise
        except OSError as exc:
            raise StoreError(f"writing {key}: {exc}") from exc

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
                with self.os.lock(os.path.join(directory, f".{name}.lock")):
                    if expect is not ANY:
                        self._compare(key, path, expect)
                    self.os.rename(temp, path)
                    etag = etag_of(data)
            except BaseException:
                try:
                    self.os.unlink(temp)
                except FileNotFoundError:
                    pass
                raise
            self.os.fsync_dir(directory, "replaced-entry")
            return etag
        except (Conflict, ObjectNotFound):
            raise
        except OSError as exc:
            raise StoreError(f"replacing {key}: {exc}") from exc

    def _compare(self, key: str, path: str, expect: str | Expect) -> None:
        try:
            actual: str | None = etag_of(self.os.read(path)[0])
        except FileNotFoundError:
            actual = None
        wanted = None if expect is ABSENT else expect
        if actual != wanted:
            raise Conflict(f"{key}: expected etag {wanted}, found {actual}", actual_etag=actual)

    def list(self, prefix: str = "") -> list[str]:
        # Start the walk at the deepest directory the prefix fully names.
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = os.path.join(self.root, *base.split("/")) if base else self.root
        keys: list[str] = []
        stack = [(start, base)]
        while stack:
            directory, rel = stack.pop()
            try:
                entries = self.os.listdir(directory)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry_name, is_dir in entries:
                if entry_name.startswith("."):
                    continue
                key = f"{rel}/{entry_name}" if rel else entry_name
                if is_dir:
                    if key.startswith(prefix) or prefix.startswith(key + "/"):
                        stack.append((os.path.join(directory, entry_name), key))
                elif key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            self.os.unlink(path)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc
        except OSError as exc:
            raise StoreError(f"deleting {key}: {exc}") from exc
        # No directory fsync: only GC deletes, and a deletion undone by power loss
        # leaves an orphan (or a stale tombstone) that the next sweep finishes.
        # tests/test_power_loss.py checks that no guarantee depends on it.

    def stat(self, key: str) -> ObjectInfo:  # noqa: A003
        try:
            st = self.os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise ObjectNotFound(key) from exc
        if not stat.S_ISREG(st.st_mode):
            raise ObjectNotFound(key)
        return ObjectInfo(key, self.get_object(key).etag, st.st_size, st.st_mtime)

    def exists(self, key: str) -> bool:
        # Overridden: existence needs no etag, and blobs can be large.
        try:
            return stat.S_ISREG(self.os.stat(self._path(key)).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False
