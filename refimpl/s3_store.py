"""S3Store: S3-compatible object storage through s3fs, with every capability.

Each primitive maps onto one native S3 request:

- create-only ``put``:   PUT with ``If-None-Match: *`` (412 -> AlreadyExists);
- ``replace``:           PUT (a PUT is atomic: readers see the old or the new object);
- compare-and-swap:      PUT with ``If-Match: <etag>`` or ``If-None-Match: *``
                         (412, or 404 for a vanished object -> Conflict);
- ``get`` returns the ETag of the very bytes it read; ``list`` pages through
  ListObjectsV2; ``delete`` checks existence first (S3 deletes silently).

409 ConditionalRequestConflict, 503 and SlowDown become RetryableStoreError. Every
request goes to S3 itself (``_call_s3``), never through s3fs's file-level methods,
and s3fs's listing cache is off: it makes ``exists`` and ``info`` lie after another
writer's change. s3fs's *instance* cache stays on: stores with the same endpoint and
options share one client and its connection pool (creating a client costs ~200 ms,
more than twenty requests on loopback).
Endpoint and credentials come from the standard AWS environment variables
(``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` for an S3-compatible server) or
from keyword options passed to s3fs.
"""

from __future__ import annotations

import os
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

__all__ = ["S3Store"]


class S3Store(Store):
    capabilities = Capabilities(atomic_replace=True, create_only=True, compare_and_swap=True, durable=True)
    wire_terms = {"create_only": "S3 PUT with If-None-Match: *",
                  "compare_and_swap": "S3 PUT with If-Match: <etag> (If-None-Match: * for an absent object)",
                  "refused": "412 Precondition Failed"}

    def __init__(self, url: str, **storage_options: Any) -> None:
        try:
            import s3fs
            from fsspec.asyn import sync
        except ImportError as exc:
            raise InvalidInput(f"{url!r} needs s3fs: pip install 'pubsafe[s3]'") from exc
        self._sync = sync
        rest = url.split("://", 1)[1] if "://" in url else url
        self.bucket, _, prefix = rest.partition("/")
        if not self.bucket:
            raise InvalidInput(f"{url!r} names no bucket: use s3://bucket/prefix")
        self.prefix = prefix.strip("/")
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            storage_options.setdefault("endpoint_url", endpoint)
        storage_options.setdefault("use_listings_cache", False)
        self.fs = s3fs.S3FileSystem(**storage_options)
        self.root_uri = f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, method: str, key: str, precondition: type[Exception] | None = None, /, **kwargs: Any) -> Any:
        if method not in ("list_objects_v2", "delete_objects"):
            check_key(key)
        try:
            return self._sync(self.fs.loop, self.fs._call_s3, method, Bucket=self.bucket, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every backend error is translated below
            raise _translate(exc, method, key, precondition) from exc

    def get_object(self, key: str) -> StoredObject:
        path = self._key(key)

        async def fetch() -> tuple[bytes, str]:
            response = await self.fs._call_s3("get_object", Bucket=self.bucket, Key=path)
            async with response["Body"] as body:
                return await body.read(), response["ETag"]

        try:
            data, etag = self._sync(self.fs.loop, fetch)
        except Exception as exc:  # noqa: BLE001
            raise _translate(exc, "get_object", key, None) from exc
        return StoredObject(data, etag)

    def put(self, key: str, data: bytes) -> str:
        response = self._call("put_object", key, AlreadyExists, Key=self._key(key), Body=bytes(data), IfNoneMatch="*")
        return str(response["ETag"])

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        condition: dict[str, str] = {}
        if expect is ABSENT:
            condition = {"IfNoneMatch": "*"}
        elif isinstance(expect, str):
            condition = {"IfMatch": expect}
        response = self._call("put_object", key, Conflict if condition else None,
                              Key=self._key(key), Body=bytes(data), **condition)
        return str(response["ETag"])

    def list(self, prefix: str = "") -> list[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        keys: list[str] = []
        token: dict[str, str] = {}
        while True:
            page = self._call("list_objects_v2", prefix, Prefix=base + prefix, **token)
            keys += [item["Key"][len(base):] for item in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return sorted(keys)
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def delete(self, key: str) -> None:
        self.stat(key)  # S3 deletes a missing key silently; the contract says not found
        self._call("delete_object", key, Key=self._key(key))

    def clear(self) -> None:
        """Delete every object under this store's prefix (test clean-up).

        In batches of 1,000 (DeleteObjects); a server that refuses batches (some answer
        501 NotImplemented) gets single deletes. Keys it still holds afterwards raise.
        """
        keys = self.list("")
        for start in range(0, len(keys), 1000):
            batch = {self._key(k): k for k in keys[start:start + 1000]}
            try:
                answer = self._call("delete_objects", "",
                                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
            except StoreError:
                answer = {"Errors": [{"Key": k} for k in batch]}
            for failed in answer.get("Errors", []):
                key = batch.get(failed["Key"], "")
                if key:
                    self._call("delete_object", key, Key=failed["Key"])
        remaining = self.list("")
        if remaining:
            raise StoreError(f"{len(remaining)} objects remain under {self.root_uri} after clean-up, "
                             f"e.g. {remaining[0]}")

    def stat(self, key: str) -> ObjectInfo:
        head = self._call("head_object", key, Key=self._key(key))
        return ObjectInfo(key, head["ETag"], head["ContentLength"], head["LastModified"].timestamp())


def _translate(exc: Exception, method: str, key: str, precondition: type[Exception] | None) -> Exception:
    """Map an s3fs/botocore error onto ours, keeping the request's meaning."""
    from botocore.exceptions import ClientError

    client = exc if isinstance(exc, ClientError) else exc.__cause__
    if not isinstance(client, ClientError):
        if isinstance(exc, FileNotFoundError):
            return ObjectNotFound(key)
        if isinstance(exc, (TimeoutError, ConnectionError, OSError)):
            return RetryableStoreError(f"{method} {key}: {exc}")
        return StoreError(f"{method} {key}: {exc!r}")
    error = client.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = client.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status == 412 or code == "PreconditionFailed":
        if precondition is AlreadyExists:
            return AlreadyExists(key)
        return Conflict(f"{key}: the object changed (S3 412 {code})")
    if code == "NoSuchBucket":
        return StoreError(f"{method} {key}: the bucket does not exist; create it or fix the s3:// URL")
    if status == 409 and code == "ConditionalRequestConflict":
        return RetryableStoreError(f"{method} {key}: concurrent conditional write in progress (409); retry")
    if status == 404 or code in ("NoSuchKey", "404", "NotFound"):
        if precondition is Conflict:
            return Conflict(f"{key}: expected an object with a given etag, found none")
        return ObjectNotFound(key)
    if status in (500, 502, 503, 504) or code in ("SlowDown", "ServiceUnavailable", "InternalError"):
        return RetryableStoreError(f"{method} {key}: S3 {status} {code}")
    return StoreError(f"{method} {key}: S3 {status} {code}: {error.get('Message', '')}")
