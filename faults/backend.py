"""Backend faults: errors injected *below* a store's API, so that its own mapping runs.

``FaultyStore`` raises pubsafe's errors above the Store contract, which tests the
engine but never the store's translation of what its backend says (an errno, an S3
error code) into those errors (``refimpl.errors``). A store that reads a full disk as
"already exists", or a throttled read as "not found", keeps every guarantee until
its backend has a bad moment. Here the backend itself answers with an error, once:

    KIND@PHASE[/CALL][#N]   for example ``no-space@history-write/link``, ``throttle@read-current#2``

KIND   what the backend says, in its own terms (each backend has its own list):
       local (``OSOps``, errno)       no-space ENOSPC, io-error EIO, denied EACCES,
                                      timeout ETIMEDOUT (a network file system),
                                      timeout-after (the call took effect, then ETIMEDOUT)
       S3 (``S3Store``, HTTP)         throttle 503 SlowDown, conflict 409
                                      ConditionalRequestConflict (on a conditional PUT),
                                      internal 500 InternalError, timeout (no answer),
                                      timeout-after (the request landed, its answer was lost)
PHASE  the engine phase (``refimpl.phases``) during which the N-th backend call
       (default the first) fails; a call outside any phase is never touched, so the
       checker's own reads are not.
CALL   only calls of this name count: an ``OSOps`` method (``link``, ``read``...) or
       an S3 request (``put_object``, ``get_object``...); the seam lists its ``calls``.

``backend_seam(store)`` finds the backend of a store (looking through wrappers that
keep theirs in ``inner``): the OS seam of a ``LocalStore``, the request function of an
``S3Store``; None for a store whose backend pubsafe cannot reach (a MemoryStore has
none). ``seam.injecting(fault)`` arms one fault for the duration of a block and says
whether and where it fired.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from pubsafe.refimpl.errors import InvalidInput
from pubsafe.refimpl.local import LocalStore
from pubsafe.refimpl.phases import current_phase
from pubsafe.refimpl.s3_store import S3Store
from pubsafe.refimpl.store import Store

__all__ = ["BackendFault", "BackendSeam", "Shot", "backend_seam", "LOCAL_KINDS", "S3_KINDS"]

_FAULT = re.compile(r"(?P<kind>[a-z-]+)@(?P<phase>[a-z-]+)(?:/(?P<call>[a-z_0-9]+))?(?:#(?P<nth>\d+))?")

#: local backend: kind -> errno
LOCAL_KINDS = {"no-space": errno.ENOSPC, "io-error": errno.EIO, "denied": errno.EACCES, "timeout": errno.ETIMEDOUT,
               "timeout-after": errno.ETIMEDOUT}
#: OS calls that change something, so an error after them leaves the change in place
_LOCAL_CHANGES = frozenset({"link", "rename", "unlink", "mkdir"})
#: S3 backend: kind -> (HTTP status, error code); the timeouts raise TimeoutError instead
S3_KINDS = {"throttle": (503, "SlowDown"), "conflict": (409, "ConditionalRequestConflict"),
            "internal": (500, "InternalError"), "timeout": (0, ""), "timeout-after": (0, "")}


@dataclass(frozen=True)
class BackendFault:
    kind: str
    phase: str
    call: str = ""  #: only backend calls of this name count ("": any)
    nth: int = 1

    @classmethod
    def parse(cls, text: str, kinds: Collection[str]) -> BackendFault:
        match = _FAULT.fullmatch(text.strip())
        if match is None or match["kind"] not in kinds:
            raise InvalidInput(f"cannot read backend fault {text!r}: expected KIND@PHASE[/CALL][#N] with KIND one of "
                               f"{', '.join(kinds)}, for example '{next(iter(kinds))}@history-write'")
        return cls(match["kind"], match["phase"], match["call"] or "", int(match["nth"] or 1))

    def __str__(self) -> str:
        return f"{self.kind}@{self.phase}" + (f"/{self.call}" if self.call else "") + (
            f"#{self.nth}" if self.nth != 1 else "")


@dataclass
class Shot:
    """What an armed fault did: ``fired``, and ``what`` the backend was asked and answered.

    Without a fault it only records: ``calls`` lists the (phase, call) of every backend
    call made inside a phase, in order (what a sweep places its faults by).
    """

    fault: BackendFault | None
    fired: bool = False
    what: str = ""
    #: called when it fires (a recorder notes which store operation was in flight)
    on_fire: Callable[[], None] = field(default=lambda: None, repr=False)
    calls: list[tuple[str, str]] = field(default_factory=list)
    _seen: int = 0

    def due(self, call: str, eligible: bool = True) -> bool:
        phase = current_phase()
        if self.fault is None:
            if phase is not None:
                self.calls.append((phase, call))
            return False
        if self.fired or not eligible or phase != self.fault.phase or self.fault.call not in ("", call):
            return False
        self._seen += 1
        if self._seen < self.fault.nth:
            return False
        self.fired = True
        self.on_fire()
        return True

    def __str__(self) -> str:
        return self.what if self.fired else f"{self.fault} (never fired: the phase made fewer backend calls)"


class BackendSeam:
    """Where a store meets its backend; ``injecting`` arms one fault there."""

    kinds: tuple[str, ...] = ()  #: what this backend can answer
    calls: tuple[str, ...] = ()  #: the calls a store makes of it
    every_kind = False  #: a sweep answers each call with every kind (few calls), or with one in turn (many)
    name = ""

    def fault(self, kind: int | str, phase: str, call: int | str = "", nth: int = 1) -> BackendFault:
        """A fault of this backend: ``kind`` and ``call`` by name, or by index into
        ``kinds`` and ``calls`` (any int: a drawn number picks one)."""
        name = kind if isinstance(kind, str) else self.kinds[kind % len(self.kinds)]
        call = call if isinstance(call, str) else self.calls[call % len(self.calls)]
        return BackendFault.parse(f"{name}@{phase}" + (f"/{call}" if call else "") + f"#{nth}", self.kinds)

    @contextlib.contextmanager
    def injecting(self, fault: BackendFault | None, on_fire: Callable[[], None] = lambda: None) -> Iterator[Shot]:
        """Within the block, ``fault`` fires once where it matches (None: record the calls only)."""
        raise NotImplementedError

    def sweep(self, calls: list[tuple[str, str]]) -> list[BackendFault]:
        """Faults that fail each call of a recorded run in turn (the N-th call of its
        name in its phase), answered with every kind (``every_kind``: a backend with a
        call per store operation) or with one kind each, in turn (a backend with many
        calls per operation); the calls that change something also answered after
        they took effect."""
        faults = []
        seen: dict[tuple[str, str], int] = {}
        for i, (phase, call) in enumerate(calls):
            nth = seen[(phase, call)] = seen.get((phase, call), 0) + 1
            kinds = [k for k in self.kinds if not k.endswith("-after") and self.fits(k, call, conditional=True)]
            chosen = kinds if self.every_kind else kinds[i % len(kinds):][:1]
            faults += [BackendFault(kind, phase, call, nth) for kind in chosen]
            faults += [BackendFault(k, phase, call, nth)
                       for k in self.kinds if k.endswith("-after") and self.fits(k, call)]
        return faults

    def fits(self, kind: str, call: str, conditional: bool = False) -> bool:
        """Can this backend answer ``call`` with ``kind``? (``conditional``: a request that may be one.)"""
        return True


class _LocalSeam(BackendSeam):
    kinds = tuple(LOCAL_KINDS)
    calls = ("link", "rename", "read", "lstat", "stat", "create_exclusive", "write", "fsync", "fsync_dir", "mkdir",
             "lock", "listdir", "unlink")

    def fits(self, kind: str, call: str, conditional: bool = False) -> bool:
        return call != "close" and (not kind.endswith("-after") or call in _LOCAL_CHANGES)
    name = "local file system"

    def __init__(self, store: LocalStore) -> None:
        self.store = store

    @contextlib.contextmanager
    def injecting(self, fault: BackendFault | None, on_fire: Callable[[], None] = lambda: None) -> Iterator[Shot]:
        shot = Shot(fault, on_fire=on_fire)
        inner = self.store.os
        self.store.os = _FaultyOS(inner, shot)
        try:
            yield shot
        finally:
            self.store.os = inner


class _FaultyOS:
    """An ``OSOps`` that fails one call with the shot's errno (after it, for timeout-after)."""

    def __init__(self, inner: Any, shot: Shot) -> None:
        self._inner, self._shot = inner, shot

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._inner, name)
        if not callable(call) or name == "close":
            return call
        kind = self._shot.fault.kind if self._shot.fault is not None else ""
        after = kind.endswith("-after")

        def faulty(*args: Any, **kwargs: Any) -> Any:
            if not self._shot.due(name, eligible=not after or name in _LOCAL_CHANGES):
                return call(*args, **kwargs)
            code = LOCAL_KINDS[kind]
            path = next((a for a in reversed(args) if isinstance(a, str)), "")
            self._shot.what = (f"the file system answered {errno.errorcode[code]} to {name}"
                               f"{' after it took effect' if after else ''} ({os.path.basename(path)})")
            if after:
                call(*args, **kwargs)
            raise OSError(code, os.strerror(code), path)

        return faulty


