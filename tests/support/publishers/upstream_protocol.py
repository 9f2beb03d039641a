"""A publisher written from upstream recsys-pipelines' documented protocol
(shared/upstream/FORMAT.md), not from its code: typed blobs carrying ``build`` fields,
versions that leave ``build`` out, Go-style records, read-modify-write of current,
every file written to a ``.<name>.tmp-<digits>`` temp file and renamed into place, no
history. Judged under the recsys-pipelines dialect by the black-box tests.

One deliberate difference: upstream creates a record only if no file is at its path,
but checks with a stat and then renames over whatever is there (check-then-write),
so two runs publishing the same version at once can both write it, the second over
the first (a G3 break the black-box harness sees now and then). Here the record is
created as the protocol intends, create-only (link(2) fails if the path exists):
written once, never rewritten. ``record_rewriter.py`` keeps upstream's way.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
from collections.abc import Callable
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(__file__))
from _common import arguments, makedirs_for  # noqa: E402

ORDER = ["popularity", "cooc", "implicit", "content_sim", "session_seq"]
PAYLOAD = {"popularity": "items", "cooc": "neighbors", "implicit": "users", "content_sim": "items",
           "session_seq": "users"}


def go_compact(value: object) -> bytes:
    """Go's compact encoding, for these inputs (plain strings and integers only)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def temp_for(path: str) -> str:
    directory, name = os.path.split(path)
    return os.path.join(directory, f".{name}.tmp-{random.randrange(10**9, 10**10)}")


def atomic_write(path: str, body: bytes) -> None:
    """Upstream's write: temp file, fsync, rename over the target, fsync the directory."""
    makedirs_for(path)
    temp = temp_for(path)
    _write_temp(temp, body)
    os.rename(temp, path)
    _fsync_directory(os.path.dirname(path))


def create_record(path: str, body: bytes) -> None:
    """The record, created only if none is there, atomically (link fails on an existing path)."""
    if os.path.exists(path):  # upstream's check, kept as a shortcut: the link below decides
        return
    makedirs_for(path)
    temp = temp_for(path)
    _write_temp(temp, body)
    try:
        os.link(temp, path)
    except FileExistsError:
        pass  # recorded before: append-only, so nothing to do
    finally:
        os.unlink(temp)
    _fsync_directory(os.path.dirname(path))


def _write_temp(temp: str, body: bytes) -> None:
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, body)
        os.fchmod(fd, 0o644)
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: str) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def main(write_record: Callable[[str, bytes], None] = create_record) -> None:
    """Publish ``STORE TENANT SURFACE TYPE=FILE...``; ``write_record(path, body)`` writes
    a record (the protocol's way by default)."""
    root, tenant, surface, specs = arguments()
    root = os.path.abspath(root)
    now = datetime.now(UTC)
    current_path = os.path.join(root, "current", tenant.strip(), surface.strip(), "manifest.json")
    try:
        with open(current_path, encoding="utf-8") as f:
            mapping = json.load(f)["current"]
    except FileNotFoundError:
        mapping = {}
    for type_ in sorted(specs, key=ORDER.index):
        given = json.load(open(specs[type_], encoding="utf-8"))
        artifact = {"v": 1, "artifact_type": type_, "tenant": tenant, "surface": surface,
                    "segment": given["segment"], "window": given["window"], PAYLOAD[type_]: given[PAYLOAD[type_]],
                    "build": {"built_at": "", "version": ""}}
        version = hashlib.sha256(go_compact(artifact)).hexdigest()
        artifact["build"] = {"built_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "version": version, "source_hash": version}
        key = f"{tenant}/{surface}/{type_}/{version}.json".strip()
        blob_path = os.path.join(root, key)
        atomic_write(blob_path, json.dumps(artifact, indent=2, ensure_ascii=False).encode())
        with open(blob_path, "rb") as f:  # validate: read it back
            json.load(f)
        record_path = os.path.join(root, "records", tenant.strip(), surface.strip(), type_, f"{version}.json")
        record = {"Key": {"Tenant": tenant, "Surface": surface, "Segment": given["segment"], "Type": type_},
                  "Window": {"Start": given["window"]["start"], "End": given["window"]["end"]},
                  "Version": version, "URI": "file://" + blob_path, "BuiltAt": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        write_record(record_path, json.dumps(record, indent=2).encode())
        mapping[type_] = "file://" + blob_path
    manifest = {"v": 1, "tenant": tenant, "surface": surface, "current": dict(sorted(mapping.items())),
                "updated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    atomic_write(current_path, json.dumps(manifest, indent=2).encode())


if __name__ == "__main__":
    main()
