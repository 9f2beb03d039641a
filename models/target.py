"""What a conformance run points at: a store, and optionally another engine or reader.

A store or engine comes from an fsspec URL / path (``open_store``) or an import path
``package.module:factory``. Each Hypothesis example gets a fresh store, so a factory
is called many times; ``cleanup`` runs after each example.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
import uuid
from collections.abc import Callable
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pubsafe.refimpl import Engine, LocalStore, MemoryStore, ServingReader, open_store
from pubsafe.refimpl.errors import InvalidInput
from pubsafe.refimpl.store import Store

__all__ = ["Target", "default_engine", "load_factory", "target_from_spec"]


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

    @property
    def mode(self) -> str:
        return "guarded" if self.guarded else "default"

    def engine_for(self, clock: Callable[[], float]) -> Callable[[Store], Any]:
        """store -> an engine over it, in this target's mode and on ``clock``."""
        return lambda store: self.engine_factory(store, guarded=self.guarded, clock=clock)


def load_factory(spec: str) -> Callable[..., Any]:
    """``package.module:callable`` -> the callable, with errors that say what to fix.

    The current directory is importable, as for ``python -m``.
    """
    module_name, colon, attr = spec.partition(":")
    if not colon or not module_name or not attr:
        raise InvalidInput(f"{spec!r} is not an import path: write package.module:factory")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(f"cannot import {module_name!r} for {spec!r}: {exc}") from exc
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise InvalidInput(f"{module_name!r} has no attribute {attr!r}") from None
    if not callable(factory):
        raise InvalidInput(f"{spec!r} is not callable")
    return factory


def import_root(spec: str) -> str | None:
    """The sys.path entry that ``package.module:factory`` was imported from, unless it is installed."""
    module = sys.modules.get(spec.partition(":")[0])
    origin = getattr(module, "__file__", None)
    if not origin or "site-packages" in origin:
        return None
    depth = spec.partition(":")[0].count(".") + (2 if origin.endswith("__init__.py") else 1)
    return str(Path(origin).resolve().parents[depth - 1])


def _local_factory() -> tuple[Callable[[], Store], Callable[[Store], None]]:
    def make() -> Store:
        return LocalStore(tempfile.mkdtemp(prefix="pubsafe-check-"))

    def cleanup(store: Store) -> None:
        shutil.rmtree(getattr(store, "root", ""), ignore_errors=True)

    return make, cleanup


def target_from_spec(
    store: str, *, engine: str | None = None, reader: str | None = None, guarded: bool = False
) -> Target:
    """Build a Target from CLI words: ``memory``, ``local``, a URL/path, or module:factory."""
    cleanup: Callable[[Store], None] = lambda s: None
    if store in ("memory", "memory://"):
        factory: Callable[[], Store] = MemoryStore
    elif store == "local":
        factory, cleanup = _local_factory()
    elif _is_factory(store):
        factory = load_factory(store)
    else:
        base = store.rstrip("/")

        def factory() -> Store:
            # A fresh prefix per example keeps examples independent on a shared store.
            return open_store(f"{base}/pubsafe-check-{uuid.uuid4().hex[:12]}")

        def cleanup(s: Store) -> None:
            if hasattr(s, "clear"):  # a batched delete where the backend has one
                s.clear()
                return
            for key in s.list(""):
                s.delete(key)

    words = [repr(store)] + [f"{n}={v!r}" for n, v in (("engine", engine), ("reader", reader), ("guarded", guarded)) if v]
    target = Target(name=store, store_factory=factory, guarded=guarded, cleanup=cleanup,
                    rebuild=f"target_from_spec({', '.join(words)})")
    if engine:
        target.engine_factory = load_factory(engine)
    if reader:
        target.reader_factory = load_factory(reader)
    for spec in (store, engine, reader):
        if spec and _is_factory(spec) and (root := import_root(spec)) and root not in target.import_paths:
            target.import_paths.append(root)
    return target


def _is_factory(spec: str) -> bool:
    return ":" in spec and "://" not in spec and not spec.startswith(("/", "."))
