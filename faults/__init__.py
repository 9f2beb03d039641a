"""faults: the nemesis. Wrappers and schedulers that make stores fail on purpose.

Everything here speaks refimpl's Store contract and nothing else, so it works under
any engine that talks to a Store. Faults are placed by a ``FaultPlan`` that reads
and prints as a short string (``"lost-ack@swap"``), and interleavings are schedule
strings (``"AABAB"``), so every failure replays exactly.

- ``FaultyStore``: crash, lost ack, torn write, transient error, slow, pause
- ``StaleStore``: bounded-lag reads and listings
- ``SimulatedDisk``: power loss under LocalStore
- ``Interleaving``, ``explore``, ``explore_reduced``: deterministic concurrency
- ``Event``: the history, one event per store operation, as the nemesis saw it
- ``faults.strategies``: Hypothesis strategies (imports hypothesis)
- ``faults.killpoint``: a publish in a child process, to be SIGKILLed
- ``faults.backend``: errors injected below a store's API (an errno, an S3 error
  code), so that the store's own mapping of them onto pubsafe's errors runs

What the faults *break* is judged elsewhere (``pubsafe.models``).
"""

from __future__ import annotations

from .crash import Crash
from .history import Event
from .plan import FAULT_KINDS, Fault, FaultPlan
from .power import SimulatedDisk
from .scheduler import Interleaving, RunResult, explore, explore_reduced
from .stale import StaleStore
from .store import FaultyStore, InjectedError

__all__ = [
    "Crash",
    "Event",
    "FAULT_KINDS",
    "Fault",
    "FaultPlan",
    "FaultyStore",
    "InjectedError",
    "Interleaving",
    "RunResult",
    "SimulatedDisk",
    "StaleStore",
    "explore",
    "explore_reduced",
]
