"""SplitStore: blobs under one root, the registry (records, current, history) under another.

recsys-pipelines' shipped configurations keep its object store and its registry in
sibling directories (``…/objectstore``, ``…/registry``). A command that sees only
one of them sees half a store: every blob looks unrecorded, or every manifest names
blobs that are not there. This store routes each key to its half, so everything
above it sees one layout.

GC needs one more fact that neither half shows alone: which registries publish into
a blob store. A publish through a SplitStore *binds* the pair (``bind``): the
registry gets a random id (``gc/registry.json``) and the blob store a create-only
marker per registry id (``gc/bound/<id>.json``). GC sweeps a blob store only when
the registry it was given is the only one bound to it.
"""

from __future__ import annotations

import builtins
import json
import os
import re
from collections.abc import Callable, Iterable

from .errors import AlreadyExists, CollectionInProgress, Conflict, IntegrityError, InvalidInput, ObjectNotFound
from .layout import BOUND, CURRENT, GC, HISTORY, RECORDS, SWEEPING
from .local import LocalStore
from .store import ANY, NOT_REGULAR, Capabilities, Debris, Expect, ObjectInfo, Store, StoredObject

__all__ = ["SplitStore"]

_REGISTRY = (RECORDS, CURRENT, HISTORY, GC)
REGISTRY_ID = f"{GC}registry.json"
#: A sweep of a store taken as a whole announces itself here, under its lease generation
#: (``gc/sweeping/store-<generation>.json``): no registry's publish ever takes it for its own.
WHOLE_STORE_SWEEP = f"{SWEEPING}store-"
#: What a registry id may be: it names keys (``gc/bound/<id>.json``), so no separators.
_REGISTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


_DEBRIS_WORDS = {"link": "a symbolic link", "dir": "a directory", "temp": "a temp file", **NOT_REGULAR}


def binding_problem(keys: Iterable[str], debris: Iterable[Debris]) -> str | None:
    """What stands where a blob store's bindings belong but is none (a file named
    ``gc/bound``, a file below a binding; a link, directory, special or temp file
    there), in words; None if every binding can be read. gc reads the bindings to
    learn every registry that publishes into a store, so it refuses while one hides."""
    folder = BOUND[:-1]
    odd = [f"{key} is a file" for key in keys
           if key == folder or key.startswith(BOUND) and "/" in key[len(BOUND):]]  # gc/bound, gc/bound/x.json/y
    odd += [f"{item.key} is {_DEBRIS_WORDS.get(item.kind, 'an entry that is no file')}" for item in debris
            if item.key == folder or item.key.startswith(BOUND)]
    if not odd:
        return None
    return (f"{odd[0]}{f' (and {len(odd) - 1} more)' if len(odd) > 1 else ''}, where only bindings belong "
            f"({BOUND}<registry id>.json, regular files): a registry's binding may hide behind it, so gc cannot "
            "tell which registries publish into this store, and blobs only their manifests name would look like "
            "orphans. gc deletes nothing. Restore each binding as a regular file (its registry's id is in that "
            f"registry's {REGISTRY_ID}; it holds {{\"registry\": \"<registry root>\"}}), or remove what stands "
            "there by hand if no registry publishes into this store")


def _where(store: Store) -> str:
    """Where a store's keys live, for comparing two roots: a local directory with its
    links resolved (two spellings of one directory are one place), else its URI."""
    where = os.path.realpath(store.root) if isinstance(store, LocalStore) else store.root_uri
    return where.rstrip("/") + "/"


def _refuse_overlap(blobs: Store, registry: Store) -> None:
    """A blob store at, inside or around its registry: a blob's key and a record's can
    name one file (a record written over the artifact it records), and gc would take
    one half for the other. Refused before anything is opened for writing."""
    a, b = _where(blobs), _where(registry)
    if a.startswith(b) or b.startswith(a):
        where = "are the same place" if a == b else "are nested (one lies inside the other)"
        raise InvalidInput(
            f"the blob store {blobs.root_uri} and the registry {registry.root_uri} {where}: blobs "
            "(<tenant>/<surface>/<type>/<version>.json) and the registry's records/, current/, history/ and gc/ would "
            "share keys, so a record could be written over the artifact it records. Nothing was written. Give two "
            "separate roots, e.g. siblings: --store ./registry --blob-store ./objects"
        )


