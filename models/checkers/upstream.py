"""recsys-pipelines' version rule, as the checker computes it: by re-encoding like Go.

Independent of the engine's token-preserving implementation (``refimpl.dialects``):
the blob is decoded (member order kept), the top-level ``build`` member blanked, and
the value encoded again the way Go's ``encoding/json`` would (shared/upstream/FORMAT.md):
strings with Go's escapes (``<`` ``>`` ``&`` U+2028 U+2029 as ``\\u``, other controls
as lowercase ``\\u00xx``, ``\\b \\f \\n \\r \\t`` short), floats in the shortest
round-trip digits with an exponent only below 1e-6 or from 1e21 on, ``-0`` for
negative zero. ``go_payload_version`` hashes a generic payload as upstream's hash
primitive does (every number a float64, map keys sorted by UTF-8 bytes, the last of
duplicate keys winning).
"""

from __future__ import annotations

import decimal
import hashlib
import json
import math
from typing import Any

__all__ = ["go_blob_version", "go_payload_version", "go_encode"]


class _Ordered(list[tuple[str, Any]]):
    """A JSON object as (key, value) pairs, in stored order."""


class _Float(float):
    """A number that was written with a fraction or exponent (a Go float64)."""


def go_blob_version(data: bytes) -> str | None:
    """The upstream version of a stored blob, or None if it is not a JSON document."""
    try:
        value = json.loads(data, object_pairs_hook=_Ordered, parse_float=_Float, parse_int=_int,
                           parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, _Ordered):
        value = _Ordered((k, _Ordered([("built_at", ""), ("version", "")]) if k == "build" else v) for k, v in value)
    return hashlib.sha256(go_encode(value).encode()).hexdigest()


def go_payload_version(text: str) -> str:
    """Upstream's hash of a generic payload: decoded into ``any``, then marshalled."""
    value = json.loads(text, object_pairs_hook=_last_wins_sorted, parse_int=float, parse_float=float)
    return hashlib.sha256(go_encode(value).encode()).hexdigest()


def _int(token: str) -> int | float:
    """Integers stay exact; "-0" is Go's spelling of a float64 negative zero, not 0."""
    return _Float(-0.0) if token == "-0" else int(token)


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _last_wins_sorted(pairs: list[tuple[str, Any]]) -> _Ordered:
    merged = dict(pairs)  # the last of duplicate keys wins, as in Go
    return _Ordered(sorted(merged.items(), key=lambda kv: _go_string(kv[0]).encode("utf-8")))


def go_encode(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, _Ordered):
        return "{" + ",".join(f"{_quote(k)}:{go_encode(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(go_encode(v) for v in value) + "]"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"not a JSON value: {value!r}")


def _go_float(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"Go cannot encode {value}")
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        text = repr(value)  # shortest digits, exponent with a sign and two or more digits
        mantissa, _, exponent = text.partition("e")
        sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
        return f"{mantissa}e{sign}{digits.zfill(2) if sign == '+' else digits}"
    text = format(decimal.Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _quote(text: str) -> str:
    out = []
    for ch in _go_string(text):
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _go_string(text: str) -> str:
    """A lone surrogate becomes U+FFFD, as Go does with invalid UTF-8."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace") if any(
        0xD800 <= ord(ch) <= 0xDFFF for ch in text) else text
