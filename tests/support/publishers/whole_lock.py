"""A correct publisher (pubsafe's own CLI) run under one store-wide lock held from start
to end: two runs never overlap, so pausing one mid-publish holds the other up rather
than racing it."""

from __future__ import annotations

import fcntl
import os
import sys

store, tenant, surface, *artifacts = sys.argv[1:]
os.makedirs(store, exist_ok=True)
fd = os.open(os.path.join(store, ".whole-publish.lock"), os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.set_inheritable(fd, True)  # held by the publish exec'd below until it exits
os.execv(sys.executable, [sys.executable, "-m", "pubsafe", "publish", "--store", store, "--tenant", tenant,
                          "--surface", surface, *artifacts])
