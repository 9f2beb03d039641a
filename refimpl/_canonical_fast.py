"""The fast path to RFC 8785 canonical bytes: Python's C JSON encoder, re-spelled.

What it must equal: ``rfc8785.dumps`` of the same payload, byte for byte, whenever it
returns bytes at all (``None`` means "cannot vouch for this one cheaply; take the
reference path"). tests/refimpl/test_canonical.py checks the two agree on whatever
Hypothesis can draw, including dicts with non-string keys. Private to the engine:
the checker never uses it (it hashes with ``rfc8785`` itself).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import rfc8785

__all__ = ["compact_json", "sorted_compact_json", "fast_canonical_bytes"]

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


def fast_canonical_bytes(payload: Any) -> bytes | None:
    """RFC 8785 bytes of a dict or list payload, or None to take the reference path."""
    if type(payload) is not dict and type(payload) is not list:
        return None
    try:
        data = sorted_compact_json(payload).encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        return None  # not JSON, or a lone surrogate: the reference path says which and where
    return _as_canonical(data)


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


def canonical_strings_document(body: dict[str, Any]) -> bytes:
    """RFC 8785 bytes of a document holding only strings, dicts and small integers.

    For such a document in ASCII, Python's compact sorted JSON *is* RFC 8785 (same
    escapes, code-point key order, no floats to re-spell), so the number probes are
    skipped; anything else takes ``rfc8785`` itself. Used for manifest versions.
    """
    text = sorted_compact_json(body)
    return text.encode() if text.isascii() else rfc8785.dumps(body)
