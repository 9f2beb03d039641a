"""A local stand-in for a remote store: the same store object, its network answered in memory.

``stand_in(store)`` takes a store the target made (an ``S3Store``, or one inside
pubsafe's own wrappers, which keep it in ``inner``) and points its S3 requests at
``LocalS3``, an in-memory model of the few requests ``S3Store`` sends, with S3's
semantics as the probes check them: a PUT replaces atomically, ``If-None-Match: *``
and ``If-Match`` are honoured (412; 404 for ``If-Match`` on a missing key), the ETag
is the MD5 of the bytes, listings page by 1,000. Everything above the transport (the
wrappers, ``S3Store``'s own error mapping, the backend fault seam, which wraps the
request runner) runs unchanged, so a state-machine example on the stand-in does what
it would do on the bucket as long as the bucket answers as the model does;
``conformance.planned`` plans the machine's examples here and replays them on the
bucket, where any answer that differs in what Hypothesis sees shows.

None for anything else: a store with another transport, an ``S3Store`` subclass (it
may send requests of its own), or a wrapper pubsafe did not write (it may hold a
network of its own, which the plan would then write to). Those run on the store only.
"""

from __future__ import annotations

import datetime
import hashlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from pubsafe.faults.delegate import DelegatingStore
from pubsafe.refimpl.prefixed import PrefixedStore
from pubsafe.refimpl.s3_store import S3Store
from pubsafe.refimpl.store import Store

__all__ = ["LocalS3", "stand_in"]

_PAGE = 1000


class _Body:
    """A GetObject body: what ``S3Store.get_object`` reads inside ``async with``."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aenter__(self) -> _Body:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def read(self) -> bytes:
        return self.data


def _error(status: int, code: str, method: str) -> Exception:
    """The error s3fs raises for this answer (translated as s3fs does, the ClientError its cause)."""
    from botocore.exceptions import ClientError
    from s3fs.errors import translate_boto_error

    answer: Any = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return translate_boto_error(ClientError(answer, method))


class LocalS3:
    """One bucket's objects in memory, answering S3Store's requests (``_call_s3``)."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str, float]] = {}
        self.lock = threading.Lock()  #: the checker's reads may overlap (``checkers.reading``)
        self.loop = None  #: S3Store passes ``fs.loop`` to its runner; nothing runs on it here

    async def _call_s3(self, method: str, **kwargs: Any) -> dict[str, Any]:
        with self.lock:
            answer: dict[str, Any] = getattr(self, "_" + method)(**kwargs)
            return answer

    def _put_object(self, Bucket: str, Key: str, Body: bytes, IfNoneMatch: str | None = None,
                    IfMatch: str | None = None) -> dict[str, Any]:
        held = self.objects.get(Key)
        if IfNoneMatch == "*" and held is not None:
            raise _error(412, "PreconditionFailed", "put_object")
        if IfMatch is not None:
            if held is None:
                raise _error(404, "NoSuchKey", "put_object")
            if held[1] != IfMatch:
                raise _error(412, "PreconditionFailed", "put_object")
        etag = f'"{hashlib.md5(Body).hexdigest()}"'
        self.objects[Key] = (bytes(Body), etag, datetime.datetime.now(datetime.UTC).timestamp())
        return {"ETag": etag}

    def _get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if Key not in self.objects:
            raise _error(404, "NoSuchKey", "get_object")
        data, etag, _ = self.objects[Key]
        return {"Body": _Body(data), "ETag": etag}

    def _head_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if Key not in self.objects:
            raise _error(404, "404", "head_object")
        data, etag, modified = self.objects[Key]
        return {"ETag": etag, "ContentLength": len(data),
                "LastModified": datetime.datetime.fromtimestamp(modified, datetime.UTC)}

    def _list_objects_v2(self, Bucket: str, Prefix: str = "",
                         ContinuationToken: str | None = None) -> dict[str, Any]:
        keys = sorted(k for k in self.objects
                      if k.startswith(Prefix) and (ContinuationToken is None or k > ContinuationToken))
        page = keys[:_PAGE]
        answer: dict[str, Any] = {"Contents": [{"Key": k} for k in page], "IsTruncated": len(keys) > _PAGE}
        if answer["IsTruncated"]:
            answer["NextContinuationToken"] = page[-1]
        return answer

    def _delete_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.objects.pop(Key, None)
        return {}

    def _delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
        for item in Delete["Objects"]:
            self.objects.pop(item["Key"], None)
        return {}


def _run_here(loop: object, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any, **kwargs: Any) -> Any:
    """S3Store's request runner (fsspec's ``sync``), for coroutines that never wait."""
    coroutine = fn(*args, **kwargs)
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the local S3 model was asked to wait on something")


def stand_in(store: Store) -> Store | None:
    """``store`` itself with its ``S3Store`` answered by a fresh ``LocalS3``; None (and
    ``store`` untouched) unless it is an ``S3Store`` inside nothing but pubsafe's own
    wrappers."""
    current: Any = store
    for _ in range(16):  # wrappers within wrappers, never a cycle
        if type(current) is S3Store:
            current.fs, current._sync = LocalS3(), _run_here
            return store
        ours = type(current).__module__.startswith("pubsafe.")
        if not (ours and isinstance(current, DelegatingStore | PrefixedStore)):
            return None
        current = current.inner
    return None