class _S3Seam(BackendSeam):
    kinds = tuple(S3_KINDS)
    every_kind = True  # a request per store operation: few calls
    calls = ("put_object", "get_object", "head_object", "list_objects_v2", "delete_object")

    def fits(self, kind: str, call: str, conditional: bool = False) -> bool:
        return kind != "conflict" or (call == "put_object" and conditional)
    name = "S3"

    def __init__(self, store: Any) -> None:
        self.store = store

    @contextlib.contextmanager
    def injecting(self, fault: BackendFault | None, on_fire: Callable[[], None] = lambda: None) -> Iterator[Shot]:
        shot = Shot(fault, on_fire=on_fire)
        sync = self.store._sync
        self.store._sync = _faulty_sync(sync, shot)
        try:
            yield shot
        finally:
            self.store._sync = sync


def _faulty_sync(sync: Callable[..., Any], shot: Shot) -> Callable[..., Any]:
    """S3Store's request runner, answering one request with the shot's error."""
    kind = shot.fault.kind if shot.fault is not None else ""

    def run(loop: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        method = args[0] if args and isinstance(args[0], str) else "get_object"  # S3Store.get_object's own fetch
        conditional = "IfNoneMatch" in kwargs or "IfMatch" in kwargs
        if not shot.due(method, eligible=kind != "conflict" or conditional):
            return sync(loop, fn, *args, **kwargs)
        status, code = S3_KINDS[kind]
        key = kwargs.get("Key", "")
        if kind.startswith("timeout"):
            landed = kind == "timeout-after"
            shot.what = f"S3 gave no answer to {method} {key}" + (" (the request landed)" if landed else "")
            if landed:
                sync(loop, fn, *args, **kwargs)
            raise TimeoutError(f"read timed out: {method} {key}")
        from botocore.exceptions import ClientError

        shot.what = f"S3 answered {status} {code} to {method} {key}"
        raise ClientError({"Error": {"Code": code, "Message": f"injected {code}"},
                           "ResponseMetadata": {"HTTPStatusCode": status}}, method)

    return run


def backend_seam(store: Store) -> BackendSeam | None:
    """The backend seam of ``store`` (or of the store a wrapper keeps in ``inner``), if pubsafe can reach it."""
    seen: set[int] = set()
    current: Any = store
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, LocalStore):
            return _LocalSeam(current)
        if isinstance(current, S3Store):
            return _S3Seam(current)
        current = getattr(current, "inner", None)
    return None
