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

from __future__ import annotations

import json
import random
import re
import shlex
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pubsafe.faults.history import Event
from pubsafe.faults.processes import Invocation, run_together
from pubsafe.refimpl.dialects import detect
from pubsafe.refimpl.errors import InvalidInput
from pubsafe.refimpl.store import Store

from .checkers import Violation
from .checkers.manifest_last import check_currents
from .checkers.races import RaceOp, lost_update
from .checkers.retry import check_records, whole_record
from .guarantees import Guarantee, Status
from .oracle import (CURRENT, HISTORY, RECORDS, Oracle, canonical, current_key, is_tombstone, parse_blob_key,
                     parse_manifest, read_store)
from .reading import read_keys
from .verdicts import Counterexample, Report, Verdict
from .watch import CurrentWatcher, Sighting, describe_change

__all__ = ["Budget", "Publisher", "BlackboxResult", "run_blackbox", "check_publisher", "PLACEHOLDERS", "DIALECTS"]

PLACEHOLDERS = ("store", "blob_store", "tenant", "surface", "artifacts", "type", "file", "version")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")
DIALECTS = ("auto", "pubsafe", "recsys-pipelines")
T, S = "acme", "home"
#: the kinds of round, cycled through by number (``_Harness._plan``)
KINDS = 5
#: seconds between the watcher's reads in a same-input round. Two runs of a check-then-write
#: rewrite a record a few milliseconds apart at most; reading with no pause at all takes a
#: core from the runs and lines them up less often: measured on 2 cores with a Python
#: check-then-write publisher, 0 s: 17 rewritten records in 140 rounds, 7 rounds caught;
#: 0.0005 s: 81 in 150, 37 caught
SAME_INPUT_READS = 0.0005
#: tries of a round whose pause or every kill came too late (or whose pause held the
#: others up): a fast publisher is raced and killed, not judged on rounds that exercised nothing
ROUND_ATTEMPTS = 4
_WINDOW = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}


@dataclass(frozen=True)
class Budget:
    rounds: int = 50
    concurrency: int = 2
    kill_probability: float = 0.3
    #: seconds into its run a kill comes; None: calibrated on the publisher's own runs
    #: (``_Harness._kill_delay``)
    kill_delay: tuple[float, float] | None = None
    seed: int = 0
    start_round: int = 0
    timeout: float = 120.0


@dataclass(frozen=True)
class Publisher:
    publish: str  #: command template of one publish
    rollback: str | None = None  #: command template of a rollback to ``{version}``
    guarded: bool = False  #: it claims to detect concurrent publishes: a lost update breaks R1-R3

    @property
    def one_artifact_at_a_time(self) -> bool:
        return "{artifacts}" not in self.publish


def check_publisher(publisher: Publisher, *, blob_store: bool = False) -> None:
    """InvalidInput, naming the fix, for a template blackbox cannot run: one that does
    not split as a shell would, names an unknown placeholder (or one the other template
    has, or ``{blob_store}`` without a blob store), puts ``{artifacts}`` (several words)
    inside a word, or lacks what it needs (``{artifacts}`` or ``{file}``; ``{version}``)."""
    for option, template in (("--publish", publisher.publish), ("--rollback", publisher.rollback)):
        if template is None:
            continue
        words = _words(template, option)
        theirs = {"artifacts", "type", "file"} if option == "--rollback" else {"version"}
        for word in words:
            for name in _PLACEHOLDER.findall(word):
                if name not in PLACEHOLDERS:
                    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                    raise InvalidInput(f"{option} {template!r} names {{{name}}}, which is no placeholder (they are "
                                       f"{known})")
                if name in theirs:
                    raise InvalidInput(f"{option} {template!r} names {{{name}}}, which only "
                                       f"{'--publish' if option == '--rollback' else '--rollback'} is given")
                if name == "blob_store" and not blob_store:
                    raise InvalidInput(f"{option} {template!r} names {{blob_store}}: give --blob-store too")
            if "{artifacts}" in word and word != "{artifacts}":
                raise InvalidInput(f"{option} {template!r}: {{artifacts}} becomes one TYPE=FILE word per artifact, "
                                   f"so it must be a word of its own, not part of {word!r}")
        if option == "--publish" and not any(w == "{artifacts}" or "{file}" in w for w in words):
            raise InvalidInput("the --publish template must contain {artifacts} (TYPE=FILE words) or {file}")
        if option == "--rollback" and not any("{version}" in w for w in words):
            raise InvalidInput("the --rollback template must contain {version} (the manifest version to return to)")


def _words(template: str, option: str) -> list[str]:
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise InvalidInput(f"{option} {template!r} does not split into words as a shell would ({exc}): check its "
                           "quotes") from None
    if not words:
        raise InvalidInput(f"{option} is empty: give the command line of one run")
    return words


@dataclass
class BlackboxResult:
    report: Report
    rounds: int
    harness_seconds_per_round: float  #: time spent by the harness itself, publishers excluded
    store: str


