"""A broken publisher: everything right, except current is rewritten in place, in two
writes, instead of replaced whole (a kill between them leaves it torn: G2)."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(__file__))
from _common import arguments, canonical, makedirs_for, version  # noqa: E402


def main() -> None:
    store, tenant, surface, specs = arguments()
    current_path = os.path.join(store, "current", tenant, surface, "manifest.json")
    try:
        with open(current_path, encoding="utf-8") as f:
            mapping = json.load(f)["current"]
    except FileNotFoundError:
        mapping = {}
    for type_, source in specs.items():
        data = canonical(json.load(open(source, encoding="utf-8")))
        key = f"{tenant}/{surface}/{type_}/{version(data)}.json"
        for path, body in ((os.path.join(store, key), data), (os.path.join(store, "records", key), json.dumps(
                {"v": 1, "tenant": tenant, "surface": surface, "type": type_, "version": version(data), "uri": key,
                 "size": len(data), "recorded_at": "2026-01-01T00:00:00Z"}).encode())):
            makedirs_for(path)
            if not os.path.exists(path):
                with open(path + ".part", "wb") as f:
                    f.write(body)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(path + ".part", path)
        mapping[type_] = key
    document = json.dumps({"v": 1, "tenant": tenant, "surface": surface, "current": dict(sorted(mapping.items())),
                           "updated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
    makedirs_for(current_path)
    with open(current_path, "wb") as f:  # in place: truncate, then write in two parts
        half = len(document) // 2
        f.write(document[:half])
        f.flush()
        time.sleep(0.05)  # the network, a slow disk
        f.write(document[half:])


if __name__ == "__main__":
    main()
