"""open_store: one resolver from a store spec to a store, for every command.

A spec is one of:

- an existing directory, or a path written as one (``./new``, ``../x``, ``/srv/pub``,
  ``~/pub``)                      -> LocalStore (durable, every capability);
- a URL: ``file://``              -> LocalStore; ``memory://name`` -> MemoryStore, one per
  name within a process; ``s3://bucket/prefix`` -> S3Store (needs s3fs); ``az://container/prefix``
  -> AzureStore (needs azure-storage-blob); ``gs://bucket/prefix`` -> GCSStore (needs
  google-cloud-storage); a scheme an
  adapter registered in the ``pubsafe.stores`` entry-point group -> that adapter;
  any other scheme fsspec knows   -> FsspecStore (capabilities per protocol);
- ``package.module:factory``      -> whatever that factory returns (the current
  directory is importable, as for ``python -m``).

Anything else (a bare word that is no existing directory, a scheme nobody knows) is
refused with the list of forms. Every store a spec opens is checked against the
Store contract's basics first (``check_store_object``). With ``blob_store``, a
SplitStore over the two roots; ``root_map`` for a store copied away from the root its
manifests name.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from .errors import InvalidInput, ObjectNotFound, PubsafeError, StoreError
from .local import LocalStore
from .memory import MemoryStore
from .split import SplitStore
from .store import Capabilities, Store

__all__ = ["open_store", "load_factory", "store_from_factory", "check_store_object", "is_factory_spec",
           "is_adapter_url", "registered_schemes", "FORMS", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "pubsafe.stores"
FORMS = ("an existing directory or a path such as ./new-store, a URL (file://, s3://, az://, gs://, memory:// in "
         "Python, or a "
         "scheme an adapter registered: {schemes}), or package.module:factory")
_FACTORY = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")

_memory_stores: dict[str, MemoryStore] = {}
_memory_lock = threading.Lock()


def open_store(
    spec: str | os.PathLike[str],
    *,
    create: bool = True,
    blob_store: str | os.PathLike[str] | None = None,
    root_map: Sequence[str] = (),
    **options: Any,
) -> Store:
    """Open the store that ``spec`` names (see the module docstring); options go to the backend.

    ``create=False`` refuses a local directory that does not exist yet, so a typo in
    a read-only command does not leave an empty store behind. ``blob_store`` names a
    separate root for the blobs (then ``spec`` is the registry root: records, current,
    history), as recsys-pipelines deploys it. ``root_map`` entries ``ORIGINAL=LOCAL``
    say that URIs under ORIGINAL (a path or URL the store's writers knew) now live
    under LOCAL.
    """
    store = _open_one(spec, create=create, **options)
    if blob_store is not None:
        store = SplitStore(_open_one(blob_store, create=create, **options), store)
    if root_map:
        store.uri_rewrites = tuple(_rewrite(entry) for entry in root_map)
    return store


def _open_one(spec: str | os.PathLike[str], *, create: bool, **options: Any) -> Store:
    if isinstance(spec, os.PathLike):
        return LocalStore(os.fspath(spec), create=create, **options)
    if not spec or not spec.strip():
        raise InvalidInput(f"no store given: give {_forms()}")
    if "://" in spec:
        return _open_url(spec, create=create, **options)
    if is_factory_spec(spec):
        return store_from_factory(spec)
    if os.path.isdir(spec) or spec.startswith(("./", "../", "/", "~", ".\\")) or os.sep in spec and os.sep != "/":
        return LocalStore(os.path.expanduser(spec), create=create, **options)
    if os.path.exists(spec):
        raise InvalidInput(f"store root {spec!r} exists and is not a directory")
    raise InvalidInput(f"{spec!r} is not a store: give {_forms()}. To create a new store in the current directory "
                       f"write ./{spec}")


def _open_url(url: str, *, create: bool, **options: Any) -> Store:
    scheme = url.split("://", 1)[0].lower()
    adapters = _adapters()
    if scheme in adapters:
        return check_store_object(_call(adapters[scheme], url, f"the {scheme}:// adapter"), f"{scheme}://")
    if scheme == "file":
        from urllib.parse import unquote, urlparse  # 4 ms to import: only for file:// URLs

        parsed = urlparse(url)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidInput(f"{url!r}: file:// URLs must name a local path (file:///dir)")
        return LocalStore(unquote(parsed.path), create=create, **options)
    if scheme == "memory":
        name = url.split("://", 1)[1]
        with _memory_lock:
            # Same name, same store: lets two engines in one process share state.
            if name not in _memory_stores:
                _memory_stores[name] = MemoryStore(name=name, **options)
            return _memory_stores[name]
    if scheme in ("s3", "s3a"):
        from .s3_store import S3Store

        return S3Store(url, **options)
    if scheme == "az":
        from .azure_store import AzureStore

        return AzureStore(url, **options)
    if scheme in ("gs", "gcs"):
        from .gcs_store import GCSStore

        return GCSStore(url, **options)
    from .fsspec_store import FsspecStore

    try:
        return FsspecStore(url, **options)
    except InvalidInput as exc:
        raise InvalidInput(f"{exc}; a store is {_forms()}") from None


def _rewrite(entry: str) -> tuple[str, str]:
    original, eq, local = entry.partition("=")
    if not eq or not original or not local:
        raise InvalidInput(f"root map {entry!r} must be ORIGINAL=LOCAL, e.g. file:///srv/recsys/pub=./copy")
    return _as_uri(original), _as_uri(local)


def _as_uri(where: str) -> str:
    """A path as ``file://`` + its raw absolute path (recsys-pipelines' form); URLs as they are."""
    return where if "://" in where else "file://" + os.path.abspath(where)


# -- adapters: entry points and factories ------------------------------------------------


def registered_schemes() -> list[str]:
    return sorted(_adapters())


def is_adapter_url(spec: str) -> bool:
    """A URL whose scheme an installed adapter registered (``pubsafe.stores``)."""
    return "://" in spec and spec.split("://", 1)[0].lower() in _adapters()


def _adapters() -> dict[str, Any]:
    from importlib.metadata import entry_points  # 25 ms to import: only when a spec may name an adapter

    return {ep.name.lower(): ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _forms() -> str:
    return FORMS.format(schemes=", ".join(f"{s}://" for s in registered_schemes()) or "none installed")


def _call(entry_point: Any, url: str, what: str) -> Any:
    try:
        factory = entry_point.load()
    except Exception as exc:  # noqa: BLE001 - a broken adapter install is reported, not a traceback
        raise InvalidInput(f"{what} ({entry_point.value}) cannot be loaded: {type(exc).__name__}: {exc}") from exc
    try:
        return factory(url)
    except PubsafeError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InvalidInput(f"{what} ({entry_point.value}) failed to open {url!r}: {type(exc).__name__}: {exc}") from exc


def is_factory_spec(spec: str) -> bool:
    """``package.module:factory`` (and not a path that happens to contain a colon)."""
    return bool(_FACTORY.fullmatch(spec)) and not os.path.exists(spec)


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
        raise InvalidInput(
            f"cannot import {module_name!r} for {spec!r}: {exc}. The current directory ({os.getcwd()}) is on the "
            "import path; for a module elsewhere set PYTHONPATH or install its package"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - the user's module failed while importing
        raise InvalidInput(f"importing {module_name!r} for {spec!r} failed: {type(exc).__name__}: {exc}") from exc
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise InvalidInput(f"{module_name!r} has no attribute {attr!r}") from None
    if not callable(factory):
        raise InvalidInput(f"{spec!r} is not callable")
    found: Callable[..., Any] = factory
    return found


def store_from_factory(spec: str) -> Store:
    """Call a ``package.module:factory`` with no arguments and check what it returns."""
    factory = load_factory(spec)
    try:
        made = factory()
    except TypeError as exc:
        raise InvalidInput(f"{spec} must be callable with no arguments and return a new Store: {exc}") from exc
    except PubsafeError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InvalidInput(f"{spec} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(made, Store) and hasattr(made, "__enter__"):
        made = made.__enter__()  # a context manager: a command's store lives as long as the process
    return check_store_object(made, spec)


def check_store_object(store: Any, source: str, *, read_missing: bool = True) -> Store:
    """The basics of the Store contract, with messages that say what to fix.

    ``read_missing``: also read a key that does not exist (``get_object`` and ``stat``,
    two requests); how a store class answers them does not change from one store to
    the next, so a caller making many stores of one class asks once.
    """
    guide = "see docs/writing-a-store-adapter.md"
    if not isinstance(store, Store):
        raise InvalidInput(f"{source} gave a {type(store).__name__}, not a pubsafe Store: subclass "
                           f"pubsafe.refimpl.store.Store ({guide})")
    if not isinstance(getattr(store, "capabilities", None), Capabilities):
        raise InvalidInput(f"{source}: the store must declare `capabilities = Capabilities(...)` ({guide})")
    if not isinstance(getattr(store, "root_uri", None), str):
        raise InvalidInput(f"{source}: the store must have a `root_uri` string naming where its keys live ({guide})")
    for primitive in ("get_object", "stat") if read_missing else ():
        try:
            getattr(store, primitive)("pubsafe-probe/missing.json")
        except ObjectNotFound:
            continue
        except StoreError as exc:  # the store answered with a failure: unreachable, no bucket, no permission
            raise StoreError(f"{source} cannot be used: {primitive}() of a key that does not exist failed ({exc}); "
                             "check that the store exists and is reachable, then run again") from None
        except Exception as exc:  # noqa: BLE001 - the finding is which exception it was
            raise InvalidInput(
                f"{source}: {primitive}() of a missing key raised {type(exc).__name__}; a Store must raise "
                f"pubsafe.refimpl.errors.ObjectNotFound (a FileNotFoundError) ({guide})"
            ) from None
        raise InvalidInput(f"{source}: {primitive}() of a missing key returned instead of raising ObjectNotFound "
                           f"({guide})")
    return store