# -- what to publish, per dialect ---------------------------------------------------------


def _types(dialect: str) -> list[str]:
    return ["popularity", "cooc"] if dialect == "recsys-pipelines" else ["model", "items", "features"]


def _input(dialect: str, type_: str, tag: str, rng: random.Random) -> dict[str, Any]:
    """A fresh input: a payload (pubsafe), or a typed upstream input."""
    if dialect != "recsys-pipelines":
        return {"tag": tag, "values": [round(rng.random(), 6) for _ in range(3)], "note": "caf\u00e9 \U0001f600"}
    items = [{"item_id": f"{tag}-{k}", "count": rng.randrange(1, 100)} for k in range(2)]
    if type_ == "cooc":
        return {"segment": "default", "window": _WINDOW, "neighbors": [{"item_id": f"{tag}-n", "items": items}]}
    return {"segment": "default", "window": _WINDOW, "items": items}


def _holds(dialect: str, blob: bytes, given: dict[str, Any]) -> bool:
    """Does this stored blob hold that input (``auto``: under either dialect's rule)?"""
    if dialect == "auto":
        return any(_holds(d, blob, given) for d in DIALECTS[1:])
    try:
        doc = json.loads(blob)
    except ValueError:
        return False
    if dialect == "recsys-pipelines":
        return isinstance(doc, dict) and all(doc.get(k) == v for k, v in given.items())
    try:
        return canonical(doc) == canonical(given)
    except (ValueError, TypeError):
        return False


# -- one round ----------------------------------------------------------------------------


@dataclass
class _Run:
    """One invocation of this round, with what it was asked to do."""

    name: str
    kind: str  #: "publish" or "rollback"
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)  #: type -> input
    target: dict[str, str] = field(default_factory=dict)  #: rollback: the mapping it installs
    version: str = ""  #: rollback: the manifest version
    argv: list[str] = field(default_factory=list)
    invocation: Invocation | None = None


@dataclass
class _Plan:
    """What one try of a round does."""

    runs: list[_Run]
    kills: dict[int, float]  #: run -> seconds into the round its SIGKILL comes
    starts: list[float]  #: run -> seconds into the round it starts
    paused: int | None = None  #: the run SIGSTOPped mid-publish
    identical: bool = False  #: every run has the same inputs (G3: converge, never rewrite a record)


