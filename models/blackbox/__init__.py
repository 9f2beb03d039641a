"""Black-box conformance: judge a publisher program in any language from the outside.

Jepsen's method, for publishers: run the real program (a command template), many
rounds, several at once, SIGKILL some at random moments, and judge the guarantees
only from what the runs acknowledged (exit 0) and what the store holds:

- **G1** every blob once seen keeps its bytes (under a dialect whose versions leave
  some fields out: keeps its versioned content; byte rewrites are counted);
- **G2** after every round, current parses and names existing blobs that are valid
  and recorded under the dialect; and while a round runs, a reader reading current
  over and over judges every version it sees the same way (``watch``);
- **G3** every killed or failed run, re-run alone with the same inputs, exits 0 and
  leaves current holding its inputs; two runs with the same inputs started together
  both leave current holding them, and so does one more, alone, after them; and a
  registry record, once read whole, never changes (compared after every run and
  round, and read over and over while the same-input runs go: a check-then-write of
  the record lets both write it, one over the other, within milliseconds);
- **R1/R2/R3** a final current that no serial order of the acknowledged runs explains
  (``checkers.races``) is a lost update, counted, with an example;
- **R4** orphan blobs and temp files of interrupted writes, counted.

Placeholders in the templates: ``{store}`` (and ``{blob_store}``), ``{tenant}``,
``{surface}``, ``{artifacts}`` (one ``TYPE=FILE`` word per artifact), or ``{type}`` and
``{file}`` for a publisher of one artifact at a time; ``{version}`` (rollback: the
manifest version to return to). They are expanded in the template's words once:
a value put in (a store path holding ``{tenant}``) is never expanded again.

The dialect (``auto``: detected from the records the first publish writes, whose
inputs are upstream's typed artifacts, which any publisher takes) sets the inputs
and the rules G1-G3 are judged by. Every manifest URI becomes a store key through
one function (``oracle.key_of_uri``): upstream's raw ``file://`` paths and
percent-encoded root URIs alike. Inputs and kill decisions follow from ``--seed`` and
the round number, so ``--start-round R --rounds 1`` replays a round's inputs and
kills (the timing of a real process never replays exactly).
"""

from .publisher import DIALECTS, PLACEHOLDERS, Budget, Publisher, check_publisher
from .run import BlackboxResult, run_blackbox

__all__ = ["Budget", "Publisher", "BlackboxResult", "run_blackbox", "check_publisher", "PLACEHOLDERS", "DIALECTS"]
