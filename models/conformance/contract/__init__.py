"""The Store contract, as checks any store can be put through.

Each check takes a store (fresh and empty; checks use keys of their own, so they may
share one) and returns None when the store behaves as ``refimpl.store`` says, or a
sentence saying what it did instead; ``Skip`` when the check does not apply (a
capability the store does not claim). ``pubsafe check`` runs them all and reports
each; ``pubsafe.models.pytest_suite.StoreContractTests`` runs them as pytest tests.

The concurrency checks are probes with real threads, released together and switching
as often as the interpreter allows: ``CREATE_RACES`` trials of ``WRITERS`` writers
racing a create-only put, as many racing one compare-and-swap, and a reader racing
replaces at sizes from 16 bytes to 8 MiB. Measured on the mutant catalogue's
in-memory check-then-write stores (a window of a few bytecodes, the hardest case;
``python -m pubsafe.devtools.probe_rates``), one trial of 16 writers catches a racy
compare-and-swap 13-18% of the time and a racy create-only put 27-34%: 96 and 64
trials miss them with probability about 10^-6 and 10^-9. A store behind a network has a
window of a round trip. The report states how many trials ran.
"""

from __future__ import annotations

# Importing the checks registers them, in the order a check runs them and a report lists them.
# isort: off
from . import sequential  # noqa: F401
from . import racing  # noqa: F401
from . import together  # noqa: F401
# isort: on
from .base import CONTRACT, ContractCheck, NotJudged, Skip, run_check
from .racing import CAS_RACES, CREATE_RACES, REPLACE_SIZES, WRITERS, is_torn_body
from .together import TOGETHER_READS, TOGETHER_WRITES

__all__ = ["Skip", "NotJudged", "ContractCheck", "CONTRACT", "CHECKS_BY_NAME", "run_check", "WRITERS", "CREATE_RACES",
           "CAS_RACES", "REPLACE_SIZES", "TOGETHER_READS", "TOGETHER_WRITES", "is_torn_body"]

CHECKS_BY_NAME = {check.name: check for check in CONTRACT}
