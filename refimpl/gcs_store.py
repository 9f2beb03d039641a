"""GCSStore: Google Cloud Storage through the official client, with every capability.

Each primitive maps onto one native request of the JSON API, and the store's etag is
the object's *generation* (GCS's preconditions compare generations, not ETags):

- create-only ``put``:   upload with ``ifGenerationMatch=0`` (412 -> AlreadyExists);
- ``replace``:           upload (an object is replaced whole: readers see the old or the new one);
- compare-and-swap:      upload with ``ifGenerationMatch=<generation>``, or ``=0`` for an
                         absent object (412 -> Conflict);
- ``get`` returns the generation of the very bytes it read (``x-goog-generation`` of the
  same response); ``list`` pages through objects.list; ``delete`` is objects.delete.

Why ``google-cloud-storage`` and not gcsfs (fsspec): the preconditions are keyword
arguments of the official client (``if_generation_match``), it reports the generation
of what it read or wrote and raises typed errors; gcsfs is built on it plus aiohttp,
an event loop and a listing cache that a store would have to bypass. The client keeps
no cache: every call is a request. One client per project and credentials is shared
by every store of a process (it is thread-safe; making one resolves credentials).
The client's own retries stay on (reads, and uploads that carry a precondition,
retried on 429, 5xx and dropped connections; a retried create-only upload whose first
try landed answers 412, which the engine reads as "already there", as on S3); pass
``retry=None`` to turn them off. Above 8 MiB the client uploads in several requests
(resumable); the precondition goes with the request that opens the upload (the GCS
tests see it on the wire).

429, 5xx and connection failures that remain become RetryableStoreError; a 404 on a
write means the bucket does not exist.

Credentials: Application Default Credentials, as google-auth documents them
(``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth application-default login``, the
metadata server on Google Cloud); the project from ``GOOGLE_CLOUD_PROJECT``.
``STORAGE_EMULATOR_HOST`` (``http://127.0.0.1:4443``) sends every request to an emulator,
without credentials. Keyword options (``project``, ``credentials``, ``client_options``,
``retry``) take precedence.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from .errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    ObjectNotFound,
    RetryableStoreError,
    StoreError,
)
from .store import ABSENT, ANY, Capabilities, Expect, ObjectInfo, Store, StoredObject, check_key

__all__ = ["GCSStore"]

_POOL = 32  #: connections kept per host: the capability probes race 16 writers, the checker reads 8 at a time
_UNSET = object()
_BATCH = 100  #: the most calls one JSON API batch request may carry

_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()


class GCSStore(Store):
    capabilities = Capabilities(atomic_replace=True, create_only=True, compare_and_swap=True, durable=True)
    wire_terms = {"create_only": "GCS upload with ifGenerationMatch=0",
                  "compare_and_swap": "GCS upload with ifGenerationMatch=<generation> (ifGenerationMatch=0 for an "
                                      "absent object)",
                  "refused": "412 Precondition Failed (conditionNotMet)"}

    def __init__(self, url: str, **options: Any) -> None:
        try:
            import google.cloud.storage  # noqa: F401 - not "from google.cloud import": the module itself
            from google.api_core import exceptions  # noqa: F401 - fails here, not at the first request
        except ImportError as exc:
            raise InvalidInput(f"{url!r} needs google-cloud-storage: pip install 'pubsafe[gcs]'") from exc
        rest = url.split("://", 1)[1] if "://" in url else url
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise InvalidInput(f"{url!r} names no bucket: use gs://bucket/prefix")
        self.prefix = prefix.strip("/")
        retry = options.pop("retry", _UNSET)
        self._retry: dict[str, Any] = {} if retry is _UNSET else {"retry": retry}
        self._bucket = _client(url, options).bucket(bucket)
        self.root_uri = f"gs://{bucket}" + (f"/{self.prefix}" if self.prefix else "")

    def _blob(self, key: str) -> Any:
        check_key(key)
        return self._bucket.blob(f"{self.prefix}/{key}" if self.prefix else key)

    def _call(self, what: str, key: str, precondition: type[Exception] | None, action: Any) -> Any:
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - every backend error is translated below
            raise _translate(exc, what, key, precondition) from exc

    def get_object(self, key: str) -> StoredObject:
        blob = self._blob(key)
        data = self._call("get", key, None, lambda: blob.download_as_bytes(**self._retry))
        if blob.generation is None:
            raise StoreError(f"get {key}: the server sent no x-goog-generation with the object, so a "
                             "compare-and-swap could not name what was read")
        return StoredObject(data, str(blob.generation))

    def _upload(self, what: str, key: str, data: bytes, precondition: type[Exception] | None,
                generation: int | None) -> str:
        blob = self._blob(key)
        condition = {} if generation is None else {"if_generation_match": generation}
        self._call(what, key, precondition, lambda: blob.upload_from_string(
            bytes(data), content_type="application/octet-stream", **condition, **self._retry))
        return str(blob.generation)

    def put(self, key: str, data: bytes) -> str:
        return self._upload("put", key, data, AlreadyExists, 0)

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        if expect is ANY:
            return self._upload("replace", key, data, None, None)
        if expect is ABSENT:
            return self._upload("replace", key, data, Conflict, 0)
        if not (isinstance(expect, str) and expect.isdigit() and expect != "0"):
            raise Conflict(f"{key}: {expect!r} is no generation of a GCS object, so it cannot be the current one")
        return self._upload("replace", key, data, Conflict, int(expect))

    def list(self, prefix: str = "") -> list[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        client = self._bucket.client
        names = self._call("list", prefix, None, lambda: [
            b.name for b in client.list_blobs(self._bucket, prefix=base + prefix, **self._retry)])
        return sorted(name[len(base):] for name in names)

    def delete(self, key: str) -> None:
        blob = self._blob(key)
        self._call("delete", key, None, lambda: blob.delete(**self._retry))

    def stat(self, key: str) -> ObjectInfo:
        blob = self._blob(key)
        self._call("stat", key, None, lambda: blob.reload(**self._retry))
        return ObjectInfo(key, str(blob.generation), blob.size, blob.updated.timestamp())

    def clear(self) -> None:
        """Delete every object under this store's prefix (test and check clean-up).

        In batch requests of 100 deletes (the JSON API's limit); what a batch did not
        delete is deleted one by one. Raises if anything remains.
        """
        keys = self.list("")
        client = self._bucket.client
        for start in range(0, len(keys), _BATCH):
            try:
                with client.batch(raise_exception=False):
                    for key in keys[start:start + _BATCH]:
                        self._blob(key).delete()
            except Exception:  # noqa: BLE001 - a server without batches: the single deletes below
                pass
        for key in self.list(""):
            try:
                self.delete(key)
            except ObjectNotFound:
                pass
        remaining = self.list("")
        if remaining:
            raise StoreError(f"{len(remaining)} objects remain under {self.root_uri} after clean-up, "
                             f"e.g. {remaining[0]}")


def _client(url: str, options: dict[str, Any]) -> Any:
    """The shared client for these options and this environment (module docstring)."""
    from google.auth.exceptions import DefaultCredentialsError
    from google.cloud import storage
    from requests.adapters import HTTPAdapter

    shared = "credentials" not in options
    key = (os.environ.get("STORAGE_EMULATOR_HOST"), os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"),
           os.environ.get("GOOGLE_CLOUD_PROJECT"), tuple(sorted((k, repr(v)) for k, v in options.items())))
    with _clients_lock:
        if shared and key in _clients:
            return _clients[key]
        try:
            client = storage.Client(**options)
        except DefaultCredentialsError as exc:
            raise InvalidInput(
                f"{url!r}: no Google credentials found ({exc}); set GOOGLE_APPLICATION_CREDENTIALS to a key file, "
                "run `gcloud auth application-default login`, or set STORAGE_EMULATOR_HOST for an emulator") from exc
        # requests keeps 10 connections per host; more threads would open and drop one each time
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=_POOL)
        client._http.mount("https://", adapter)
        client._http.mount("http://", adapter)
        if shared:
            _clients[key] = client
        return client


def _translate(exc: Exception, what: str, key: str, precondition: type[Exception] | None) -> Exception:
    """Map a google-api-core / requests error onto ours, keeping the request's meaning."""
    import requests
    from google.api_core import exceptions as gcs

    if isinstance(exc, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)):
        return RetryableStoreError(f"{what} {key}: {exc}")
    if isinstance(exc, gcs.RetryError):  # the client's own retries ran out
        return RetryableStoreError(f"{what} {key}: {exc}")
    if not isinstance(exc, gcs.GoogleAPICallError):
        return StoreError(f"{what} {key}: {exc!r}")
    status = exc.code
    message = str(exc.message).splitlines()[0] if exc.message else ""
    if status == 412:
        if precondition is AlreadyExists:
            return AlreadyExists(key)
        if precondition is Conflict:
            return Conflict(f"{key}: the object changed (GCS 412 Precondition Failed)")
    if status == 404:
        if what in ("put", "replace") or "bucket does not exist" in message.lower():
            return StoreError(f"{what} {key}: the bucket does not exist; create it or fix the gs:// URL")
        return ObjectNotFound(key)
    if status in (408, 429) or (status is not None and 500 <= status < 600):
        return RetryableStoreError(f"{what} {key}: GCS {status} {message}")
    return StoreError(f"{what} {key}: GCS {status} {message}")
