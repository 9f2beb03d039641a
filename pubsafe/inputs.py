"""What the operator commands read from the command line: stores, artifact files, durations.

Each refusal is an InvalidInput whose message says what was wrong and what to write
instead; nothing is opened for writing until everything has been read.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from pubsafe.refimpl import open_store
from pubsafe.refimpl.errors import InvalidInput
from pubsafe.refimpl.store import Store

__all__ = ["MAX_DEPTH", "MAX_DURATION", "open_cli_store", "read_artifacts", "parse_json", "duration",
           "check_report_directory"]

#: Artifacts nested deeper than this are refused (no real payload needs it, and
#: deeper ones exhaust recursion in JSON libraries, readers included).
MAX_DEPTH = 256


def open_cli_store(spec: str | None, *, create: bool, blob_store: str | None = None,
                   root_map: Sequence[str] = ()) -> Store:
    """The store a command-line ``--store`` names (or ``$PUBSAFE_STORE``), with its
    separate blob root and root map if given."""
    if not spec:
        raise InvalidInput("no store given: pass --store PATH_OR_URL or set PUBSAFE_STORE")
    for where in (spec, blob_store):
        if where is not None:
            _refuse_unopenable(where)
    return open_store(spec, create=create, blob_store=blob_store, root_map=root_map)


def _refuse_unopenable(spec: str) -> None:
    if spec.startswith("memory://"):
        raise InvalidInput(
            f"{spec!r}: a memory store lives inside one process, and each pubsafe command is a new process, so "
            "what it wrote would vanish. Use a directory (./pub), file:// or s3:// URL; memory stores are for the "
            "Python API and for `pubsafe check --store memory`"
        )
    if spec == "memory":
        raise InvalidInput("'memory' is not a store here: memory stores exist only inside one process (see "
                           "`pubsafe check --store memory`); give a directory such as ./pub, or a URL")


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as parsed, before duplicate keys are checked."""


def parse_json(text: str, source: str) -> Any:
    """JSON text as a value; NaN, duplicate keys and excessive nesting refused, with the path."""
    try:
        tree = json.loads(text, object_pairs_hook=_Pairs, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{source} is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidInput(f"{source} is nested deeper than {MAX_DEPTH} levels (too deep to read)") from None
    except ValueError as exc:  # Python refuses to read an integer of more than 4,300 digits
        raise InvalidInput(f"{source} holds a number too long to read exactly ({exc}); no JSON (IEEE double) "
                           "form keeps it: encode it as a string") from None
    return _build(tree, "$", 0, source)


def _build(value: Any, path: str, depth: int, source: str) -> Any:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"{source}: {path} is nested deeper than {MAX_DEPTH} levels; flatten the document")
    if isinstance(value, _Pairs):
        built: dict[str, Any] = {}
        for key, item in value:
            if key in built:
                raise InvalidInput(
                    f"{source}: {path} has the key {key!r} twice; JSON readers disagree on which one wins, so "
                    "pubsafe refuses rather than guess"
                )
            built[key] = _build(item, _child(path, key), depth + 1, source)
        return built
    if isinstance(value, list):
        return [_build(item, f"{path}[{i}]", depth + 1, source) for i, item in enumerate(value)]
    return value


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"


def _refuse_constant(name: str) -> Any:
    raise InvalidInput(f"{name} is not valid JSON and has no canonical form; use null or a string")


def read_artifacts(specs: Sequence[str]) -> dict[str, Any]:
    """``TYPE=FILE`` arguments (``-`` for stdin) as ``{type: payload}``."""
    artifacts: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in specs:
        type_, eq, source = spec.partition("=")
        if not eq or not type_ or not source:
            raise InvalidInput(f"artifact {spec!r} must be TYPE=FILE (or TYPE=- for stdin)")
        if type_ in artifacts:
            raise InvalidInput(f"artifact type {type_!r} given twice")
        if source == "-" and "-" in sources.values():
            raise InvalidInput(f"artifacts {sources_of(sources, '-')!r} and {type_!r} both read stdin ('-'), which "
                               "can be read once; give all but one of them as files")
        sources[type_] = source
        name = "stdin" if source == "-" else repr(source)
        try:
            raw = _read_stdin() if source == "-" else open(source, "rb").read()
        except OSError as exc:
            raise InvalidInput(f"cannot read {name} for {type_!r}: {exc.strerror or exc}") from None
        try:
            # Bytes, decoded here: JSON is UTF-8 (RFC 8259), whatever the terminal's locale says.
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{name} is not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r}); "
                               "artifacts are JSON documents, which are UTF-8") from None
        artifacts[type_] = parse_json(text.removeprefix("\ufeff"), name)
    return artifacts


def sources_of(sources: dict[str, str], source: str) -> str:
    return next(type_ for type_, where in sources.items() if where == source)


def _read_stdin() -> bytes:
    stream = sys.stdin
    if stream is None or stream.closed:
        raise OSError("standard input is closed (run with a file, or pipe the JSON in: TYPE=- < file.json)")
    buffer = getattr(stream, "buffer", None)
    return buffer.read() if buffer is not None else stream.read().encode("utf-8")


#: Longer than any grace period or lease means anything (a century).
MAX_DURATION = 100 * 365 * 86400.0


def duration(text: str, option: str = "duration") -> float:
    """``90s``, ``30m``, ``1h``, ``2d`` or plain seconds."""
    match = re.fullmatch(r"\s*(\d{1,30}(?:\.\d{1,30})?)\s*([smhd]?)\s*", text)
    if not match:
        raise InvalidInput(f"cannot read {option} {text!r}: use a number with s, m, h or d, e.g. 90s or 1h")
    seconds = float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
    if seconds > MAX_DURATION:
        raise InvalidInput(f"{option} {text!r} is longer than a century; give a shorter one, e.g. 1h or 2d")
    return seconds


def check_report_directory(path: str | None) -> None:
    """Refuse a ``--report DIR`` that cannot be a directory, before a long run, not after it."""
    if not path:
        return
    from pathlib import Path

    where = Path(path)
    for part in (where, *where.parents):
        if part.exists() and not part.is_dir():
            raise InvalidInput(f"--report {path!r}: {str(part)!r} is a file, and the reports go into a directory "
                               "(report.json, report.md, report.html); give a directory path")
        if part.exists():
            break
    if where.exists() and not os.access(where, os.W_OK) or not where.exists() and not os.access(part, os.W_OK):
        raise InvalidInput(f"--report {path!r}: cannot write there (permission denied); give a directory you can "
                           "write to")
