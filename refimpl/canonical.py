"""Canonical JSON (RFC 8785) and content versions.

Numbers are IEEE doubles in RFC 8785: an integer beyond 2**53 is accepted only if it
names a double without loss, and refused (not silently rounded) otherwise.

A version is the hex sha256 of a payload's canonical bytes, so key order, whitespace
and number spelling (``1.0`` vs ``1``) never change it, and any change of value does.
The ``rfc8785`` package is the reference implementation; this module adds an error
that names *where* inside the payload the problem is, and a fast path over Python's C
JSON encoder (tested to agree with rfc8785) that makes the common case cost little
more than ``json.dumps``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

import rfc8785

from .errors import InvalidPayload

__all__ = ["canonical_bytes", "version_of_bytes", "canonicalize", "MAX_SAFE_INTEGER"]

#: JSON numbers are IEEE doubles in RFC 8785; larger integers would silently round.
MAX_SAFE_INTEGER = 2**53 - 1


# The C json encoder's compact, key-sorted output differs from RFC 8785 only in
# number spelling (Python "1.0", "1e-05"; JCS "1", "1e-5"). The probes below run on a
# copy of its UTF-8 bytes folded to a few classes (same length, so positions carry
# over; multi-byte characters never contain ASCII bytes): every digit and sign becomes
# "0", every delimiter ",". Each probe is one scan of the whole text, so there are as
# few as the fold allows.
_FOLD = bytes.maketrans(b"123456789-+:[]}", b"00000000000,,,,")
# A dict whose keys were not all strings still sorts only if none of them is a string
# (Python cannot order 1 and "a"), so such a dict *opens* with a converted key.
_NON_STRING_KEY_PROBES = (b'{"0', b'{"true"', b'{"false"', b'{"null"')
_BIG_INT_PROBE = b"," + b"0" * 16  # a 16+ digit integer: near or beyond 2**53
_INTEGRAL_PROBE = b".0,"  # "1.0"
_RESPELL_PROBES = (_INTEGRAL_PROBE, b"0e0")  # and exponent forms ("1e-05")
_ZERO = ord("0")
_ASTRAL = re.compile(b"[\xf0-\xf4]")  # lead byte of a 4-byte character: JCS sorts keys by UTF-16
_NUMBER_BYTES = frozenset(b"0.e")
_MIN_RESPELL_BUDGET = 64


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def compact_json(*, sort_keys: bool) -> Callable[[Any], str]:
    """A compact, non-ASCII-preserving JSON encoder refusing NaN, built once.

    ``json.dumps`` with options builds a new C encoder on every call, which costs more
    than encoding a small document. Cycles raise RecursionError.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the documented route
        return json.JSONEncoder(sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
    encoder = make(None, _not_json, json.encoder.encode_basestring, None, ":", ",", sort_keys, False, False)
    return lambda value: "".join(encoder(value, 0))


sorted_compact_json = compact_json(sort_keys=True)


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
    if type(payload) is dict or type(payload) is list:
        try:
            data = sorted_compact_json(payload).encode("utf-8")
        except (TypeError, ValueError, RecursionError):
            data = None  # not JSON, or a lone surrogate: rfc8785 says which and where
        canonical = None if data is None else _as_canonical(data)
        if canonical is not None:
            return canonical
    return _slow_canonical_bytes(payload)


def _as_canonical(data: bytes) -> bytes | None:
    """``data`` in RFC 8785 form, or None when it cannot be vouched for cheaply."""
    if not data.isascii() and _ASTRAL.search(data):
        return None
    folded = data.translate(_FOLD)
    if _BIG_INT_PROBE in folded or any(p in folded for p in _NON_STRING_KEY_PROBES):
        return None
    hits: list[int] = []
    # Past about one hit per 128 bytes the rfc8785 path is cheaper (measured).
    most = max(_MIN_RESPELL_BUDGET, len(data) // 128)
    for probe in _RESPELL_PROBES:
        at = folded.find(probe)
        while at != -1:
            if probe is not _INTEGRAL_PROBE or data[at + 1] == _ZERO:  # "1.5," is fine as is
                hits.append(at)
                if len(hits) > most:
                    return None
            at = folded.find(probe, at + 1)
    return _respell(data, folded, sorted(hits)) if hits else data


def _respell(data: bytes, folded: bytes, hits: list[int]) -> bytes:
    """Re-spell the number tokens at ``hits`` the ECMAScript way, outside strings."""
    # Real quotes only: hide escaped backslashes and escaped quotes, same length.
    unescaped = data.replace(b"\\\\", b"__").replace(b'\\"', b"__") if b"\\" in data else data
    pieces, done, counted, quotes = [], 0, 0, 0
    for at in hits:
        start, end = at, at
        while start > 0 and folded[start - 1] in _NUMBER_BYTES:
            start -= 1
        while end < len(folded) and folded[end] in _NUMBER_BYTES:
            end += 1
        if start < done or start < counted:
            continue  # the same token, hit twice
        token = data[start:end]
        if b"e" not in token and not token.endswith(b".0"):
            continue  # "12.5": Python and ECMAScript spell it alike
        quotes += unescaped.count(b'"', counted, start)
        counted = start
        if quotes % 2:  # inside a string: text, not a number
            continue
        pieces += [data[done:start], rfc8785.dumps(float(token))]
        done = end
    return b"".join(pieces) + data[done:]


def _slow_canonical_bytes(payload: Any) -> bytes:
    try:
        try:
            return rfc8785.dumps(payload)
        except rfc8785.IntegerDomainError:
            # rfc8785 refuses every int beyond 2**53, but one a double holds exactly (such
            # as 2**60, or the canonical spelling of the float 1e20) has a canonical form.
            return rfc8785.dumps(_exact_ints_as_floats(payload, "$"))
    except (rfc8785.CanonicalizationError, RecursionError, TypeError) as exc:
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
        if as_float != value and (math.isnan(as_float) or rfc8785.dumps(as_float) != str(value).encode()):
            raise InvalidPayload(
                f"{path}: integer {value} has no exact JSON (IEEE double) form and would be "
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


def _find_problem(value: Any, path: str) -> None:
    """Raise InvalidPayload for the first non-JSON value, depth first."""
    if value is None or isinstance(value, (bool, str)):
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
