"""Real processes as actors: start commands together, SIGKILL some at chosen moments.

The black-box nemesis (Jepsen's shape, for programs in any language): each command
runs in a session of its own, so a kill takes its children with it; what happened
is kept as an ``Invocation`` and as history ``Event``s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

from .history import Event

__all__ = ["Invocation", "run_together", "TAIL"]

TAIL = 400  #: characters of stdout and stderr kept per invocation


@dataclass
class Invocation:
    name: str  #: who, e.g. "publisher 1"
    argv: list[str]
    started: float = 0.0  #: seconds since the round began
    ended: float = 0.0
    exit_code: int | None = None
    killed: bool = False  #: SIGKILLed before it exited
    paused: bool = False  #: reached its pause condition and was SIGSTOPped there
    #: continued after ``pause_limit`` while others still ran: they were waiting on it
    #: (it held a lock), so what ran was serial, not a race
    stalled: bool = False
    stdout: str = ""
    stderr: str = ""

    @property
    def acknowledged(self) -> bool:
        return self.exit_code == 0 and not self.killed

    def events(self, offset: int = 0) -> list[Event]:
        """The invocation as history events: its start, and how it ended."""
        end = "killed" if self.killed else "ok" if self.exit_code == 0 else f"exit {self.exit_code}"
        summary = " ".join(self.argv)[:160]
        return [Event(self.name, "start", summary, time=offset),
                Event(self.name, "end", summary, result=end, fault="kill@random" if self.killed else None,
                      time=offset + 1)]


def run_together(
    commands: Sequence[tuple[str, list[str]]], kills: dict[int, float], *, starts: Sequence[float] = (),
    pause_when: dict[int, Callable[[], bool]] | None = None, timeout: float = 120.0,
    env: dict[str, str] | None = None, pause_limit: float = 10.0,
    on_pause: dict[int, Callable[[], None]] | None = None,
) -> list[Invocation]:
    """Run commands together, as a nemesis would.

    Command ``i`` starts ``starts[i]`` seconds in (default: all at once) and is
    SIGKILLed ``kills[i]`` seconds in if still running. With ``pause_when[i]``, it runs
    alone until that condition holds (say, its first blob is in the store), is then
    SIGSTOPped while the others run, and SIGCONTinued once they have all ended: a
    process paused mid-publish, the interleaving that shows a lost update. A paused
    process is continued after ``pause_limit`` seconds even if others still run: it may
    hold a lock they wait for (a file lock, a lease), and a pause must not become a
    deadlock that only the timeout ends. ``on_pause[i]`` is called once process ``i``
    is seen stopped, before the others go on: what it sees of the store then is what
    the paused process left (a check made before the SIGSTOP can be overtaken by the
    process itself). Output goes to files, never a full pipe.
    """
    start = time.monotonic()
    pause_when = dict(pause_when or {})
    offsets = list(starts) + [0.0] * (len(commands) - len(starts))
    invocations = [Invocation(name, list(argv)) for name, argv in commands]
    processes: list[subprocess.Popen[bytes] | None] = [None] * len(commands)
    spools = [(_spool(), _spool()) for _ in commands]
    paused: set[int] = set()
    paused_at = 0.0
    ended: set[int] = set()
    deadline = start + timeout
    waiting = set(pause_when)  # the others wait until these have reached their pause
    while len(ended) < len(commands):
        now = time.monotonic() - start
        for i, process in enumerate(processes):
            if process is None and now >= offsets[i] and (i in pause_when or not waiting):
                out, err = spools[i]
                processes[i] = subprocess.Popen(invocations[i].argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                                start_new_session=True, env=env)
                invocations[i].started = now
            elif process is not None and i not in ended:
                if process.poll() is not None:
                    invocations[i].ended = now
                    ended.add(i)
                    waiting.discard(i)
                elif i in kills and now >= kills[i] or time.monotonic() > deadline:
                    _signal(process, signal.SIGKILL)
                    invocations[i].killed = True
                    if time.monotonic() > deadline:
                        invocations[i].stderr = f"[killed after the {timeout:.0f}s timeout] "
                elif i in pause_when and i not in paused and pause_when[i]():
                    _signal(process, signal.SIGSTOP)
                    _wait_until_stopped(process)
                    if on_pause and i in on_pause:
                        on_pause[i]()
                    invocations[i].paused = True
                    paused.add(i)
                    paused_at = now
                    waiting.discard(i)
        stalled = paused and time.monotonic() - start - paused_at > pause_limit
        if paused and (stalled or all(j in ended or j in paused for j in range(len(commands)))):
            for i in paused - ended:
                invocations[i].stalled = bool(stalled)
                if (stopped := processes[i]) is not None:  # paused, so started
                    _signal(stopped, signal.SIGCONT)
            pause_when = {i: c for i, c in pause_when.items() if i not in paused}
            paused.clear()
        time.sleep(0.001)
    for invocation, process, (out, err) in zip(invocations, processes, spools, strict=True):
        assert process is not None
        invocation.exit_code = process.returncode
        invocation.stdout = _tail(out)
        invocation.stderr += _tail(err)
    return invocations


def _wait_until_stopped(process: subprocess.Popen[bytes], limit: float = 1.0) -> None:
    """Until the kernel shows the process stopped (Linux: state T in /proc), or it has
    exited, or ``limit`` seconds; without /proc, a short fixed wait."""
    path = f"/proc/{process.pid}/stat"
    if not os.path.exists(path):
        time.sleep(0.01)
        return
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with open(path, encoding="ascii", errors="replace") as f:
                state = f.read().rsplit(")", 1)[-1].split()[0]
        except (OSError, IndexError):
            return  # gone
        if state in ("T", "t", "Z", "X"):
            return
        time.sleep(0.0002)


def _signal(process: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def _spool() -> IO[bytes]:
    import tempfile

    return tempfile.TemporaryFile()


def _tail(spool: IO[bytes]) -> str:
    spool.seek(0)
    text = spool.read().decode("utf-8", "replace")
    spool.close()
    return text[-TAIL:]
