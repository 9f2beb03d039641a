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
  leaves current holding its inputs;
- **R1/R2/R3** a final current that no serial order of the acknowledged runs explains
  (``checkers.races``) is a lost update, counted, with an example;
- **R4** orphan blobs and temp files of interrupted writes, counted.

Placeholders in the templates: ``{store}`` (and ``{blob_store}``), ``{tenant}``,
``{surface}``, ``{artifacts}`` (one ``TYPE=FILE`` word per artifact), or ``{type}`` and
``{file}`` for a publisher of one artifact at a time; ``{version}`` (rollback: the
manifest version to return to). Inputs and kill decisions follow from ``--seed`` and
the round number, so ``--start-round R --rounds 1`` replays a round's inputs and
kills (the timing of a real process never replays exactly).
"""

from __future__ import annotations

import json
import random
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
from pubsafe.refimpl.store import Store

from .checkers import Violation
from .checkers.manifest_last import check_currents, mapping_keys
from .checkers.races import RaceOp, lost_update
from .guarantees import Guarantee, Status
from .oracle import CURRENT, HISTORY, Oracle, canonical, current_key, is_tombstone, parse_blob_key, read_store
from .reading import read_keys
from .verdicts import Counterexample, Report, Verdict
from .watch import CurrentWatcher, Sighting

__all__ = ["Budget", "Publisher", "BlackboxResult", "run_blackbox", "PLACEHOLDERS"]

PLACEHOLDERS = ("store", "blob_store", "tenant", "surface", "artifacts", "type", "file", "version")
T, S = "acme", "home"
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
    """Does this stored blob hold that input?"""
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


class _Harness:
    def __init__(self, publisher: Publisher, store: Store, store_spec: str, blob_spec: str | None, dialect: str,
                 budget: Budget, workdir: Path, root_path: str | None) -> None:
        self.publisher, self.store, self.budget = publisher, store, budget
        self.store_spec, self.blob_spec, self.dialect, self.workdir = store_spec, blob_spec, dialect, workdir
        self.oracle = Oracle(dialect=dialect, root_path=root_path)
        self.seen: dict[str, bytes] = {}  #: valid blobs as first seen
        self.broken: dict[Guarantee, Counterexample] = {}
        self.witnesses: dict[Guarantee, str] = {}
        self.witness_timelines: dict[Guarantee, list[Event]] = {}
        self.counts = {"rounds": 0, "invocations": 0, "killed": 0, "reruns": 0, "lost_updates": 0,
                       "missed_kills": 0, "paused_races": 0, "missed_pauses": 0, "stalled_pauses": 0,
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
        words = []
        for word in shlex.split(template):
            if word == "{artifacts}":
                words += [f"{t}={f}" for t, f in values["artifacts"]]
                continue
            for name in PLACEHOLDERS:
                token = "{" + name + "}"
                if token in word:
                    word = word.replace(token, str(values.get(name, "")))
            words.append(word)
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

    def _plan(self, number: int, attempt: int = 0) -> tuple[list[_Run], dict[int, float], list[float], int | None]:
        """What round ``number`` does, from the seed. Rounds cycle through four kinds:

        0: publishers of different types, one paused mid-publish (R2);
        1: one publishing two types, one publishing one of them, the latter paused (R1);
        2: publishers of different types, each killed at random (G1-G3, R4);
        3: a publish paused while a rollback runs (R3), with a rollback template;
           otherwise as 1, killed at random.
        A paused run is SIGSTOPped once its first blob is in the store (it has read
        current by then) and continued when the others have ended. ``attempt`` > 0: the
        same kind of round again, with fresh inputs, after a pause that did not land.
        """
        rng = random.Random(f"{self.budget.seed}:{number}" + (f":{attempt}" if attempt else ""))
        types = _types(self.dialect)
        tag, kind = f"r{number}" + (f"a{attempt}" if attempt else ""), number % 4
        two_types = not self.publisher.one_artifact_at_a_time
        paused: int | None = None
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
        return runs, {i: starts[i] + delay for i, delay in kills.items()}, starts, paused

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
        current = mapping_keys(contents.get(current_key(T, S)), self.store.root_uri)
        entries = []
        for key, data in contents.items():
            if key.startswith(f"{HISTORY}{T}/{S}/"):
                try:
                    entry = json.loads(data)
                    entries.append((entry["manifest"]["updated_at"], key.rsplit("/", 1)[-1][:-5],
                                    {t: self.oracle.key_of(u, self.store.root_uri)
                                     for t, u in entry["manifest"]["current"].items()}))
                except (ValueError, KeyError, TypeError):
                    continue
        current = current or {}
        earlier = [e for e in sorted(entries) if any(e[2].get(t) != current.get(t)
                                                     for t in set(e[2]) | set(current) if t != published)]
        return (earlier[-1][1], earlier[-1][2]) if earlier else None

    # -- the rounds --------------------------------------------------------------------

    def setup(self) -> None:
        """A first, unkilled publish of every type (and a second, so history has a target,
        and one of a single type); their wall times calibrate when kills come."""
        rng = random.Random(f"{self.budget.seed}:setup")
        walls = []
        types = _types(self.dialect)
        for n in range(2):
            run = self._publish_run("setup", {t: _input(self.dialect, t, f"setup{n}", rng) for t in types}, f"setup{n}")
            if self.publisher.one_artifact_at_a_time:
                for type_, given in run.inputs.items():
                    walls.append(self._rerun_checked(self._publish_run("setup", {type_: given}, f"setup{n}"), fatal=True))
            else:
                walls.append(self._rerun_checked(run, fatal=True))
        if not self.publisher.one_artifact_at_a_time:
            single = {types[0]: _input(self.dialect, types[0], "setup2", rng)}
            walls.append(self._rerun_checked(self._publish_run("setup", single, "setup2"), fatal=True))
        solo = sorted(walls)[len(walls) // 2]
        self.spread = 0.2 * solo
        # Others still running 10 runs' time after a pause are waiting on the paused one.
        self.pause_limit = max(2.0, 10 * solo)
        self._note_seen(read_store(self.store))

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
        """Run the round; did its pause land, or did any of its kills land or its runs fail
        (None: it has neither pause nor kills)?"""
        started = time.monotonic()
        runs, kills, starts, paused = self._plan(number, attempt)
        before = read_store(self.store)
        pause = {} if paused is None else {paused: self._wrote_a_blob(runs[paused], before)}
        on_pause = {} if paused is None else {paused: self._current_unchanged(before)}
        batch_started = time.monotonic()
        with CurrentWatcher(self.store, current_key(T, S), self.store.root_uri, self.oracle) as watcher:
            invocations = run_together([(r.name, r.argv) for r in runs], kills, starts=starts, pause_when=pause,
                                       on_pause=on_pause, timeout=self.budget.timeout, pause_limit=self.pause_limit)
        process_seconds = time.monotonic() - batch_started
        for run, invocation in zip(runs, invocations):
            run.invocation = invocation
            self._note_wall(run, invocation)
        after = read_store(self.store)
        self.counts["rounds"] += 1
        self.counts["invocations"] += len(runs)
        self.counts["killed"] += sum(i.killed for i in invocations)
        self.counts["missed_kills"] += sum(not invocations[i].killed for i in kills)  # it had ended by then
        history = [e for i, inv in enumerate(invocations) for e in inv.events(2 * i)]
        replay = self._replay(number)
        for violation in self._check_blobs(after) + check_currents(after, self.store.root_uri, self.oracle):
            self._record(violation, runs, before, after, replay, history)
        self.counts["current_reads"] += watcher.reads
        if watcher.sighting:
            self._record_sighting(watcher.sighting, runs, before, after, replay, history)
        self._judge_races(runs, before, after, replay, history)
        self._count_leftovers(after)
        for run in runs:
            if not run.invocation or not run.invocation.acknowledged:
                process_seconds += self._rerun_checked(run, replay=replay, history=history)
        final = read_store(self.store)
        for violation in self._check_blobs(final) + check_currents(final, self.store.root_uri, self.oracle):
            self._record(violation, runs, before, final, replay, history)
        self._note_seen(final)
        self.harness_seconds += time.monotonic() - started - process_seconds
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
                       fatal: bool = False) -> float:
        """G3: the same request again, alone and unkilled: exit 0, and current holds it."""
        began = time.monotonic()
        (again,) = run_together([(f"{run.name} (re-run)", run.argv)], {}, timeout=self.budget.timeout)
        spent = time.monotonic() - began
        self._note_wall(run, again)
        self.counts["reruns"] += not fatal
        problem = None
        if again.exit_code != 0:
            problem = f"{run.name}'s re-run with the same inputs exited {again.exit_code}: {again.stderr.strip()[-200:]}"
        else:
            contents = read_store(self.store)
            holds = self._holders(contents, {run.name: run})
            if run.kind == "publish" and any(holds.get(t) != run.name for t in run.inputs):
                problem = f"after {run.name}'s re-run exited 0, current does not hold its inputs ({holds})"
            elif run.kind == "rollback" and mapping_keys(contents.get(current_key(T, S)),
                                                         self.store.root_uri) != run.target:
                problem = f"after {run.name}'s re-run exited 0, current is not manifest {run.version[:12]}"
        if problem is not None:
            if fatal:
                raise RuntimeError(f"the publisher does not work at all: {problem}")
            before = read_store(self.store)
            self._record(Violation(Guarantee.G3, problem), [run], before, before, replay,
                         [*(history or []), *again.events(100)])
        return spent

    # -- judging -------------------------------------------------------------------------

    def _holders(self, contents: dict[str, bytes], runs: dict[str, _Run]) -> dict[str, str]:
        """For each type in current: the run whose input its blob holds, or ``was:<key>``."""
        mapping = mapping_keys(contents.get(current_key(T, S)), self.store.root_uri) or {}
        holders = {}
        for type_, key in mapping.items():
            blob = contents.get(key, b"")
            holder = next((name for name, run in runs.items()
                           if type_ in run.inputs and _holds(self.dialect, blob, run.inputs[type_])), None)
            holders[type_] = holder or f"was:{key}"
        return holders

    def _judge_races(self, runs: list[_Run], before: dict[str, bytes], after: dict[str, bytes], replay: str,
                     history: list[Event]) -> None:
        base = {t: f"was:{k}" for t, k in (mapping_keys(before.get(current_key(T, S)), self.store.root_uri) or {}).items()}
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
                    referenced |= {self.oracle.key_of(u, self.store.root_uri) for u in mapping.values()}
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
    """Run ``budget.rounds`` rounds against a fresh store; one verdict per judged guarantee."""
    started = time.perf_counter()
    store = open_store()
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
                    f"kill={budget.kill_probability}, dialect={dialect})", seed=budget.seed,
                    seconds=round(time.perf_counter() - started, 3), probes=[], verdicts=verdicts)
    rounds = max(1, harness.counts["rounds"])
    return BlackboxResult(report, harness.counts["rounds"], harness.harness_seconds / rounds, store_spec)


def _verdict(guarantee: Guarantee, guarded: bool, harness: _Harness, coverage: dict[str, int]) -> Verdict:
    expected = guarantee.expected(guarded=guarded)
    common = {"guarantee": guarantee, "title": guarantee.title, "expected": expected, "coverage": coverage}
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
    if guarantee is Guarantee.G3 and not harness.counts["reruns"]:
        return Verdict(**common, status=Status.UNKNOWN, error=(
            f"not exercised: no run was killed or failed ({harness.counts['missed_kills']} kill(s) came after the run "
            "had ended), so no retry was judged; a HOLDS here would mean nothing. Run more --rounds or a higher "
            "--kill-probability"))
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
