"""The judging half of the harness: what the store held and the runs acknowledged,
and what that means for each guarantee (kept as counterexamples, witnesses and counts).
``harness.Harness`` runs the rounds and hands each outcome here."""

from __future__ import annotations

import json
import shlex

from pubsafe.faults.history import Event
from pubsafe.refimpl.store import Store

from ..checkers import Violation
from ..checkers.manifest_last import check_currents
from ..checkers.oracle import CURRENT, HISTORY, Oracle, current_key, is_tombstone, parse_blob_key, parse_manifest
from ..checkers.races import RaceOp, lost_update
from ..checkers.retry import check_records, whole_record
from ..guarantees import Guarantee
from ..verdicts import Counterexample
from .inputs import Run, S, T, holds, race_guarantee
from .publisher import Publisher
from .watch import Sighting, describe_change

__all__ = ["Judging"]


class Judging:
    def __init__(self, publisher: Publisher, store: Store, dialect: str, root_path: str | None) -> None:
        self.publisher, self.store, self.dialect = publisher, store, dialect
        self.oracle = Oracle(dialect=dialect, root_path=root_path)
        self.seen: dict[str, bytes] = {}  #: valid blobs as first seen
        self.broken: dict[Guarantee, Counterexample] = {}
        self.witnesses: dict[Guarantee, str] = {}
        self.witness_timelines: dict[Guarantee, list[Event]] = {}
        self.counts = {"rounds": 0, "invocations": 0, "killed": 0, "reruns": 0, "lost_updates": 0,
                       "missed_kills": 0, "paused_races": 0, "missed_pauses": 0, "stalled_pauses": 0,
                       "same_input_rounds": 0, "republishes": 0, "record_reads": 0,
                       "rewrites": 0, "orphans": 0, "temp_files": 0, "current_reads": 0}
        self.orphans: set[str] = set()
        self.temps: set[str] = set()

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

    def _judge_same_inputs(self, runs: list[Run], after: dict[str, bytes], replay: str,
                           history: list[Event]) -> None:
        """G3: runs with the same inputs that all returned leave current holding them."""
        if not all(r.invocation and r.invocation.acknowledged for r in runs):
            return  # those that failed are re-run, and judged, alone
        holds = self._holders(after, {runs[0].name: runs[0]})
        if any(holds.get(t) != runs[0].name for t in runs[0].inputs):
            self._record(Violation(Guarantee.G3, f"{len(runs)} publishes of the same inputs, started together, all "
                                                 f"exited 0, yet current does not hold those inputs ({holds})"),
                         runs, after, after, replay, history)

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

    def _holders(self, contents: dict[str, bytes], runs: dict[str, Run]) -> dict[str, str]:
        """For each type in current: the run whose input its blob holds, or ``was:<key>``."""
        mapping = self._mapping(contents.get(current_key(T, S))) or {}
        holders = {}
        for type_, key in mapping.items():
            blob = contents.get(key, b"")
            holder = next((name for name, run in runs.items()
                           if type_ in run.inputs and holds(self.dialect, blob, run.inputs[type_])), None)
            holders[type_] = holder or f"was:{key}"
        return holders

    def _judge_races(self, runs: list[Run], before: dict[str, bytes], after: dict[str, bytes], replay: str,
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
        guarantee = race_guarantee(runs)
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
            self.witnesses[Guarantee.R4] = (f"killed runs left {len(self.orphans)} orphan blob(s) and "
                                            f"{len(self.temps)} temp file(s) over the run (before their re-runs), "
                                            f"e.g. {example}")

    def _describe(self, runs: list[Run]) -> str:
        parts = []
        for run in runs:
            inv = run.invocation
            if inv is None:
                continue
            end = "killed" if inv.killed else f"exit {inv.exit_code}"
            what = ", ".join(run.inputs) if run.kind == "publish" else f"to {run.version[:12]}"
            parts.append(f"{run.name} {run.kind} {what}: {inv.started:.3f}s-{inv.ended:.3f}s, {end}")
        return "; ".join(parts)

    def _record_sighting(self, sighting: Sighting, runs: list[Run], before: dict[str, bytes],
                         after: dict[str, bytes], replay: str, history: list[Event]) -> None:
        """A violation the watching reader saw while the round ran, with what it read."""
        shown = sighting.data[:120].decode("utf-8", "replace") + ("..." if len(sighting.data) > 120 else "")
        message = (f"a reader reading current while the round ran saw, {sighting.seconds * 1000:.0f} ms in: "
                   f"{sighting.violation.message} (it read {len(sighting.data)} bytes: {shown!r})")
        self._record(Violation(sighting.violation.guarantee, message, sighting.violation.key), runs, before, after,
                     replay, history)

    def _record(self, violation: Violation, runs: list[Run], before: dict[str, bytes], after: dict[str, bytes],
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
