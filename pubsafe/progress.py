"""Progress of a long run, on a terminal and in CI logs.

On a terminal: a rich spinner line naming the phase (probes, crash sweep, races,
state machine) with the count of steps so far. Anywhere else (CI, a pipe): nothing
for short runs, then one plain line every ``every`` seconds, so that a log shows the
run is alive and where it is, without the escape codes a bar would leave there.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

__all__ = ["RunProgress"]


class RunProgress:
    """``with RunProgress("checking memory") as p: p.phase("crash sweep"); p.advance(3)``."""

    def __init__(self, title: str, *, stream: TextIO | None = None, every: float = 10.0) -> None:
        self.title = title
        self.stream = stream or sys.stderr
        self.every = every
        self.current = "starting"
        self.done = 0
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._bar: Any = None
        self._task: Any = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RunProgress:
        if self.stream.isatty():
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"),
                                 TextColumn("{task.completed} steps"), TimeElapsedColumn(), transient=True,
                                 console=Console(file=self.stream))
            self._bar.__enter__()
            self._task = self._bar.add_task(self._describe(), total=None)
        else:
            self._thread = threading.Thread(target=self._beat, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def _describe(self) -> str:
        return f"{self.title}: {self.current}"

    def phase(self, name: str) -> None:
        self.current = name
        if self._bar is not None:
            self._bar.update(self._task, description=self._describe())

    def advance(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            elapsed = time.monotonic() - self._started
            print(f"{self._describe()}, {self.done} steps, {elapsed:.0f} s", file=self.stream, flush=True)
