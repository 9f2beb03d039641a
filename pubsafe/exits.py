"""Exit codes and stable error codes: what every failing command tells a script.

    0    ok
    1    refused, or an audit found errors (nothing was written by a refusal)
    2    usage or input error (nothing was written)
    3    the store is unavailable or failed (a retry of the same command is safe)
    4    gc finished in part: it deleted what it could prove safe and left the keys or
         slots it lists for a person; fix those and run gc again
    130  interrupted (Ctrl-C); nothing half-done is visible, re-running is safe

With ``--json`` an error is one JSON object on stdout, ``{"error": CODE, "message":
..., "exit": N}``; CODE is one of ``ERROR_CODES``. The human sentence also goes to
stderr.
"""

from __future__ import annotations

import json
import sys

__all__ = ["EXIT_OK", "EXIT_REFUSED", "EXIT_USAGE", "EXIT_STORE", "EXIT_PARTIAL", "EXIT_INTERRUPTED", "ERROR_CODES",
           "classify", "report"]

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_STORE, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


def _table() -> list[tuple[type[BaseException], str, int]]:
    """(exception class, error code, exit code), most specific first (imported late: a
    command line that fails to parse should not pay for loading the engine)."""
    from pubsafe.refimpl.errors import (
        CollectionInProgress,
        CollectionRefused,
        IntegrityError,
        InvalidInput,
        PublishConflict,
        PubsafeError,
        Refused,
        RetryableStoreError,
        RollbackRefused,
        StoreError,
        SweepInProgress,
        UnsafeStoreState,
    )

    return [
        (InvalidInput, "invalid-input", EXIT_USAGE),
        (SweepInProgress, "sweep-in-progress", EXIT_REFUSED),
        (CollectionRefused, "gc-refused", EXIT_REFUSED),
        (CollectionInProgress, "collection-in-progress", EXIT_REFUSED),
        (RollbackRefused, "rollback-refused", EXIT_REFUSED),
        (PublishConflict, "publish-conflict", EXIT_REFUSED),
        (Refused, "refused", EXIT_REFUSED),
        (IntegrityError, "integrity", EXIT_REFUSED),
        (UnsafeStoreState, "unsafe-store-state", EXIT_REFUSED),
        (RetryableStoreError, "store-unavailable", EXIT_STORE),
        (StoreError, "store-error", EXIT_STORE),
        (PubsafeError, "error", EXIT_REFUSED),
        (ValueError, "invalid-input", EXIT_USAGE),
        (KeyboardInterrupt, "interrupted", EXIT_INTERRUPTED),
    ]


#: Every code an error object may carry (a test keeps it in step with ``_table``).
ERROR_CODES = sorted({
    "invalid-input", "sweep-in-progress", "gc-refused", "collection-in-progress", "rollback-refused",
    "publish-conflict", "refused", "integrity", "unsafe-store-state", "store-unavailable", "store-error", "error",
    "interrupted", "usage",
})


def classify(error: BaseException) -> tuple[str, int]:
    """The stable error code and the exit code of ``error``."""
    for kind, code, exit_code in _table():
        if isinstance(error, kind):
            return code, exit_code
    raise error


def report(code: str, exit_code: int, message: str, *, as_json: bool) -> int:
    """Say what went wrong (stderr, and stdout JSON with ``as_json``); return the exit code."""
    prefix = {EXIT_USAGE: "error", EXIT_STORE: "store error", EXIT_INTERRUPTED: "interrupted"}.get(exit_code, "refused")
    print(f"pubsafe: {prefix}: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": code, "message": message, "exit": exit_code}))
    return exit_code