class _Harness:
    def __init__(self, publisher: Publisher, store: Store, store_spec: str, blob_spec: str | None, dialect: str,
                 budget: Budget, workdir: Path, root_path: str | None) -> None:
        self.publisher, self.store, self.budget = publisher, store, budget
        self.store_spec, self.blob_spec, self.dialect, self.workdir = store_spec, blob_spec, dialect, workdir
        self.detected = dialect == "auto"
        self.oracle = Oracle(dialect=dialect, root_path=root_path)
        self.seen: dict[str, bytes] = {}  #: valid blobs as first seen
        self.broken: dict[Guarantee, Counterexample] = {}
        self.witnesses: dict[Guarantee, str] = {}
        self.witness_timelines: dict[Guarantee, list[Event]] = {}
        self.counts = {"rounds": 0, "invocations": 0, "killed": 0, "reruns": 0, "lost_updates": 0,
                       "missed_kills": 0, "paused_races": 0, "missed_pauses": 0, "stalled_pauses": 0,
                       "same_input_rounds": 0, "republishes": 0, "record_reads": 0,
                       "rewrites": 0, "orphans": 0, "temp_files": 0, "current_reads": 0}
        self.raced: dict[Guarantee, int] = {}  #: race rounds whose pause landed, per guarantee
        self.walls: dict[int, list[float]] = {}  #: seconds of runs that ended unkilled and unpaused, by inputs
        self.paused_in_time = False
        self.pause_limit = 10.0  #: seconds a pause may hold up the others (set from the setup's runs)
        self.harness_seconds = 0.0
        self.orphans: set[str] = set()
        self.temps: set[str] = set()

    # -- commands ------------------------------------------------------------------

    def _argv(self, template: str, **values: Any) -> list[str]:
        """The template's words with each placeholder replaced once (``check_publisher``
        has vetted them): what a value brings in, braces included, stays as it is."""
        words = []
        for word in shlex.split(template):
            if word == "{artifacts}":
                words += [f"{t}={f}" for t, f in values["artifacts"]]
                continue
            words.append(_PLACEHOLDER.sub(lambda m: str(values.get(m[1], "")), word))
        return words

    def _publish_run(self, name: str, inputs: dict[str, dict[str, Any]], tag: str) -> _Run:
        files = []
        for type_, given in inputs.items():
            path = self.workdir / f"{tag}-{name.replace(' ', '-')}-{type_}.json"
            path.write_text(json.dumps(given, ensure_ascii=False))
            files.append((type_, path))
        values = {"store": self.store_spec, "blob_store": self.blob_spec or "", "tenant": T, "surface": S,
                  "artifacts": files, "type": files[0][0], "file": files[0][1]}
        return _Run(name, "publish", inputs, argv=self._argv(self.publisher.publish, **values))

    def _rollback_run(self, name: str, version: str, target: dict[str, str]) -> _Run:
        assert self.publisher.rollback is not None
        values = {"store": self.store_spec, "blob_store": self.blob_spec or "", "tenant": T, "surface": S,
                  "version": version}
        return _Run(name, "rollback", target=target, version=version,
                    argv=self._argv(self.publisher.rollback, **values))

    def _plan(self, number: int, attempt: int = 0) -> _Plan:
        """What round ``number`` does, from the seed. Rounds cycle through five kinds:

        0: publishers of different types, one paused mid-publish (R2);
        1: one publishing two types, one publishing one of them, the latter paused (R1);
        2: publishers of different types, each killed at random (G1-G3, R4);
        3: a publish paused while a rollback runs (R3), with a rollback template;
           otherwise as 1, killed at random;
        4: publishers with the same inputs, started at the same moment (G3), then
           one more alone.
        A paused run is SIGSTOPped once its first blob is in the store (it has read
        current by then) and continued when the others have ended. ``attempt`` > 0: the
        same kind of round again, with fresh inputs, after a pause that did not land.
        """
        rng = random.Random(f"{self.budget.seed}:{number}" + (f":{attempt}" if attempt else ""))
        types = _types(self.dialect)
        tag, kind = f"r{number}" + (f"a{attempt}" if attempt else ""), number % KINDS
        two_types = not self.publisher.one_artifact_at_a_time
        paused: int | None = None
        if kind == 4:
            same = self._publish_run("publisher 1", {t: _input(self.dialect, t, f"{tag}-1", rng)
                                                     for t in types[:2 if two_types else 1]}, tag)
            runs = [_Run(f"publisher {i + 1}", "publish", same.inputs, argv=same.argv)
                    for i in range(max(2, self.budget.concurrency))]
            return _Plan(runs, {}, [0.0] * len(runs), identical=True)
        if kind == 3 and self.publisher.rollback and (target := self._rollback_target(types[0])):
            runs = [self._publish_run("publisher 1", {types[0]: _input(self.dialect, types[0], f"{tag}-1", rng)}, tag),
                    self._rollback_run("rollback 2", *target)]
            paused = 0
        elif kind in (1, 3) and two_types:
            both = {t: _input(self.dialect, t, f"{tag}-1", rng) for t in types[:2]}
            runs = [self._publish_run("publisher 1", both, tag),
                    self._publish_run("publisher 2", {types[0]: _input(self.dialect, types[0], f"{tag}-2", rng)}, tag)]
            paused = 1 if kind == 1 else None
        else:
            runs = [self._publish_run(f"publisher {i + 1}",
                                      {types[i % len(types)]: _input(self.dialect, types[i % len(types)],
                                                                     f"{tag}-{i + 1}", rng)}, tag)
                    for i in range(self.budget.concurrency)]
            paused = 0 if kind in (0, 1) and len(runs) > 1 else None
        kills = {} if paused is not None else {
            i: self._kill_delay(runs[i], rng) for i in range(len(runs)) if rng.random() < self.budget.kill_probability}
        # Runs start within a fifth of a run's wall time, so their work lines up differently.
        starts = [rng.uniform(0, self.spread) for _ in runs]
        return _Plan(runs, {i: starts[i] + delay for i, delay in kills.items()}, starts, paused)

    def _kill_delay(self, run: _Run, rng: random.Random) -> float:
        """Seconds into its run a kill comes: ``--kill-delay``, or between 0.6 and 0.95
        of how long runs with as many inputs took lately (past start-up, before the
        end; a run of one artifact is not timed by one of three)."""
        if self.budget.kill_delay:
            return rng.uniform(*self.budget.kill_delay)
        walls = self.walls.get(len(run.inputs)) or [w for ws in self.walls.values() for w in ws]
        wall = statistics.median(walls[-15:])
        return rng.uniform(0.6 * wall, 0.95 * wall)

    def _note_wall(self, run: _Run, invocation: Invocation) -> None:
        if invocation.exit_code == 0 and not invocation.killed and not invocation.paused and invocation.ended:
            self.walls.setdefault(len(run.inputs), []).append(invocation.ended - invocation.started)

    def _rollback_target(self, published: str) -> tuple[str, dict[str, str]] | None:
        """The latest earlier manifest, from history (pubsafe's dialect keeps one), that
        differs from current in a type other than ``published``, the one the paused
        publish writes: a rollback whose only change that publish overwrites anyway
        loses nothing in any order, and its race could not show a lost update."""
        contents = read_store(self.store)
        current = self._mapping(contents.get(current_key(T, S)))
        entries = []
        for key, data in contents.items():
            if key.startswith(f"{HISTORY}{T}/{S}/"):
                try:
                    entry = json.loads(data)
                    entries.append((entry["manifest"]["updated_at"], key.rsplit("/", 1)[-1][:-5],
                                    {t: self._key(u) for t, u in entry["manifest"]["current"].items()}))
                except (ValueError, KeyError, TypeError):
                    continue
        current = current or {}
        earlier = [e for e in sorted(entries) if any(e[2].get(t) != current.get(t)
                                                     for t in set(e[2]) | set(current) if t != published)]
        return (earlier[-1][1], earlier[-1][2]) if earlier else None

    # -- the rounds --------------------------------------------------------------------

    def setup(self) -> None:
        """A first, unkilled publish of every type (and a second, so history has a target,
        and one of a single type); their wall times calibrate when kills come. With the
        dialect ``auto``, the first publishes upstream's typed inputs (any publisher
        takes them), and its records say whose rules the rest follows."""
        rng = random.Random(f"{self.budget.seed}:setup")
        walls = []
        for n in range(2):
            dialect = "recsys-pipelines" if self.dialect == "auto" else self.dialect
            inputs = {t: _input(dialect, t, f"setup{n}", rng) for t in _types(dialect)}
            if self.publisher.one_artifact_at_a_time:
                for type_, given in inputs.items():
                    walls.append(self._setup_run(self._publish_run("setup", {type_: given}, f"setup{n}")))
            else:
                walls.append(self._setup_run(self._publish_run("setup", inputs, f"setup{n}")))
            if self.dialect == "auto":
                self._use_dialect(detect(self.store).name)
        if not self.publisher.one_artifact_at_a_time:
            types = _types(self.dialect)
            single = {types[0]: _input(self.dialect, types[0], "setup2", rng)}
            walls.append(self._setup_run(self._publish_run("setup", single, "setup2")))
        solo = sorted(walls)[len(walls) // 2]
        self.spread = 0.2 * solo
        # Others still running 10 runs' time after a pause are waiting on the paused one.
        self.pause_limit = max(2.0, 10 * solo)
        contents = read_store(self.store)
        for violation in self._check_records(contents):
            self._record(violation, [], contents, contents, self._replay(self.budget.start_round), [])
        self._note_seen(contents)

    def _use_dialect(self, name: str) -> None:
        self.dialect = self.oracle.dialect = name
        if self.publisher.rollback and name != "pubsafe":
            raise InvalidInput(f"the publisher writes {name}'s records, and --rollback needs a writer that keeps "
                               "manifest history (the pubsafe dialect): leave --rollback out")

    def _setup_run(self, run: _Run) -> float:
        """One run of the setup, which must start and work, alone and undisturbed."""
        try:
            return self._rerun_checked(run, fatal=True)
        except OSError as exc:
            raise InvalidInput(f"the publisher cannot start: {run.argv[0]!r}: {exc.strerror or exc}; fix the "
                               "--publish template (its first word is the program to run)") from None

    def round(self, number: int) -> None:
        """One round; a race round whose pause did not land (the publisher swapped
        before pubsafe stopped it, or was stopped holding a lock the others then waited
        on), or a kill round all of whose kills came after their runs had ended (and
        none of whose runs failed), is tried again, up to ``ROUND_ATTEMPTS`` times in
        all, so a fast publisher is still raced and killed rather than judged on rounds
        that exercised nothing."""
        for attempt in range(ROUND_ATTEMPTS):
            if self._attempt(number, attempt) is not False:
                return

    def _attempt(self, number: int, attempt: int) -> bool | None:
        """Run the round; did its pause land, did any of its kills land or its runs fail,
        did its same-input runs run together (None: it has none of these)?"""
        started = time.monotonic()
        plan = self._plan(number, attempt)
        runs, kills, paused = plan.runs, plan.kills, plan.paused
        before = read_store(self.store)
        pause = {} if paused is None else {paused: self._wrote_a_blob(runs[paused], before)}
        on_pause = {} if paused is None else {paused: self._current_unchanged(before)}
        # Same-input runs: read their records over and over, a read every half millisecond.
        records = [f"{RECORDS}{T}/{S}/{t}/" for t in runs[0].inputs] if plan.identical else []
        batch_started = time.monotonic()
        with CurrentWatcher(self.store, current_key(T, S), self.store.root_uri, self.oracle,
                            pause=SAME_INPUT_READS if plan.identical else 0.005, records=records,
                            known=[k for k in before if k.startswith(RECORDS)]) as watcher:
            invocations = run_together([(r.name, r.argv) for r in runs], kills, starts=plan.starts,
                                       pause_when=pause, on_pause=on_pause, timeout=self.budget.timeout,
                                       pause_limit=self.pause_limit)
        process_seconds = time.monotonic() - batch_started
        for run, invocation in zip(runs, invocations):
            run.invocation = invocation
            self._note_wall(run, invocation)
        after = read_store(self.store)
        self.counts["rounds"] += 1
        self.counts["invocations"] += len(runs)
        self.counts["killed"] += sum(i.killed for i in invocations)
        self.counts["missed_kills"] += sum(not invocations[i].killed for i in kills)  # it had ended by then
        self.counts["current_reads"] += watcher.reads
        self.counts["record_reads"] += watcher.record_reads
        history = [e for i, inv in enumerate(invocations) for e in inv.events(2 * i)]
        replay = self._replay(number)
        if watcher.record_sighting:  # first: it says when the reader saw each version
            self._record(watcher.record_sighting.violation, runs, before, after, replay, history)
        for key, (_, data) in watcher.first_seen.items():
            if whole_record(data):
                self.oracle.first_seen_records.setdefault(key, data)
        for violation in self._check_at_rest(after):
            self._record(violation, runs, before, after, replay, history)
        if watcher.sighting:
            self._record_sighting(watcher.sighting, runs, before, after, replay, history)
        if plan.identical:
            self._judge_same_inputs(runs, after, replay, history)
        else:
            self._judge_races(runs, before, after, replay, history)
        self._count_leftovers(after)
        for run in runs:
            if not run.invocation or not run.invocation.acknowledged:
                process_seconds += self._rerun_checked(run, replay=replay, history=history)
        together = plan.identical and max(i.started for i in invocations) < min(i.ended for i in invocations)
        if together:  # and once more, alone, after they have all returned
            self.counts["same_input_rounds"] += 1
            process_seconds += self._rerun_checked(runs[0], replay=replay, history=history, republish=True)
        final = read_store(self.store)
        for violation in self._check_at_rest(final):
            self._record(violation, runs, before, final, replay, history)
        self._note_seen(final)
        self.harness_seconds += time.monotonic() - started - process_seconds
        if plan.identical:
            return together
        if paused is None:
            exercised = any(invocations[i].killed for i in kills) or any(i.exit_code != 0 for i in invocations)
            return None if not kills or exercised else False
        stalled = invocations[paused].stalled  # paused holding a lock the others waited on: serial
        landed = invocations[paused].paused and self.paused_in_time and not stalled
        self.counts["paused_races" if landed else "stalled_pauses" if stalled else "missed_pauses"] += 1
        if landed:
            race = _race_guarantee(runs)
            self.raced[race] = self.raced.get(race, 0) + 1
        return landed

    def _wrote_a_blob(self, run: _Run, before: dict[str, bytes]) -> Callable[[], bool]:
        """Has ``run`` put a new blob in the store? A publisher that reads current first
        has read it by then: pausing it there lets the others swap under it."""
        prefixes = [f"{T}/{S}/{type_}/" for type_ in run.inputs]
        return lambda: any(key not in before for prefix in prefixes for key in self.store.list(prefix))

    def _current_unchanged(self, before: dict[str, bytes]) -> Callable[[], None]:
        """Called once the paused run is stopped: is current still as before the round
        (else the run swapped before the pause took hold, and it raced nothing)? Kept in
        ``self.paused_in_time``."""
        self.paused_in_time = False

        def check() -> None:
            key = current_key(T, S)
            self.paused_in_time = read_keys(self.store, [key])[key] == before.get(key)

        return check

    def _rerun_checked(self, run: _Run, *, replay: str = "", history: list[Event] | None = None,
                       fatal: bool = False, republish: bool = False) -> float:
        """G3: the same request again, alone and unkilled: exit 0, and current holds it.
        ``republish``: after runs that all returned (a retry after success), not after a
        kill or failure. ``fatal``: a setup run, which must work, or nothing can be judged."""
        began = time.monotonic()
        label = "republished alone" if republish else "run" if fatal else "re-run"
        (again,) = run_together([(f"{run.name} ({label})", run.argv)], {}, timeout=self.budget.timeout)
        spent = time.monotonic() - began
        self._note_wall(run, again)
        if not fatal:
            self.counts["republishes" if republish else "reruns"] += 1
        problem = None
        what = f"{run.name} {label} with the same inputs"
        if again.exit_code != 0:
            problem = f"{what} exited {again.exit_code}: {again.stderr.strip()[-200:]}"
        else:
            contents = read_store(self.store)
            holds = self._holders(contents, {run.name: run})
            if run.kind == "publish" and any(holds.get(t) != run.name for t in run.inputs):
                problem = f"{what} exited 0, yet current does not hold its inputs ({holds})"
            elif run.kind == "rollback" and self._mapping(contents.get(current_key(T, S))) != run.target:
                problem = f"{what} exited 0, yet current is not manifest {run.version[:12]}"
        if problem is not None:
            if fatal:
                raise InvalidInput(
                    f"blackbox judges a publisher that works alone and undisturbed, and this one did not: {problem}. "
                    f"The command was: {shlex.join(run.argv)}. Check that the --publish template passes {{store}}, "
                    "{tenant}, {surface} and the artifacts where the publisher expects them, and --dialect")
            before = read_store(self.store)
            self._record(Violation(Guarantee.G3, problem), [run], before, before, replay,
                         [*(history or []), *again.events(100)])
        return spent

    def _check_at_rest(self, contents: dict[str, bytes]) -> list[Violation]:
        """G1 (blobs), G2 (current) and G3 (records) on the store as read after the runs."""
        return self._check_blobs(contents) + check_currents(contents, self.store.root_uri, self.oracle) + \
            self._check_records(contents)

    def _check_records(self, contents: dict[str, bytes]) -> list[Violation]:
        """G3: a registry record, once read whole, keeps its bytes and stays (first
        reads: ``self.oracle.first_seen_records``, fed by every read of the store and by
        the reader watching same-input rounds)."""
        first = self.oracle.first_seen_records
        found = []
        for violation in check_records(contents, self.oracle):
            key = violation.key
            if key in first and key in contents and first[key] != contents[key]:
                violation = Violation(Guarantee.G3, f"{violation.message}: {describe_change(first[key], contents[key])}"
                                                    " (a record is written once, never rewritten)", key)
            found.append(violation)
        found += [Violation(Guarantee.G3, f"registry record {key} was removed (records are append-only)", key)
                  for key, data in first.items()
                  if key not in contents and whole_record(data) and not is_tombstone(data)]
        return found

    def _judge_same_inputs(self, runs: list[_Run], after: dict[str, bytes], replay: str,
                           history: list[Event]) -> None:
        """G3: runs with the same inputs that all returned leave current holding them."""
        if not all(r.invocation and r.invocation.acknowledged for r in runs):
            return  # those that failed are re-run, and judged, alone
        holds = self._holders(after, {runs[0].name: runs[0]})
        if any(holds.get(t) != runs[0].name for t in runs[0].inputs):
            self._record(Violation(Guarantee.G3, f"{len(runs)} publishes of the same inputs, started together, all "
                                                 f"exited 0, yet current does not hold those inputs ({holds})"),
                         runs, after, after, replay, history)

    # -- judging -------------------------------------------------------------------------

    def _key(self, uri: str) -> str:
        """The store key a manifest URI names: every URI the harness compares goes through here."""
        return self.oracle.key_of(uri, self.store.root_uri)

    def _mapping(self, data: bytes | None) -> dict[str, str] | None:
        """A current manifest's mapping as store keys; None if absent or unreadable."""
        if data is None:
            return None
        try:
            return {t: self._key(uri) for t, uri in parse_manifest(data).current.items()}
        except ValueError:
            return None

    def _holders(self, contents: dict[str, bytes], runs: dict[str, _Run]) -> dict[str, str]:
        """For each type in current: the run whose input its blob holds, or ``was:<key>``."""
        mapping = self._mapping(contents.get(current_key(T, S))) or {}
        holders = {}
        for type_, key in mapping.items():
            blob = contents.get(key, b"")
            holder = next((name for name, run in runs.items()
                           if type_ in run.inputs and _holds(self.dialect, blob, run.inputs[type_])), None)
            holders[type_] = holder or f"was:{key}"
        return holders

    def _judge_races(self, runs: list[_Run], before: dict[str, bytes], after: dict[str, bytes], replay: str,
                     history: list[Event]) -> None:
        base = {t: f"was:{k}" for t, k in (self._mapping(before.get(current_key(T, S))) or {}).items()}
        ops = []
        for run in runs:
            inv = run.invocation
            assert inv is not None
            effect = ({t: run.name for t in run.inputs} if run.kind == "publish"
                      else {t: f"was:{k}" for t, k in run.target.items()})
            ops.append(RaceOp(run.name, run.kind, effect, inv.acknowledged, int(inv.started * 1000),
                              int(inv.ended * 1000)))
        final = self._holders(after, {r.name: r for r in runs})
        why = lost_update(base, ops, final)
        if why is None:
            return
        self.counts["lost_updates"] += 1
        guarantee = _race_guarantee(runs)
        text = f"{why} ({self._describe(runs)})"
        if self.publisher.guarded:
            self._record(Violation(guarantee, f"the publisher claims to detect concurrent publishes, yet {text}"),
                         runs, before, after, replay, history)
        else:
            self.witnesses.setdefault(guarantee, text)
            self.witness_timelines.setdefault(guarantee, history)

    def _check_blobs(self, contents: dict[str, bytes]) -> list[Violation]:
        found = []
        for key, first in self.seen.items():
            data = contents.get(key)
            if data is None:
                found.append(Violation(Guarantee.G1, f"blob {key}, seen before, is gone", key))
            elif data != first:
                ref = parse_blob_key(key)
                if ref is not None and self.oracle.valid(data, ref.version) and self.dialect == "recsys-pipelines":
                    self.counts["rewrites"] += 1  # same version, new bytes: upstream's republish
                    self.seen[key] = data
                else:
                    found.append(Violation(Guarantee.G1, f"blob {key} changed after it was first seen", key))
        return found

    def _note_seen(self, contents: dict[str, bytes]) -> None:
        for key, data in contents.items():
            ref = parse_blob_key(key)
            if ref is not None and key not in self.seen and self.oracle.valid(data, ref.version):
                self.seen[key] = data

    def _count_leftovers(self, contents: dict[str, bytes]) -> None:
        referenced = set()
        for key, data in contents.items():
            if key.startswith((CURRENT, HISTORY)):
                try:
                    doc = json.loads(data)
                    mapping = doc["manifest"]["current"] if key.startswith(HISTORY) else doc["current"]
                    referenced |= {self._key(u) for u in mapping.values()}
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue
        orphans = [k for k in contents if parse_blob_key(k) and k not in referenced
                   and ((r := self.oracle.record(k, contents)) is None or is_tombstone(r))]
        temps = [d.key for d in self.store.debris() if d.kind == "temp"]
        self.orphans.update(orphans)
        self.temps.update(temps)
        self.counts["orphans"], self.counts["temp_files"] = len(self.orphans), len(self.temps)
        if self.orphans or self.temps:
            example = min(self.orphans) if self.orphans else min(self.temps)
            self.witnesses[Guarantee.R4] = (f"killed runs left {len(self.orphans)} orphan blob(s) and {len(self.temps)} "
                                            f"temp file(s) over the run (before their re-runs), e.g. {example}")

    # -- reporting -----------------------------------------------------------------------

    def _describe(self, runs: list[_Run]) -> str:
        parts = []
        for run in runs:
            inv = run.invocation
            if inv is None:
                continue
            end = "killed" if inv.killed else f"exit {inv.exit_code}"
            what = ", ".join(run.inputs) if run.kind == "publish" else f"to {run.version[:12]}"
            parts.append(f"{run.name} {run.kind} {what}: {inv.started:.3f}s-{inv.ended:.3f}s, {end}")
        return "; ".join(parts)

    def _replay(self, number: int) -> str:
        return f"--seed {self.budget.seed} --start-round {number} --rounds 1"

    def _record_sighting(self, sighting: Sighting, runs: list[_Run], before: dict[str, bytes],
                         after: dict[str, bytes], replay: str, history: list[Event]) -> None:
        """A violation the watching reader saw while the round ran, with what it read."""
        shown = sighting.data[:120].decode("utf-8", "replace") + ("..." if len(sighting.data) > 120 else "")
        message = (f"a reader reading current while the round ran saw, {sighting.seconds * 1000:.0f} ms in: "
                   f"{sighting.violation.message} (it read {len(sighting.data)} bytes: {shown!r})")
        self._record(Violation(sighting.violation.guarantee, message, sighting.violation.key), runs, before, after,
                     replay, history)

    def _record(self, violation: Violation, runs: list[_Run], before: dict[str, bytes], after: dict[str, bytes],
                replay: str, history: list[Event]) -> None:
        if violation.guarantee in self.broken:
            return
        steps = []
        for run in runs:
            inv = run.invocation
            if inv is None:
                continue
            end = "SIGKILLed" if inv.killed else f"exited {inv.exit_code}"
            steps.append(f"{run.name}: {shlex.join(inv.argv)}  ({inv.started:.3f}s-{inv.ended:.3f}s, {end})")
            for stream, text in (("stdout", inv.stdout), ("stderr", inv.stderr)):
                if text.strip():
                    steps.append(f"    {stream}: {text.strip()[-200:]}")
        added = sorted(set(after) - set(before))
        changed = sorted(k for k in set(after) & set(before) if after[k] != before[k])
        removed = sorted(set(before) - set(after))
        steps += [f"store: +{k}" for k in added] + [f"store: ~{k}" for k in changed] + [f"store: -{k}" for k in removed]
        marker = Event("checker", "violation", str(violation.guarantee), result="violation", time=len(history))
        self.broken[violation.guarantee] = Counterexample(
            message=violation.message, steps=steps, replay=replay, timeline=[*history, marker])


def run_blackbox(
    publisher: Publisher,
    store_spec: str,
    *,
    open_store: Callable[[], Store],
    dialect: str = "pubsafe",
    budget: Budget = Budget(),
    blob_spec: str | None = None,
    root_path: str | None = None,
    replay_prefix: str = "pubsafe blackbox",
    progress: Callable[[int], None] = lambda n: None,
) -> BlackboxResult:
    """Run ``budget.rounds`` rounds against a fresh store; one verdict per judged guarantee.

    InvalidInput (nothing judged) for what the harness cannot run: a template
    ``check_publisher`` refuses, a store that is not empty, a dialect it does not
    know, a publisher that cannot start or does not work alone and undisturbed."""
    started = time.perf_counter()
    check_publisher(publisher, blob_store=blob_spec is not None)
    if dialect not in DIALECTS:
        raise InvalidInput(f"dialect {dialect!r} is not one of {', '.join(DIALECTS)}")
    store = open_store()
    if store.list(""):
        raise InvalidInput(f"the store {store_spec!r} is not empty; blackbox fills its store with test data, so give "
                           "it one of its own (a new directory, or an empty prefix)")
    with tempfile.TemporaryDirectory(prefix="pubsafe-blackbox-") as tmp:
        harness = _Harness(publisher, store, store_spec, blob_spec, dialect, budget, Path(tmp), root_path)
        harness.setup()
        for number in range(budget.start_round, budget.start_round + budget.rounds):
            harness.round(number)
            progress(1)
    for counterexample in harness.broken.values():
        counterexample.replay = f"{replay_prefix} {counterexample.replay} (same inputs and kills; timing differs)"
    guarantees = [Guarantee.G1, Guarantee.G2, Guarantee.G3, Guarantee.R2, Guarantee.R4]
    if not publisher.one_artifact_at_a_time:
        guarantees.insert(3, Guarantee.R1)
    if publisher.rollback:
        guarantees.insert(-1, Guarantee.R3)
    coverage = {k: v for k, v in harness.counts.items()}
    verdicts = [_verdict(g, publisher.guarded, harness, coverage) for g in guarantees]
    try:
        pubsafe_version = version("pubsafe")
    except PackageNotFoundError:
        pubsafe_version = "0+unknown"
    report = Report(pubsafe_version=pubsafe_version, target=publisher.publish, mode="guarded" if publisher.guarded
                    else "default", profile=f"blackbox(rounds={budget.rounds}, concurrency={budget.concurrency}, "
                    f"kill={budget.kill_probability}, dialect={harness.dialect}"
                    f"{' (detected)' if harness.detected else ''})", seed=budget.seed,
                    seconds=round(time.perf_counter() - started, 3), probes=[], verdicts=verdicts)
    rounds = max(1, harness.counts["rounds"])
    return BlackboxResult(report, harness.counts["rounds"], harness.harness_seconds / rounds, store_spec)


def _verdict(guarantee: Guarantee, guarded: bool, harness: _Harness, coverage: dict[str, int]) -> Verdict:
    expected = guarantee.expected(guarded=guarded)
    common: dict[str, Any] = {"guarantee": guarantee, "title": guarantee.heading, "expected": expected, "coverage": coverage}
    if guarantee in harness.broken:
        return Verdict(**common, status=Status.BREAKS, counterexample=harness.broken[guarantee])
    if guarantee in harness.witnesses:
        return Verdict(**common, status=Status.DOCUMENTED if expected == Status.DOCUMENTED else Status.BREAKS,
                       witness=harness.witnesses[guarantee],
                       witness_timeline=harness.witness_timelines.get(guarantee, []))
    if guarantee in (Guarantee.R1, Guarantee.R2, Guarantee.R3) and not harness.raced.get(guarantee):
        stalls = harness.counts["stalled_pauses"]
        held = (f"; {stalls} pause(s) held up the others, which waited on the paused run (a lock), so those runs "
                "were serial" if stalls else "")
        return Verdict(**common, status=Status.UNKNOWN, error=(
            f"not exercised: no {guarantee.value} round caught a publisher between its first blob and its swap "
            f"(it finished before pubsafe could pause it, {ROUND_ATTEMPTS} tries per round{held}); a HOLDS here "
            "would mean nothing. Run more --rounds, or a publisher that does more work between reading and swapping "
            "current"))
    if guarantee is Guarantee.G3 and not (harness.counts["reruns"] and harness.counts["same_input_rounds"]):
        missing = []
        if not harness.counts["reruns"]:
            missing.append(f"no run was killed or failed ({harness.counts['missed_kills']} kill(s) came after the run "
                           "had ended), so no retry after a crash was judged")
        if not harness.counts["same_input_rounds"]:
            missing.append(f"no publishes of the same inputs ran together (every {KINDS}th round starts some), so "
                           "neither a republish nor a record written by two at once was judged")
        return Verdict(**common, status=Status.UNKNOWN, error=(
            f"not exercised: {'; and '.join(missing)}; a HOLDS here would mean nothing. Run more --rounds (at least "
            f"{KINDS}) or a higher --kill-probability"))
    if expected == Status.DOCUMENTED:
        return Verdict(**common, status=Status.HOLDS, witness="never observed in this run")
    return Verdict(**common, status=Status.HOLDS)


def _race_guarantee(runs: list[_Run]) -> Guarantee:
    """Which race a round's runs make: a rollback (R3), two publishes sharing a type
    (R1), or publishes of different types (R2)."""
    if any(r.kind == "rollback" for r in runs):
        return Guarantee.R3
    if len({t for r in runs for t in r.inputs}) < sum(len(r.inputs) for r in runs):
        return Guarantee.R1
    return Guarantee.R2
