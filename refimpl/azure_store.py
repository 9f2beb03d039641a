"""AzureStore: Azure Blob Storage through the official client, with every capability.

Each primitive maps onto one native Blob request:

- create-only ``put``:   Put Blob with ``If-None-Match: *`` (409 BlobAlreadyExists -> AlreadyExists);
- ``replace``:           Put Blob (a block blob is replaced whole: readers see the old or the new one);
- compare-and-swap:      Put Blob with ``If-Match: <ETag>`` or ``If-None-Match: *``
                         (412 ConditionNotMet or 409 BlobAlreadyExists -> Conflict);
- ``get`` returns the ETag of the very bytes it read (Get Blob answers both at once);
  ``list`` pages through List Blobs; ``delete`` is Delete Blob (404 -> not found).

Why ``azure-storage-blob`` and not adlfs (fsspec): the conditions are keyword arguments
of the official client (``overwrite=False``; ``etag=`` with ``MatchConditions``), its
errors carry the status and the service's error code, and it is synchronous; adlfs
adds an event loop, a file layer and listing caches that a store would have to bypass,
and three more packages (azure-identity, azure-datalake-store, aiohttp). The client
keeps no cache: every call is a request. One client per account is shared by every
store of a process (clients are thread-safe; making one is not free on a real account).

408, 429, 5xx (ServerBusy, OperationTimedOut, InternalError) and connection failures
become RetryableStoreError. Names: Azure drops a trailing dot from a path segment
(``acme./x`` and ``acme/x`` are one blob), so such keys are refused as aliases.

Account and credentials, in the order the Azure tools use them:
``AZURE_STORAGE_CONNECTION_STRING`` (Azurite's too: its ``BlobEndpoint`` names the
emulator); else the account ``AZURE_STORAGE_ACCOUNT_NAME`` (or ``AZURE_STORAGE_ACCOUNT``,
the az CLI's name) with ``AZURE_STORAGE_ACCOUNT_KEY`` (``AZURE_STORAGE_KEY``), or
``AZURE_STORAGE_SAS_TOKEN``, or else Microsoft Entra ID through azure-identity's
``DefaultAzureCredential`` (service principal variables, managed identity, ``az
login``). Keyword options (``connection_string``, ``account_name``, ``account_url``,
``credential``, and any client option such as ``retry_total``) take precedence.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from .errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    InvalidKey,
    ObjectNotFound,
    RetryableStoreError,
    StoreError,
)
from .store import ABSENT, ANY, Capabilities, Expect, ObjectInfo, Store, StoredObject, check_key

__all__ = ["AzureStore"]

_RETRYABLE_CODES = frozenset({"ServerBusy", "OperationTimedOut", "InternalError", "ServiceUnavailable"})
_BATCH = 256  #: the most deletes one Blob Batch request may carry

_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()


class AzureStore(Store):
    capabilities = Capabilities(atomic_replace=True, create_only=True, compare_and_swap=True, durable=True)
    wire_terms = {"create_only": "Azure Put Blob with If-None-Match: *",
                  "compare_and_swap": "Azure Put Blob with If-Match: <ETag> (If-None-Match: * for an absent blob)",
                  "refused": "409 BlobAlreadyExists (If-None-Match) or 412 ConditionNotMet (If-Match)"}

    def __init__(self, url: str, **options: Any) -> None:
        try:
            from azure.core import MatchConditions
        except ImportError as exc:
            raise InvalidInput(f"{url!r} needs azure-storage-blob: pip install 'pubsafe[azure]'") from exc
        self._if_not_modified = MatchConditions.IfNotModified
        rest = url.split("://", 1)[1] if "://" in url else url
        self.container, _, prefix = rest.partition("/")
        if not self.container or "@" in self.container:
            raise InvalidInput(f"{url!r} names no container: use az://container/prefix (the account comes from "
                               "AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_NAME)")
        self.prefix = prefix.strip("/")
        self._client = _service_client(url, options).get_container_client(self.container)
        self.root_uri = f"az://{self.container}" + (f"/{self.prefix}" if self.prefix else "")

    def _name(self, key: str) -> str:
        check_key(key)
        if any(segment.endswith(".") for segment in key.split("/")):
            raise InvalidKey(f"{key!r} cannot be stored on Azure Blob Storage: the service drops a trailing dot "
                             "from a name's segments, so it would be the same blob as the name without it")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, key: str, precondition: type[Exception] | None, action: Any) -> Any:
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - every backend error is translated below
            raise _translate(exc, what, key, precondition) from exc

    def get_object(self, key: str) -> StoredObject:
        blob = self._client.get_blob_client(self._name(key))

        def fetch() -> tuple[bytes, str]:
            download = blob.download_blob(max_concurrency=1)
            return download.readall(), download.properties.etag

        data, etag = self._call("get", key, None, fetch)
        return StoredObject(data, etag)

    def put(self, key: str, data: bytes) -> str:
        blob = self._client.get_blob_client(self._name(key))
        answer = self._call("put", key, AlreadyExists, lambda: blob.upload_blob(bytes(data), overwrite=False))
        return str(answer["etag"])

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        blob = self._client.get_blob_client(self._name(key))
        condition: dict[str, Any] = {"overwrite": True}
        if expect is ABSENT:
            condition = {"overwrite": False}
        elif expect is not ANY:
            condition = {"overwrite": True, "etag": expect, "match_condition": self._if_not_modified}
        precondition = None if expect is ANY else Conflict
        answer = self._call("replace", key, precondition, lambda: blob.upload_blob(bytes(data), **condition))
        return str(answer["etag"])

    def list(self, prefix: str = "") -> list[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        names = self._call("list", prefix, None,
                           # names only: list_blobs deserialises every blob's properties, ~1 ms each
                           lambda: list(self._client.list_blob_names(name_starts_with=base + prefix)))
        return sorted(name[len(base):] for name in names)

    def delete(self, key: str) -> None:
        blob = self._client.get_blob_client(self._name(key))
        self._call("delete", key, None, blob.delete_blob)

    def stat(self, key: str) -> ObjectInfo:
        blob = self._client.get_blob_client(self._name(key))
        props = self._call("stat", key, None, blob.get_blob_properties)
        return ObjectInfo(key, props.etag, props.size, props.last_modified.timestamp())

    def clear(self) -> None:
        """Delete every blob under this store's prefix (test and check clean-up).

        In Blob Batch requests of 256 deletes; what a batch could not delete (a server
        without batches answers it as a whole) is deleted one by one. Raises if
        anything remains.
        """
        base = f"{self.prefix}/" if self.prefix else ""
        names = [base + key for key in self.list("")]
        for start in range(0, len(names), _BATCH):
            batch = names[start:start + _BATCH]
            try:
                # retry_total=0: a server that refuses batches is not asked again, after back-offs of 15 s and more
                answers = self._client.delete_blobs(*batch, raise_on_any_failure=False, retry_total=0)
                failed = [name for name, answer in zip(batch, answers, strict=True)
                          if answer.status_code not in (202, 404)]
            except Exception:  # noqa: BLE001 - the batch as a whole was refused: fall back to single deletes
                failed = batch
            for name in failed:
                try:
                    self.delete(name[len(base):])
                except ObjectNotFound:
                    pass
        remaining = self.list("")
        if remaining:
            raise StoreError(f"{len(remaining)} blobs remain under {self.root_uri} after clean-up, e.g. {remaining[0]}")


def _service_client(url: str, options: dict[str, Any]) -> Any:
    """The account's BlobServiceClient, from the options or the environment (module docstring).

    Clients made from the environment or from strings are shared; a ``credential``
    object passed in gets a client of its own.
    """
    from azure.storage.blob import BlobServiceClient

    options = dict(options)
    connection_string = options.pop("connection_string", None)
    account_url = options.pop("account_url", None)
    account = options.pop("account_name", None)
    credential = options.pop("credential", None)
    if not (account_url or account or connection_string):
        connection_string = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    if not (account_url or connection_string):
        account = account or os.environ.get("AZURE_STORAGE_ACCOUNT_NAME") or os.environ.get("AZURE_STORAGE_ACCOUNT")
        if not account:
            raise InvalidInput(f"{url!r}: no Azure storage account given: set AZURE_STORAGE_CONNECTION_STRING, or "
                               "AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_TOKEN "
                               "or an Entra ID login (pip install azure-identity)")
        account_url = f"https://{account}.blob.core.windows.net"
    if connection_string is None and credential is None:
        credential = (os.environ.get("AZURE_STORAGE_ACCOUNT_KEY") or os.environ.get("AZURE_STORAGE_KEY")
                      or os.environ.get("AZURE_STORAGE_SAS_TOKEN"))
        entra_id = credential is None
    else:
        entra_id = False
    shared = credential is None or isinstance(credential, str)
    settings = tuple(sorted((k, repr(v)) for k, v in options.items()))
    key = (connection_string, account_url, credential, entra_id, settings)
    with _clients_lock:
        if shared and key in _clients:
            return _clients[key]
        if entra_id:
            credential = _entra_id_credential(url)
        try:
            if connection_string:
                client = BlobServiceClient.from_connection_string(connection_string, credential=credential, **options)
            else:
                client = BlobServiceClient(account_url, credential=credential, **options)
        except ValueError as exc:  # a malformed connection string or account URL
            raise InvalidInput(f"{url!r}: cannot make an Azure Blob client: {exc}") from exc
        if shared:
            _clients[key] = client
        return client


def _entra_id_credential(url: str) -> Any:
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise InvalidInput(f"{url!r}: no account key or SAS token is set (AZURE_STORAGE_ACCOUNT_KEY, "
                           "AZURE_STORAGE_SAS_TOKEN), and an Entra ID login needs azure-identity: "
                           "pip install 'pubsafe[azure]'") from exc
    return DefaultAzureCredential()


def _translate(exc: Exception, what: str, key: str, precondition: type[Exception] | None) -> Exception:
    """Map an azure-core error onto ours, keeping the request's meaning."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, (ServiceRequestError, ServiceResponseError, ConnectionError, TimeoutError)):
        return RetryableStoreError(f"{what} {key}: {exc}")
    if not isinstance(exc, HttpResponseError):
        return StoreError(f"{what} {key}: {exc!r}")
    status = exc.status_code
    error_code = getattr(exc, "error_code", None)  # set by the storage client, not by azure-core's class
    code = str(getattr(error_code, "value", error_code) or "")
    if status == 412 and what == "get":  # a blob read in several ranges changed in between
        return RetryableStoreError(f"get {key}: the blob changed while it was read (412 {code}); retry")
    if status == 412 or (status == 409 and code == "BlobAlreadyExists"):
        if precondition is AlreadyExists:
            return AlreadyExists(key)
        if precondition is Conflict:
            return Conflict(f"{key}: the blob changed (Azure {status} {code})")
    if code == "ContainerNotFound":
        return StoreError(f"{what} {key}: the container does not exist; create it or fix the az:// URL")
    if status == 404:
        return ObjectNotFound(key)
    if status in (408, 429, 500, 502, 503, 504) or code in _RETRYABLE_CODES:
        return RetryableStoreError(f"{what} {key}: Azure {status} {code}")
    message = (exc.message or "").splitlines()[0] if exc.message else ""
    return StoreError(f"{what} {key}: Azure {status} {code}: {message}")
