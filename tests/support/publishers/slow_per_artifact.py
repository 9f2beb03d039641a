"""A correct publisher (pubsafe's own CLI) that first spends 0.2 s on each artifact, as
one transforming its inputs would: a run of one artifact is much shorter than a run of
three, so a kill timed on three-artifact runs comes after a one-artifact run has ended."""

from __future__ import annotations

import os
import sys
import time

store, tenant, surface, *artifacts = sys.argv[1:]
time.sleep(0.2 * len(artifacts))
os.execv(sys.executable, [sys.executable, "-m", "pubsafe", "publish", "--store", store, "--tenant", tenant,
                          "--surface", surface, *artifacts])
