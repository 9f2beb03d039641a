"""A publish in a child process that stops at a chosen point and waits to be killed.

    python -m pubsafe.faults.killpoint STORE_DIR TENANT SURFACE PAYLOADS_JSON FAULT

FAULT is ``pause@PHASE`` or ``pause-after@PHASE`` (see faults.plan). When the publish
reaches it, the child prints ``PAUSED <where>`` on stdout and blocks on stdin; the
parent then SIGKILLs it, so the crash is a real process death with whatever the OS
had been given. If the point is never reached the child prints ``DONE``.
"""

from __future__ import annotations

import json
import sys

from pubsafe.refimpl import Engine, LocalStore

from .plan import FaultPlan
from .store import FaultyStore


def _pause(where: str) -> None:
    print(f"PAUSED {where}", flush=True)
    sys.stdin.read()  # wait for SIGKILL; EOF means the parent went away
    sys.exit(3)


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    root, tenant, surface, payloads, fault = argv
    store = FaultyStore(LocalStore(root), FaultPlan.parse(fault), on_pause=_pause)
    Engine(store).publish(tenant, surface, json.loads(payloads))
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
