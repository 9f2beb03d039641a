"""Ctrl-C on a real process: one line, exit 130, and the store stays retryable."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pubsafe.refimpl import Engine, LocalStore
from support import tree


def _ctrl_c_as_at_a_terminal() -> None:
    """A suite started in the background (``cmd &`` in a script) hands its children
    SIGINT ignored, and Python then never installs its handler: undo that in the child."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _blocked(pid: int) -> bool:
    """Is the process asleep (here: waiting for stdin)?"""
    return Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1].split()[0] == "S"


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see the process wait")
def test_ctrl_c_while_a_publish_reads_stdin(tmp_path):
    root = tmp_path / "pub"
    Engine(LocalStore(root)).publish("acme", "home", {"model": 1})
    before = tree(root)
    child = subprocess.Popen([sys.executable, "-m", "pubsafe", "publish", "--store", str(root), "--tenant", "acme",
                              "--surface", "home", "items=-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_as_at_a_terminal)
    deadline = time.monotonic() + 30
    time.sleep(0.3)
    while not _blocked(child.pid):
        assert time.monotonic() < deadline, "the publish never waited for stdin"
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 130, err
    assert err.count("\n") == 1 and "Traceback" not in err and "re-running the same command is safe" in err
    assert tree(root) == before
    assert Engine(LocalStore(root)).publish("acme", "home", {"items": [1]}).swapped  # and retrying works