class SplitStore(Store):
    def __init__(self, blobs: Store, registry: Store, *,
                 new_registry_id: Callable[[], str] = lambda: os.urandom(16).hex()) -> None:
        _refuse_overlap(blobs, registry)
        self.blobs, self.registry = blobs, registry
        self.new_registry_id = new_registry_id  #: random; a model checker counts instead, so equal runs stay equal
        self.root_uri = blobs.root_uri  # manifests name blobs: their URIs are under the blob root
        self.blob_root = getattr(blobs, "root", None)
        self.uri_rewrites = (*blobs.uri_rewrites, *registry.uri_rewrites)
        a, b = blobs.capabilities, registry.capabilities
        self.capabilities = Capabilities(*(getattr(a, f) and getattr(b, f) for f in (
            "atomic_replace", "create_only", "compare_and_swap", "durable")))

    def _half(self, key: str) -> Store:
        return self.registry if key.startswith(_REGISTRY) else self.blobs

    def get_object(self, key: str) -> StoredObject:
        return self._half(key).get_object(key)

    def put(self, key: str, data: bytes) -> str:
        return self._half(key).put(key, data)

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        return self._half(key).replace(key, data, expect=expect)

    def list(self, prefix: str = "") -> list[str]:
        keys = [k for k in self.registry.list(prefix) if k.startswith(_REGISTRY)]
        keys += [k for k in self.blobs.list(prefix) if not k.startswith(_REGISTRY)]
        return sorted(keys)

    def delete(self, key: str) -> None:
        self._half(key).delete(key)

    def stat(self, key: str) -> ObjectInfo:
        return self._half(key).stat(key)

    def exists(self, key: str) -> bool:
        return self._half(key).exists(key)

    def debris(self) -> builtins.list[Debris]:
        return sorted([*self.registry.debris(), *self.blobs.debris()], key=lambda d: d.key)

    def remove_debris(self, key: str) -> None:
        self._half(key).remove_debris(key)

    # -- which registries publish into the blob store (for GC) -----------------

    def registry_id(self) -> str | None:
        """This registry's id; None before its first publish. An id that does not read
        is an IntegrityError, never a stand-in: a publish that went on without its
        binding would leave blobs no binding attributes to it (see ``bind``)."""
        try:
            raw = self.registry.get(REGISTRY_ID)
        except ObjectNotFound:
            return None
        try:
            rid = json.loads(raw)["registry_id"]
        except (ValueError, KeyError, TypeError):
            rid = None
        if isinstance(rid, str) and _REGISTRY_ID.fullmatch(rid):
            return rid
        raise IntegrityError(self._unreadable_id(raw))

    def _unreadable_id(self, raw: bytes) -> str:
        mine = sorted(self.blobs.uri(f"{BOUND}{rid}.json") for rid, root in self.bound_registries().items()
                      if root == self.registry.root_uri)
        restore = (f"the id is in the name of the blob store's binding for this registry ({', '.join(mine)}): "
                   'write {"registry_id": "<that id>"} back' if mine else
                   "no binding in the blob store names this registry: remove the file and publish again (a new id "
                   "is made and bound)")
        return (f"{self.registry.uri(REGISTRY_ID)} does not hold a registry id pubsafe can read ({raw[:60]!r}), so "
                f"pubsafe cannot tell the blob store {self.blobs.root_uri} that this registry publishes into it: a "
                "publish would leave blobs there that gc of that store as a whole store takes for orphans, and gc of "
                "this pair cannot tell its blobs from others'. Nothing was written or deleted. To restore it, "
                f"{restore}")

    def bound_ids(self) -> set[str]:
        """The ids of the registries bound here: one listing, no reads (a sweep's fence)."""
        return {key[len(BOUND):].removesuffix(".json") for key in self.blobs.list(BOUND)}

    def bound_registries(self) -> dict[str, str]:
        """registry id -> the root it had when it was bound, for every registry bound here."""
        return self.bindings()[0]

    def bindings(self) -> tuple[dict[str, str], str | None]:
        """The registries bound here (id -> root), and what stands where bindings
        belong but is none (``binding_problem``): one listing, a read per binding."""
        keys = self.blobs.list(BOUND[:-1])  # "gc/bound" itself too: a file there hides every binding
        found = {}
        for key in keys:
            if not key.startswith(BOUND) or "/" in key[len(BOUND):]:
                continue
            rid = key[len(BOUND):].removesuffix(".json")
            try:
                found[rid] = str(json.loads(self.blobs.get(key)).get("registry", "?"))
            except (ObjectNotFound, ValueError, AttributeError):
                found[rid] = "?"
        return found, binding_problem(keys, self.blobs.debris())

    def bind(self) -> None:
        """Record that this registry publishes into this blob store (idempotent,
        create-only), before the publish looks at any blob; then refuse the publish
        while another registry's gc sweeps the blob store (CollectionInProgress).

        Why both, in this order: a sweep announces itself in the blob store
        (``announce_sweep``; a sweep of the blob store taken as a whole store, at
        ``WHOLE_STORE_SWEEP``) before its first delete and reads the bindings after that
        (``gc._Fence``). A publish binds, then looks for announcements:
        if it looks after the announcement it sees it and stops before adopting a
        blob; if before, its binding came before the announcement, so every fence of
        that sweep sees it and the sweep stops deleting. A registry copied from a bound
        one (same id, another root) gets an id of its own here, so the blob store shows
        two users and gc refuses it as shared.
        """
        rid = self.registry_id()  # unreadable: IntegrityError, before anything is written
        if rid is None:
            try:
                self.registry.put(REGISTRY_ID, json.dumps({"registry_id": self.new_registry_id()}).encode())
            except AlreadyExists:
                pass  # a concurrent publish made it first: use theirs
            rid = self.registry_id()
            if rid is None:
                raise ObjectNotFound(f"{self.registry.uri(REGISTRY_ID)} vanished as it was written: publish again")
        if not self._bound_here(rid):
            rid = self._new_id(rid)
            self._bound_here(rid)
        self._refuse_while_swept(rid)

    def _refuse_while_swept(self, rid: str) -> None:
        sweeping = [key for key in self.blobs.list(SWEEPING)
                    if key != f"{SWEEPING}{rid}.json" or key.startswith(WHOLE_STORE_SWEEP)]
        whole = [key for key in sweeping if key.startswith(WHOLE_STORE_SWEEP)]
        if whole:
            raise CollectionInProgress(
                f"a gc sweep of {self.blobs.root_uri} as a store of its own is deleting its orphans ({whole[0]}), and "
                "this registry's publish could adopt one of them; nothing of this publish was written (this registry "
                f"is now bound to {self.blobs.root_uri}, so gc of it as a whole store refuses from now on). Retry once "
                f"that sweep finishes; if no gc is running (it crashed), remove {whole[0]}"
            )
        if sweeping:
            raise CollectionInProgress(
                f"a gc sweep of another registry is deleting orphans in the blob store {self.blobs.root_uri} "
                f"({sweeping[0]}), and this registry's publish could adopt one of them; nothing of this publish was "
                "written (this registry is now bound to the blob store, so that sweep stops and later ones refuse the "
                f"shared blob store). Retry once it finishes; if no gc is running (it crashed), remove {sweeping[0]}"
            )

    def _bound_here(self, rid: str) -> bool:
        """Create this registry's binding; False if ``rid`` is bound by another root (a copy)."""
        key = f"{BOUND}{rid}.json"
        try:
            self.blobs.put(key, json.dumps({"registry": self.registry.root_uri}).encode())
            return True
        except AlreadyExists:
            pass
        try:
            root = json.loads(self.blobs.get(key)).get("registry")
        except (ObjectNotFound, ValueError, AttributeError):
            return True  # unreadable: gc names it and refuses the pair
        return bool(root == self.registry.root_uri)

    def _new_id(self, copied: str) -> str:
        """A fresh id for a registry that carries another one's (it was copied or moved)."""
        fresh = json.dumps({"registry_id": self.new_registry_id(), "copied_from": copied}).encode()
        stored = self.registry.get_object(REGISTRY_ID)
        try:
            self.registry.replace(REGISTRY_ID, fresh, expect=stored.etag if self.registry.capabilities.compare_and_swap
                                  else ANY)
        except Conflict:
            pass  # a concurrent publish of this registry replaced it first: use theirs
        rid = self.registry_id()
        return rid if rid not in (None, copied) else str(json.loads(fresh)["registry_id"])

    def announce_sweep(self, sweep_id: str) -> None:
        """Say in the blob store that this registry's gc sweeps it (see ``bind``)."""
        doc = json.dumps({"registry": self.registry.root_uri, "sweep_id": sweep_id}).encode()
        self.blobs.replace(f"{SWEEPING}{self.registry_id()}.json", doc)

    def end_sweep(self) -> None:
        try:
            self.blobs.delete(f"{SWEEPING}{self.registry_id()}.json")
        except ObjectNotFound:
            pass

    def close(self) -> None:
        self.blobs.close()
        self.registry.close()

    def __repr__(self) -> str:
        return f"SplitStore(blobs={self.blobs!r}, registry={self.registry!r})"
