"""What a conformance run points at: a store, and optionally another engine or reader.

A store comes from a store spec (``refimpl.open_store``: a URL, a path, a registered
adapter scheme, or ``package.module:factory``); ``memory`` and ``local`` name fresh
in-memory stores and fresh temporary directories. Each Hypothesis example gets a fresh
store, so a factory is called many times; ``cleanup`` tears each one down (removes
what the run wrote unless ``keep``, then closes it). A clean-up failure never costs
the report: it is recorded in ``leftovers`` and reported with the verdicts.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pubsafe.refimpl import Engine, LocalStore, MemoryStore, ServingReader
from pubsafe.refimpl.errors import InvalidInput, ObjectNotFound, UnsupportedOperation
from pubsafe.refimpl.open_store import check_store_object, is_adapter_url, is_factory_spec, load_factory, open_store
from pubsafe.refimpl.prefixed import PrefixedStore
from pubsafe.refimpl.store import Store

__all__ = ["Target", "default_engine", "factory_target", "load_factory", "remove_everything", "remove_store_data",
           "target_from_spec"]


#: URL schemes of stores across a network (fsspec's names): race runs overlap there
REMOTE_SCHEMES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "http", "https"})


def default_engine(store: Store, *, guarded: bool = False, clock: Callable[[], float]) -> Engine:
    return Engine(store, guarded=guarded, clock=clock)


@dataclass
class Target:
    name: str
    store_factory: Callable[[], Store]
    engine_factory: Callable[..., Any] = default_engine
    reader_factory: Callable[..., Any] = ServingReader
    guarded: bool = False
    cleanup: Callable[[Store], None] = lambda store: None
    #: a Python expression that rebuilds this target in a fresh interpreter (for replay)
    rebuild: str | None = None
    #: directories a fresh interpreter must have on sys.path to import the target's factories
    import_paths: list[str] = field(default_factory=list)
    #: what clean-up could not remove or close (reported, never raised)
    leftovers: list[str] = field(default_factory=list)
    #: race interleavings and crash points run at once: more than one only for a remote store, whose
    #: runs wait on the network (in memory or on disk they would only contend)
    parallel_runs: int = 1

    @property
    def mode(self) -> str:
        return "guarded" if self.guarded else "default"

    def engine_for(self, clock: Callable[[], float]) -> Callable[[Store], Any]:
        """store -> an engine over it, in this target's mode and on ``clock``."""
        return lambda store: self.engine_factory(store, guarded=self.guarded, clock=clock)


class _Lifecycle:
    """Makes stores, and tears each down: remove its data (unless kept), then close it.

    A factory may return a Store, or a context manager that yields one (its exit runs
    at teardown). Failures land in ``leftovers``: one line per distinct problem.
    """

    def __init__(self, make: Callable[[], Any], source: str, remove: Callable[[Store], None] | None, keep: bool):
        self.make, self.source, self.remove, self.keep = make, source, remove, keep
        self.leftovers: list[str] = []
        self._problems: dict[tuple[str, str], tuple[int, str]] = {}
        self._exits: dict[int, Any] = {}
        self._read_missing: set[type] = set()  #: store classes that answered a missing key as they must

    def store(self) -> Store:
        made = self.make()
        if not isinstance(made, Store) and hasattr(made, "__enter__") and hasattr(made, "__exit__"):
            manager, made = made, made.__enter__()
            self._exits[id(made)] = manager
        checked = check_store_object(made, self.source, read_missing=type(made) not in self._read_missing)
        self._read_missing.add(type(made))
        return checked

    def cleanup(self, store: Store) -> None:
        if self.remove is not None and not self.keep:
            self._attempt("could not remove", self._removal(self.remove), store)
        manager = self._exits.pop(id(store), None)
        if manager is not None:
            self._attempt(f"closing ({self.source}'s exit) failed for", lambda _: manager.__exit__(None, None, None),
                          store)
        else:
            self._attempt(f"{type(store).__name__}.close() failed for", lambda s: s.close(), store)

    @staticmethod
    def _removal(remove: Callable[[Store], None]) -> Callable[[Store], None]:
        """``remove``, and when it fails, a second look: a failure that left nothing behind
        (a listing cache naming a key that is gone, a directory already removed) is no
        leftover; one that did is reported with what is still there."""

        def removal(store: Store) -> None:
            try:
                remove(store)
            except Exception as exc:
                remaining = still_there(store)
                if remaining == []:
                    return
                if remaining:
                    more = f" and {len(remaining) - 1} more" if len(remaining) > 1 else ""
                    raise _Remaining(exc, f"still there: {remaining[0]}{more}") from exc
                raise

        return removal

    def _attempt(self, what: str, action: Callable[[Store], Any], store: Store) -> None:
        try:
            action(store)
        except Exception as exc:  # noqa: BLE001 - reported with the verdicts, never raised
            # One line per kind of failure, however many stores it hit.
            cause, suffix = (exc.cause, f"; {exc.remaining}") if isinstance(exc, _Remaining) else (exc, "")
            kind = (what, type(cause).__name__)
            count, first = self._problems.get(kind, (0, f"{store.root_uri}: {type(cause).__name__}: {cause}{suffix}"))
            self._problems[kind] = (count + 1, first)
            self.leftovers[:] = [f"{what} {n} store{'s' if n > 1 else ''}, e.g. {example}"
                                 for (what, _), (n, example) in self._problems.items()]


class _Remaining(Exception):
    """A removal that failed and left ``remaining`` behind (``cause`` is what it raised)."""

    def __init__(self, cause: Exception, remaining: str) -> None:
        super().__init__(str(cause))
        self.cause, self.remaining = cause, remaining


