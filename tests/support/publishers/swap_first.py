"""A broken publisher: it swaps current before writing the blob and record it names
(a kill in between leaves current naming a missing blob: G2)."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(__file__))
from _common import arguments, canonical, makedirs_for, version  # noqa: E402


def write(path: str, body: bytes) -> None:
    makedirs_for(path)
    temp = f"{path}.tmp-{os.getpid()}"
    with open(temp, "wb") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)


def main() -> None:
    store, tenant, surface, specs = arguments()
    current_path = os.path.join(store, "current", tenant, surface, "manifest.json")
    try:
        with open(current_path, encoding="utf-8") as f:
            mapping = json.load(f)["current"]
    except FileNotFoundError:
        mapping = {}
    blobs = {}
    for type_, source in specs.items():
        data = canonical(json.load(open(source, encoding="utf-8")))
        mapping[type_] = f"{tenant}/{surface}/{type_}/{version(data)}.json"
        blobs[type_] = data
    write(current_path, json.dumps({"v": 1, "tenant": tenant, "surface": surface,
                                    "current": dict(sorted(mapping.items())),
                                    "updated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}).encode())
    time.sleep(0.2)  # work after the swap: building the next artifact, an upload (most of its run)
    for type_, data in blobs.items():
        key = mapping[type_]
        write(os.path.join(store, key), data)
        write(os.path.join(store, "records", key), json.dumps(
            {"v": 1, "tenant": tenant, "surface": surface, "type": type_, "version": version(data), "uri": key,
             "size": len(data), "recorded_at": "2026-01-01T00:00:00Z"}).encode())


if __name__ == "__main__":
    main()
