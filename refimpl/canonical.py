"""Canonical JSON (RFC 8785) and content versions.

Numbers are IEEE doubles in RFC 8785: an integer beyond 2**53 is accepted only if it
names a double without loss, and refused (not silently rounded) otherwise.

A version is the hex sha256 of a payload's canonical bytes, so key order, whitespace
and number spelling (``1.0`` vs ``1``) never change it, and any change of value does.
The ``rfc8785`` package is the reference implementation; this module adds an error
that names *where* inside the payload the problem is. The common case takes a private
fast path (``_canonical_fast``, tested to agree with rfc8785 byte for byte).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import rfc8785

from ._canonical_fast import fast_canonical_bytes
from .errors import InvalidPayload

__all__ = ["canonical_bytes", "version_of_bytes", "canonicalize", "MAX_SAFE_INTEGER"]

#: JSON numbers are IEEE doubles in RFC 8785; larger integers would silently round.
MAX_SAFE_INTEGER = 2**53 - 1


def canonical_bytes(payload: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``payload``.

    Raises InvalidPayload naming the offending path (``$.a[2]``) for NaN, Infinity,
    non-string keys, integers beyond 2**53, bytes, sets and other non-JSON objects.

    Fast path: the C json encoder's output, with the few floats it spells differently
    re-spelled in place. Anything it cannot vouch for (a key that may not have been a
    string, an astral character, a 16-digit integer, many floats to re-spell) takes
    the rfc8785 path; the test suite checks both paths agree on whatever Hypothesis
    can draw.
    """
    fast = fast_canonical_bytes(payload)
    return fast if fast is not None else _reference_canonical_bytes(payload)


def _reference_canonical_bytes(payload: Any) -> bytes:
    try:
        try:
            return rfc8785.dumps(payload)
        except (rfc8785.IntegerDomainError, ValueError):  # ValueError: an int too long to print
            # rfc8785 refuses every int beyond 2**53, but one a double holds exactly (such
            # as 2**60, or the canonical spelling of the float 1e20) has a canonical form.
            return rfc8785.dumps(_exact_ints_as_floats(payload, "$"))
    except (rfc8785.CanonicalizationError, RecursionError, TypeError, UnicodeError) as exc:
        # Only pay for the walk when something is wrong.
        try:
            _find_problem(payload, "$")
        except RecursionError:
            raise InvalidPayload("payload is nested too deeply to canonicalise") from exc
        raise InvalidPayload(f"payload cannot be canonicalised: {exc}") from exc


def version_of_bytes(data: bytes) -> str:
    """The version of already-canonical bytes: their hex sha256."""
    return hashlib.sha256(data).hexdigest()


def canonicalize(payload: Any) -> tuple[bytes, str]:
    """Canonical bytes and their version, in one call."""
    data = canonical_bytes(payload)
    return data, version_of_bytes(data)


def _exact_ints_as_floats(value: Any, path: str) -> Any:
    """A copy with big exactly-representable ints as floats; refuse inexact ones."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        try:
            as_float = float(value)
        except OverflowError:
            as_float = math.nan
        # Exact, or exactly the shortest spelling of that double (which is what a
        # canonical form re-parsed gives back): no information is lost either way.
        if math.isnan(as_float) or as_float != value and rfc8785.dumps(as_float) != str(value).encode():
            shown = str(value) if value.bit_length() < 1024 else f"of about {int(value.bit_length() * 0.30103)} digits"
            raise InvalidPayload(
                f"{path}: integer {shown} has no exact JSON (IEEE double) form and would be "
                "rounded; encode it as a string",
                path,
            )
        return as_float
    if isinstance(value, dict):
        return {k: _exact_ints_as_floats(v, _child(path, k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_exact_ints_as_floats(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _child(path: str, key: object) -> str:
    return f"{path}.{key}" if isinstance(key, str) and key.isidentifier() else f"{path}[{key!r}]"


def _refuse_lone_surrogates(text: str, path: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidPayload(
            f"{path}: {what} holds a lone surrogate ({text[exc.start]!r} at {exc.start}), which is not Unicode text "
            "and has no UTF-8 form; fix what produced it (often a string cut in the middle of a character pair)",
            path,
        ) from None


def _find_problem(value: Any, path: str) -> None:
    """Raise InvalidPayload for the first non-JSON value, depth first."""
    if isinstance(value, str):
        _refuse_lone_surrogates(value, path, "a string")
        return
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        return  # big ints are handled by _exact_ints_as_floats
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidPayload(
                f"{path}: {value!r} is not representable in JSON; use null or a string",
                path,
            )
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidPayload(
                    f"{path}: object key {key!r} is a {type(key).__name__}; JSON object "
                    "keys must be strings",
                    path,
                )
            _refuse_lone_surrogates(key, path, "an object key")
            _find_problem(item, _child(path, key))
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _find_problem(item, f"{path}[{index}]")
        return
    raise InvalidPayload(
        f"{path}: a {type(value).__name__} is not a JSON value; convert it to a list, "
        "object, string, number, boolean or null",
        path,
    )
