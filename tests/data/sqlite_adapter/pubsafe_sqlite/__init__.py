"""A pubsafe Store over one SQLite file (``sqlite:///path/to/store.db``).

Small on purpose: it is the worked example of docs/writing-a-store-adapter.md and the
adapter the packaging tests install by entry point. Every capability holds because
each primitive is one SQLite transaction: ``put`` is an INSERT (create-only),
``replace`` with an expectation is a conditional UPDATE (compare-and-swap), and
``synchronous=FULL`` makes an acknowledged commit durable.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from urllib.parse import unquote, urlparse

from pubsafe.refimpl.errors import AlreadyExists, Conflict, InvalidInput, ObjectNotFound, RetryableStoreError
from pubsafe.refimpl.store import ABSENT, ANY, Capabilities, Expect, ObjectInfo, Store, StoredObject, check_key

__all__ = ["SQLiteStore", "open_url", "temporary_store"]


class SQLiteStore(Store):
    capabilities = Capabilities(atomic_replace=True, create_only=True, compare_and_swap=True, durable=True)

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.root_uri = "sqlite://" + self.path
        self._lock = threading.Lock()  # one connection, shared by the caller's threads
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS objects "
                         "(key TEXT PRIMARY KEY, data BLOB NOT NULL, etag TEXT NOT NULL, modified REAL NOT NULL)")

    def _run(self, sql: str, *args: object) -> sqlite3.Cursor:
        try:
            with self._lock:
                return self._db.execute(sql, args)
        except sqlite3.OperationalError as exc:  # "database is locked": another process holds it; retry
            raise RetryableStoreError(f"{self.root_uri}: {exc}") from exc

    def get_object(self, key: str) -> StoredObject:
        row = self._run("SELECT data, etag FROM objects WHERE key = ?", check_key(key)).fetchone()
        if row is None:
            raise ObjectNotFound(key)
        return StoredObject(bytes(row[0]), row[1])

    def put(self, key: str, data: bytes) -> str:
        etag = hashlib.sha256(data).hexdigest()
        try:
            self._run("INSERT INTO objects VALUES (?, ?, ?, ?)", check_key(key), bytes(data), etag, time.time())
        except sqlite3.IntegrityError:
            raise AlreadyExists(key) from None
        return etag

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        etag = hashlib.sha256(data).hexdigest()
        check_key(key)
        if expect is ANY:
            self._run("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)", key, bytes(data), etag, time.time())
        elif expect is ABSENT:
            try:
                self._run("INSERT INTO objects VALUES (?, ?, ?, ?)", key, bytes(data), etag, time.time())
            except sqlite3.IntegrityError:
                raise Conflict(f"{key}: expected no object, found one") from None
        elif self._run("UPDATE objects SET data = ?, etag = ?, modified = ? WHERE key = ? AND etag = ?",
                       bytes(data), etag, time.time(), key, expect).rowcount != 1:
            raise Conflict(f"{key}: expected etag {expect}, found another or none")
        return etag

    def list(self, prefix: str = "") -> list[str]:
        rows = self._run("SELECT key FROM objects WHERE substr(key, 1, ?) = ? ORDER BY key", len(prefix), prefix)
        return [row[0] for row in rows.fetchall()]

    def delete(self, key: str) -> None:
        if self._run("DELETE FROM objects WHERE key = ?", check_key(key)).rowcount != 1:
            raise ObjectNotFound(key)

    def stat(self, key: str) -> ObjectInfo:
        row = self._run("SELECT etag, length(data), modified FROM objects WHERE key = ?", check_key(key)).fetchone()
        if row is None:
            raise ObjectNotFound(key)
        return ObjectInfo(key, row[0], row[1], row[2])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_url(url: str) -> SQLiteStore:
    """The entry point: ``sqlite:///abs/path.db`` or ``sqlite://./relative.db``."""
    parsed = urlparse(url)
    path = unquote(parsed.netloc + parsed.path)
    if not path or path.endswith("/"):
        raise InvalidInput(f"{url!r}: name the database file, e.g. sqlite:///srv/pub/store.db")
    return SQLiteStore(path)


class temporary_store:  # noqa: N801 - used like a function: `pubsafe check --store pubsafe_sqlite:temporary_store`
    """A factory for ``pubsafe check``: a context manager over a fresh database file,
    removed on exit (files of databases the run created never outlive it)."""

    def __enter__(self) -> SQLiteStore:
        import tempfile

        self._dir = tempfile.mkdtemp(prefix="pubsafe-sqlite-")
        self._store = SQLiteStore(os.path.join(self._dir, "store.db"))
        return self._store

    def __exit__(self, *exc: object) -> None:
        import shutil

        self._store.close()
        shutil.rmtree(self._dir)
