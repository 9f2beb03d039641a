"""A broken publisher: upstream's protocol (``upstream_protocol.py``) with records
written the way upstream's code writes them, or worse (G3: one record per version,
never rewritten). The first argument says how:

- ``republish``: the record is written on every publish, renamed over the one there:
  each republish of a version rewrites it with a new ``BuiltAt``.
- ``race``: upstream's own check-then-write (no file at the record path? then write
  one, renamed over whatever is there by then). Two runs publishing the same version
  at once both find no record and both write it, the second over the first. Upstream's
  window is milliseconds wide; here the two meet in it: a run that finds no record
  and sees a twin running (the same command line, in /proc) waits, up to 2 s, for the
  twin to find none either; then the first to arrive writes, and the other 0.3 s
  later. A run alone (no twin) writes at once, as upstream does. Linux only.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from upstream_protocol import atomic_write, main  # noqa: E402


def write_always(path: str, body: bytes) -> None:
    atomic_write(path, body)


def check_then_write(path: str, body: bytes) -> None:
    if os.path.exists(path):
        return
    if not _twin_running():
        atomic_write(path, body)
        return
    meeting = os.path.join(tempfile.gettempdir(), "record-rewriter-" + hashlib.sha256(path.encode()).hexdigest()[:16])
    os.makedirs(meeting, exist_ok=True)
    mine = f"{time.time_ns()}-{os.getpid()}"
    open(os.path.join(meeting, mine), "w").close()
    try:
        deadline = time.monotonic() + 2
        while len(os.listdir(meeting)) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        arrived = sorted(os.listdir(meeting), key=lambda name: int(name.split("-")[0]))
        if arrived and arrived[0] != mine:
            time.sleep(0.3)  # the second to find no record writes over the first's
        atomic_write(path, body)
    finally:
        os.unlink(os.path.join(meeting, mine))
        try:
            os.rmdir(meeting)
        except OSError:
            pass  # the twin is still in it


def _twin_running() -> bool:
    """Is another process running this very command line?"""
    with open("/proc/self/cmdline", "rb") as f:
        own = f.read()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read() == own:
                    return True
        except OSError:
            continue
    return False


if __name__ == "__main__":
    mode = sys.argv.pop(1)
    main({"republish": write_always, "race": check_then_write}[mode])
