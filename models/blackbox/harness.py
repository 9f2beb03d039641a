"""The rounds of a black-box run: plan each from the seed, run the publisher's
processes together (kills, a pause, a watching reader), re-run what failed alone,
and hand every outcome to the judging half (``judging.Judging``)."""

from __future__ import annotations

import json
import random
import shlex
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pubsafe.faults.history import Event
from pubsafe.faults.processes import Invocation, run_together
from pubsafe.refimpl.dialects import detect
from pubsafe.refimpl.errors import InvalidInput
from pubsafe.refimpl.store import Store

from ..checkers import Violation
from ..checkers.oracle import HISTORY, RECORDS, current_key, read_store
from ..checkers.reading import read_keys
from ..checkers.retry import whole_record
from ..guarantees import Guarantee
from .inputs import Plan, Run, S, T, input_for, race_guarantee, types_of
from .judging import Judging
from .publisher import Budget, Publisher, expand
from .watch import CurrentWatcher

__all__ = ["Harness", "KINDS", "ROUND_ATTEMPTS"]

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


class Harness(Judging):
    def __init__(self, publisher: Publisher, store: Store, store_spec: str, blob_spec: str | None, dialect: str,
                 budget: Budget, workdir: Path, root_path: str | None) -> None:
        super().__init__(publisher, store, dialect, root_path)
        self.budget, self.store_spec, self.blob_spec, self.workdir = budget, store_spec, blob_spec, workdir
        self.detected = dialect == "auto"
        self.raced: dict[Guarantee, int] = {}  #: race rounds whose pause landed, per guarantee
        self.walls: dict[int, list[float]] = {}  #: seconds of runs that ended unkilled and unpaused, by inputs
        self.paused_in_time = False
        self.pause_limit = 10.0  #: seconds a pause may hold up the others (set from the setup's runs)
        self.harness_seconds = 0.0

    def _argv(self, template: str, **values: Any) -> list[str]:
        return expand(template, values)

    def _publish_run(self, name: str, inputs: dict[str, dict[str, Any]], tag: str) -> Run:
        files = []
        for type_, given in inputs.items():
            path = self.workdir / f"{tag}-{name.replace(' ', '-')}-{type_}.json"
            path.write_text(json.dumps(given, ensure_ascii=False))
            files.append((type_, path))
        values = {"store": self.store_spec, "blob_store": self.blob_spec or "", "tenant": T, "surface": S,
                  "artifacts": files, "type": files[0][0], "file": files[0][1]}
        return Run(name, "publish", inputs, argv=self._argv(self.publisher.publish, **values))

    def _rollback_run(self, name: str, version: str, target: dict[str, str]) -> Run:
        assert self.publisher.rollback is not None
        values = {"store": self.store_spec, "blob_store": self.blob_spec or "", "tenant": T, "surface": S,
                  "version": version}
        return Run(name, "rollback", target=target, version=version,
                    argv=self._argv(self.publisher.rollback, **values))

    def _plan(self, number: int, attempt: int = 0) -> Plan:
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
        types = types_of(self.dialect)
        tag, kind = f"r{number}" + (f"a{attempt}" if attempt else ""), number % KINDS
        two_types = not self.publisher.one_artifact_at_a_time
        paused: int | None = None
        if kind == 4:
            same = self._publish_run("publisher 1", {t: input_for(self.dialect, t, f"{tag}-1", rng)
                                                     for t in types[:2 if two_types else 1]}, tag)
            runs = [Run(f"publisher {i + 1}", "publish", same.inputs, argv=same.argv)
                    for i in range(max(2, self.budget.concurrency))]
            return Plan(runs, {}, [0.0] * len(runs), identical=True)
        if kind == 3 and self.publisher.rollback and (target := self._rollback_target(types[0])):
            first = {types[0]: input_for(self.dialect, types[0], f"{tag}-1", rng)}
            runs = [self._publish_run("publisher 1", first, tag), self._rollback_run("rollback 2", *target)]
            paused = 0
        elif kind in (1, 3) and two_types:
            both = {t: input_for(self.dialect, t, f"{tag}-1", rng) for t in types[:2]}
            one = {types[0]: input_for(self.dialect, types[0], f"{tag}-2", rng)}
            runs = [self._publish_run("publisher 1", both, tag), self._publish_run("publisher 2", one, tag)]
            paused = 1 if kind == 1 else None
        else:
            runs = [self._publish_run(f"publisher {i + 1}",
                                      {types[i % len(types)]: input_for(self.dialect, types[i % len(types)],
                                                                     f"{tag}-{i + 1}", rng)}, tag)
                    for i in range(self.budget.concurrency)]
            paused = 0 if kind in (0, 1) and len(runs) > 1 else None
        kills = {} if paused is not None else {
            i: self._kill_delay(runs[i], rng) for i in range(len(runs)) if rng.random() < self.budget.kill_probability}
        # Runs start within a fifth of a run's wall time, so their work lines up differently.
        starts = [rng.uniform(0, self.spread) for _ in runs]
        return Plan(runs, {i: starts[i] + delay for i, delay in kills.items()}, starts, paused)

    def _kill_delay(self, run: Run, rng: random.Random) -> float:
        """Seconds into its run a kill comes: ``--kill-delay``, or between 0.6 and 0.95
        of how long runs with as many inputs took lately (past start-up, before the
        end; a run of one artifact is not timed by one of three)."""
        if self.budget.kill_delay:
            return rng.uniform(*self.budget.kill_delay)
        walls = self.walls.get(len(run.inputs)) or [w for ws in self.walls.values() for w in ws]
        wall = statistics.median(walls[-15:])
        return rng.uniform(0.6 * wall, 0.95 * wall)

    def _note_wall(self, run: Run, invocation: Invocation) -> None:
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

    def setup(self) -> None:
        """A first, unkilled publish of every type (and a second, so history has a target,
        and one of a single type); their wall times calibrate when kills come. With the
        dialect ``auto``, the first publishes upstream's typed inputs (any publisher
        takes them), and its records say whose rules the rest follows."""
        rng = random.Random(f"{self.budget.seed}:setup")
        walls = []
        for n in range(2):
            dialect = "recsys-pipelines" if self.dialect == "auto" else self.dialect
            inputs = {t: input_for(dialect, t, f"setup{n}", rng) for t in types_of(dialect)}
            if self.publisher.one_artifact_at_a_time:
                for type_, given in inputs.items():
                    walls.append(self._setup_run(self._publish_run("setup", {type_: given}, f"setup{n}")))
            else:
                walls.append(self._setup_run(self._publish_run("setup", inputs, f"setup{n}")))
            if self.dialect == "auto":
                self._use_dialect(detect(self.store).name)
        if not self.publisher.one_artifact_at_a_time:
            types = types_of(self.dialect)
            single = {types[0]: input_for(self.dialect, types[0], "setup2", rng)}
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

    def _setup_run(self, run: Run) -> float:
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
        for run, invocation in zip(runs, invocations, strict=True):
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
            race = race_guarantee(runs)
            self.raced[race] = self.raced.get(race, 0) + 1
        return landed

    def _wrote_a_blob(self, run: Run, before: dict[str, bytes]) -> Callable[[], bool]:
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

    def _rerun_checked(self, run: Run, *, replay: str = "", history: list[Event] | None = None,
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

    def _replay(self, number: int) -> str:
        return f"--seed {self.budget.seed} --start-round {number} --rounds 1"
