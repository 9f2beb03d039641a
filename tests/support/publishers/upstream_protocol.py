"""A publisher written from upstream recsys-pipelines' documented protocol
(shared/upstream/FORMAT.md), not from its code: typed blobs carrying ``build`` fields,
versions that leave ``build`` out, Go-style records, read-modify-write of current,
every file written to a ``.<name>.tmp-<digits>`` temp file and renamed into place, no
history. Judged under the recsys-pipelines dialect by the black-box tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(__file__))
from _common import arguments, makedirs_for  # noqa: E402

ORDER = ["popularity", "cooc", "implicit", "content_sim", "session_seq"]
PAYLOAD = {"popularity": "items", "cooc": "neighbors", "implicit": "users", "content_sim": "items",
           "session_seq": "users"}


def go_compact(value: object) -> bytes:
    """Go's compact encoding, for these inputs (plain strings and integers only)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def atomic_write(path: str, body: bytes) -> None:
    makedirs_for(path)
    directory, name = os.path.split(path)
    temp = os.path.join(directory, f".{name}.tmp-{random.randrange(10**9, 10**10)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, body)
        os.fchmod(fd, 0o644)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(temp, path)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def main() -> None:
    root, tenant, surface, specs = arguments()
    root = os.path.abspath(root)
    now = datetime.now(timezone.utc)
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
        if not os.path.exists(record_path):  # check, then write: upstream's own (non-atomic) way
            record = {"Key": {"Tenant": tenant, "Surface": surface, "Segment": given["segment"], "Type": type_},
                      "Window": {"Start": given["window"]["start"], "End": given["window"]["end"]},
                      "Version": version, "URI": "file://" + blob_path,
                      "BuiltAt": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
            atomic_write(record_path, json.dumps(record, indent=2).encode())
        mapping[type_] = "file://" + blob_path
    manifest = {"v": 1, "tenant": tenant, "surface": surface, "current": dict(sorted(mapping.items())),
                "updated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    atomic_write(current_path, json.dumps(manifest, indent=2).encode())


if __name__ == "__main__":
    main()