def remove_everything(store: Store) -> None:
    """Delete every object a store holds: in batches where the backend has them, else one by one."""
    if hasattr(store, "clear"):
        with contextlib.suppress(UnsupportedOperation):
            store.clear()
            return
    for key in store.list(""):
        with contextlib.suppress(ObjectNotFound):
            store.delete(key)


def target_from_spec(
    store: str, *, engine: str | None = None, reader: str | None = None, guarded: bool = False, keep: bool = False
) -> Target:
    """Build a Target from CLI words: ``memory``, ``local``, a store spec, or module:factory.

    The spec is opened once here, so a typo or a store that breaks the basic contract
    is an ``InvalidInput`` before any run starts; ``keep`` leaves what the run wrote.
    """
    if store in ("memory", "memory://"):
        life = _Lifecycle(MemoryStore, "memory", None, keep)
    elif store == "local":
        life = _Lifecycle(lambda: LocalStore(tempfile.mkdtemp(prefix="pubsafe-check-")), "local", remove_store_data,
                          keep)
    elif is_factory_spec(store):
        factory = load_factory(store)
        life = _Lifecycle(_no_arguments(factory, store), store, None, keep)
    else:
        life = _Lifecycle(_fresh_prefixes(store), store, remove_store_data, keep)
    remote = store.split("://", 1)[0].lower() in REMOTE_SCHEMES if "://" in store else False
    options = (("engine", engine), ("reader", reader), ("guarded", guarded))
    words = [repr(store)] + [f"{n}={v!r}" for n, v in options if v]
    target = _managed(store, life, guarded=guarded, rebuild=f"target_from_spec({', '.join(words)})",
                      parallel_runs=8 if remote else 1)
    if engine:
        target.engine_factory = load_factory(engine)
    if reader:
        target.reader_factory = load_factory(reader)
    for spec in (store, engine, reader):
        if spec and is_factory_spec(spec) and (root := import_root(spec)) and root not in target.import_paths:
            target.import_paths.append(root)
    return target


def factory_target(name: str, make: Callable[[], Any], *, remove: Callable[[Store], None] | None = None,
                   **fields: Any) -> Target:
    """A Target over a factory of fresh stores (or of context managers yielding them),
    each torn down after use (``remove`` first, if given, then closed); ``fields`` as
    for ``Target`` (engine_factory, guarded...)."""
    return _managed(name, _Lifecycle(make, name, remove, keep=False), **fields)


def _managed(name: str, life: _Lifecycle, **fields: Any) -> Target:
    """The Target over ``life``, after one store was made, checked and torn down: a
    broken factory, or --guarded without compare-and-swap, fails here, before any run."""
    first = life.store()
    life.cleanup(first)
    if fields.get("guarded") and not first.capabilities.compare_and_swap:
        raise InvalidInput(f"guarded mode needs compare-and-swap, and {name} does not declare it "
                           "(capabilities.compare_and_swap); check it in default mode")
    return Target(name=name, store_factory=life.store, cleanup=life.cleanup, leftovers=life.leftovers, **fields)


def _fresh_prefixes(spec: str) -> Callable[[], Store]:
    """A fresh, empty prefix of the store ``spec`` names per call: examples stay
    independent, and what the store already holds is never read, changed or removed."""
    base = spec.rstrip("/")
    open_store(base).close()  # a bare word or an unknown scheme is refused here, before any run
    if is_adapter_url(base):  # an adapter's URL need not have room for sub-paths (one database file)
        return lambda: PrefixedStore(open_store(base), f"pubsafe-check-{uuid.uuid4().hex[:12]}")
    return lambda: open_store(f"{base}/pubsafe-check-{uuid.uuid4().hex[:12]}")


def _no_arguments(factory: Callable[..., Any], spec: str) -> Callable[[], Any]:
    def make() -> Any:
        try:
            return factory()
        except TypeError as exc:
            raise InvalidInput(f"{spec} must be callable with no arguments and return a new Store: {exc}") from exc
        except InvalidInput:
            raise
        except Exception as exc:  # noqa: BLE001 - the adapter's own failure, named
            raise InvalidInput(f"{spec} raised {type(exc).__name__}: {exc}") from exc

    return make


def remove_store_data(store: Store) -> None:
    """Remove what a run wrote: a local store's directory itself, else every object. A
    directory never created (a store nothing was written to) is already removed."""
    if isinstance(store, LocalStore):
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(store.root)  # the directory itself, not only its objects
    else:
        remove_everything(store)


def still_there(store: Store) -> list[str] | None:
    """What a store still holds, each key looked up again (a key a stale listing names
    but a read cannot find is gone); None when that cannot be told."""
    try:
        if isinstance(store, LocalStore):
            root = Path(store.root)
            return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir()) if root.exists() else []
        found = []
        for key in store.list(""):
            with contextlib.suppress(ObjectNotFound):
                store.stat(key)
                found.append(key)
        return found
    except Exception:  # noqa: BLE001 - a store that cannot even be listed keeps its line
        return None


def import_root(spec: str) -> str | None:
    """The sys.path entry that ``package.module:factory`` was imported from, unless it is installed."""
    module = sys.modules.get(spec.partition(":")[0])
    origin = getattr(module, "__file__", None)
    if not origin or "site-packages" in origin:
        return None
    depth = spec.partition(":")[0].count(".") + (2 if origin.endswith("__init__.py") else 1)
    return str(Path(origin).resolve().parents[depth - 1])
