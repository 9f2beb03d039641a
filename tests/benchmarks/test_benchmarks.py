"""Benchmarks: each target is a ratio of medians against a baseline from the same run.

Run with ``python3 tasks.py bench`` (renders docs/benchmarks.md). Each ratio test
runs ``ours`` and ``baseline`` alternately (the ``paired`` fixture, conftest.py);
pubsafe.devtools.benchmark_report renders the ratios.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import random
import subprocess
import sys
import time
import uuid

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from pubsafe.refimpl import Engine, LocalStore, MemoryStore
from pubsafe.refimpl.canonical import canonicalize
from pubsafe.refimpl.errors import ObjectNotFound

T, S = "acme", "home"
_counter = itertools.count()


def _payload() -> dict:
    n = next(_counter)
    return {"model": {"weights": [n, n + 0.5, n + 0.25], "name": f"run-{n}"}}


# -- 1, 2: durable local publish vs hand-coded durable writes ---------------------


def _durable_put(directory: str, name: str, data: bytes, *, create_only: bool) -> None:
    os.makedirs(directory, exist_ok=True)
    temp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
    final = os.path.join(directory, name)
    if create_only:
        os.link(temp, final)
        os.unlink(temp)
    else:
        os.replace(temp, final)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(dfd)
    os.close(dfd)


def _hand_coded_publish(root: str, payload: dict, *, full: bool) -> None:
    """The same durable writes as the engine (full), or the seed's minimal protocol."""
    current = os.path.join(root, "current", T, S, "manifest.json")
    mapping = {}
    if full:
        try:
            with open(current, "rb") as f:
                mapping = json.loads(f.read())["current"]
        except FileNotFoundError:
            pass
    for type_, doc in payload.items():
        data, version = canonicalize(doc)
        directory = os.path.join(root, T, S, type_)
        _durable_put(directory, f"{version}.json", data, create_only=True)
        if full:
            with open(os.path.join(directory, f"{version}.json"), "rb") as f:
                assert hashlib.sha256(f.read()).hexdigest() == version
        record = json.dumps({"type": type_, "version": version, "size": len(data)}).encode()
        _durable_put(os.path.join(root, "records", T, S, type_), f"{version}.json", record, create_only=True)
        if full:
            os.stat(os.path.join(directory, f"{version}.json"))
        mapping[type_] = f"{T}/{S}/{type_}/{version}.json"
    manifest = json.dumps({"v": 1, "tenant": T, "surface": S, "current": mapping,
                           "updated_at": "2026-01-01T00:00:00Z"}, sort_keys=True).encode()
    if full:
        mv = hashlib.sha256(manifest).hexdigest()
        _durable_put(os.path.join(root, "history", T, S), f"{mv}.json", manifest, create_only=True)
    _durable_put(os.path.dirname(current), "manifest.json", manifest, create_only=False)


def _local_publish(paired, tmp_path, *, full: bool) -> None:
    engine = Engine(LocalStore(str(tmp_path / "ours")))
    paired(lambda: engine.publish(T, S, _payload()),
           lambda: _hand_coded_publish(str(tmp_path / "baseline"), _payload(), full=full),
           rounds=100, block=5)


def test_local_publish(benchmark, paired, tmp_path):
    benchmark.group = "local-publish vs same durable writes"
    _local_publish(paired, tmp_path, full=True)


def test_local_publish_vs_minimal_protocol(benchmark, paired, tmp_path):
    benchmark.group = "local-publish vs seed minimal protocol"
    _local_publish(paired, tmp_path, full=False)


# -- 3: memory publish vs dict + canonical JSON + sha256 --------------------------


def _dict_publish(store: dict[str, bytes]) -> None:
    mapping = {}
    for type_, doc in _payload().items():
        data, version = canonicalize(doc)
        key = f"{T}/{S}/{type_}/{version}.json"
        store[key] = data
        store["records/" + key] = json.dumps({"version": version}).encode()
        mapping[type_] = key
    store[f"current/{T}/{S}/manifest.json"] = json.dumps({"current": mapping}).encode()


def _hand_coded_store_publish(store: MemoryStore) -> None:
    """The engine's seven store operations, hand-coded: what the protocol itself costs."""
    current_key = f"current/{T}/{S}/manifest.json"
    try:
        mapping = json.loads(store.get(current_key))["current"]
    except ObjectNotFound:
        mapping = {}
    for type_, doc in _payload().items():
        data, version = canonicalize(doc)
        key = f"{T}/{S}/{type_}/{version}.json"
        store.put(key, data)
        assert hashlib.sha256(store.get(key)).hexdigest() == version
        store.put("records/" + key, json.dumps({"type": type_, "version": version, "size": len(data)}).encode())
        assert store.exists(key)
        mapping[type_] = key
    manifest = json.dumps({"v": 1, "tenant": T, "surface": S, "current": mapping}, sort_keys=True).encode()
    store.put(f"history/{T}/{S}/{hashlib.sha256(manifest).hexdigest()}.json", manifest)
    store.replace(current_key, manifest)


def test_memory_publish(benchmark, paired):
    benchmark.group = "memory-publish vs dict+canonical+sha256"
    engine, store = Engine(MemoryStore()), {}
    paired(lambda: engine.publish(T, S, _payload()), lambda: _dict_publish(store), rounds=60, block=50)


def test_memory_publish_vs_hand_coded_protocol(benchmark, paired):
    benchmark.group = "memory-publish vs same store operations hand-coded"
    engine, store = Engine(MemoryStore()), MemoryStore()
    paired(lambda: engine.publish(T, S, _payload()), lambda: _hand_coded_store_publish(store), rounds=60, block=50)


# -- 4: 1 MiB canonicalise + hash vs json.dumps(sort_keys) + sha256 ----------------

_rng = random.Random(7)
ONE_MIB = {"items": [{"id": f"item-{i}", "score": _rng.random(), "rank": i, "tags": ["a", "b"]}
                     for i in range(12_500)]}


def test_canonical_one_mib(benchmark, paired):
    benchmark.group = "canonicalise+hash 1 MiB vs json.dumps(sort_keys)+sha256"
    benchmark.extra_info["bytes"] = len(json.dumps(ONE_MIB))
    paired(lambda: canonicalize(ONE_MIB),
           lambda: hashlib.sha256(json.dumps(ONE_MIB, sort_keys=True).encode()).hexdigest(), rounds=25)


# -- 5: rollback with 10,000 manifests in history vs 1 ------------------------------


def _store_with_history(length: int) -> tuple[Engine, str, str]:
    engine = Engine(MemoryStore())
    first = engine.publish(T, S, {"model": 0}).manifest_version
    for i in range(1, length):
        engine.publish(T, S, {"model": i})
    last = engine.publish(T, S, {"model": "last"}).manifest_version
    return engine, first, last


def _rollbacks(length: int):  # type: ignore[no-untyped-def]
    engine, first, last = _store_with_history(length)
    targets = itertools.cycle([first, last])
    return lambda: engine.rollback(T, S, to=next(targets))


def test_rollback_cost(benchmark, paired):
    benchmark.group = "rollback: 10,000 manifests in history vs 1"
    paired(_rollbacks(10_000), _rollbacks(1), rounds=40, block=50)


# -- 6: audit and orphans with 10x the objects -------------------------------------


def _populated(publishes: int) -> Engine:
    engine = Engine(MemoryStore())
    for i in range(publishes):
        engine.publish(T, f"s{i % 5}", {"model": i, "items": [i]})
    return engine


def test_audit_scaling(benchmark, paired):
    benchmark.group = "audit: 10x objects vs 1x"
    paired(_populated(1500).audit, _populated(150).audit, rounds=10)


def test_orphans_scaling(benchmark, paired):
    benchmark.group = "orphans: 10x objects vs 1x"
    paired(_populated(1500).orphans, _populated(150).orphans, rounds=20)


# -- 7: peak memory publishing a 100 MiB artifact ----------------------------------

_PEAK = """
import json, sys, tempfile, tracemalloc
from pubsafe.refimpl import Engine, LocalStore
payload = {"rows": ["x" * 1000] * (100 * 1024)}
size = len(json.dumps(payload))
with tempfile.TemporaryDirectory() as root:
    engine = Engine(LocalStore(root))
    tracemalloc.start()
    engine.publish("acme", "home", {"big": payload})
    peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"payload_bytes": size, "peak_bytes": peak}))
"""


def test_peak_memory_100_mib(benchmark):
    benchmark.group = "peak memory: 100 MiB artifact"
    result = {}

    def run() -> None:
        out = subprocess.run([sys.executable, "-c", _PEAK], capture_output=True, text=True, check=True)
        result.update(json.loads(out.stdout))

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(result, ratio=result["peak_bytes"] / result["payload_bytes"])


# -- 8: checker throughput, enumeration time, time to detect -----------------------


class _DictModel(RuleBasedStateMachine):
    """The trivial stateful model: a dict, a put rule, a get rule, one invariant."""

    steps = 0

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[int, int] = {}
        self.real: dict[int, int] = {}

    @rule(k=st.integers(0, 5), v=st.integers())
    def put(self, k, v):  # type: ignore[no-untyped-def]
        self.model[k] = self.real[k] = v
        _DictModel.steps += 1

    @rule(k=st.integers(0, 5))
    def get(self, k):  # type: ignore[no-untyped-def]
        assert self.model.get(k) == self.real.get(k)
        _DictModel.steps += 1

    @invariant()
    def same(self):  # type: ignore[no-untyped-def]
        assert self.model == self.real


def test_checker_steps_per_second(benchmark, paired):
    benchmark.group = "checker: state-machine steps/s vs trivial dict model"
    from pubsafe.models.machine import PublishMachine, RunSink
    from pubsafe.models.target import Target

    # Nine alternating rounds: this machine's speed drifts within seconds.
    config = settings(max_examples=60, stateful_step_count=25, deadline=None, database=None, derandomize=True)
    steps = {}

    def ours() -> None:
        sink = RunSink()
        run_state_machine_as_test(PublishMachine.bind(Target("memory", MemoryStore), sink=sink), settings=config)
        steps["ours"] = sink.steps

    def baseline() -> None:
        _DictModel.steps = 0
        run_state_machine_as_test(_DictModel, settings=config)
        steps["baseline"] = _DictModel.steps

    seconds = paired(ours, baseline, rounds=9, warmup=1)
    benchmark.extra_info["steps_per_second"] = {side: steps[side] / seconds[side] for side in steps}


def test_checker_drawing_only_steps_per_second(benchmark, paired):
    """What bounds the row above: the same machine drawing its steps (rules, arguments,
    Hypothesis's own bookkeeping) with every rule body a no-op."""
    benchmark.group = "checker: drawing only (rule bodies no-ops) vs trivial dict model"
    from pubsafe.models.machine import PublishMachine, RunSink
    from pubsafe.models.target import Target

    config = settings(max_examples=60, stateful_step_count=25, deadline=None, database=None, derandomize=True)
    drawing = PublishMachine.bind(Target("memory", MemoryStore), sink=RunSink())

    def nothing(self, **arguments):  # type: ignore[no-untyped-def]
        self.sink.steps += 1

    # The Rule objects are shared with every PublishMachine: bodies swapped for this run only.
    rules = {name: getattr(drawing, name).hypothesis_stateful_rule for name in dir(drawing)
             if getattr(getattr(drawing, name, None), "hypothesis_stateful_rule", None) is not None}
    steps = {}

    def ours() -> None:
        drawing.sink = RunSink()
        saved = {name: r.function for name, r in rules.items()}
        for r in rules.values():
            object.__setattr__(r, "function", nothing)
        try:
            run_state_machine_as_test(drawing, settings=config)
        finally:
            for name, r in rules.items():
                object.__setattr__(r, "function", saved[name])
        steps["ours"] = drawing.sink.steps

    def baseline() -> None:
        _DictModel.steps = 0
        run_state_machine_as_test(_DictModel, settings=config)
        steps["baseline"] = _DictModel.steps

    seconds = paired(ours, baseline, rounds=5, warmup=1)
    benchmark.extra_info["steps_per_second"] = {side: steps[side] / seconds[side] for side in steps}


def test_enumerate_two_publishers(benchmark):
    benchmark.group = "enumerate: every 2-publisher interleaving class x crash point"
    from pubsafe.models.exploration import RACES
    from pubsafe.models.exploration.enumerate import enumerate_race

    counts = {}

    def run() -> None:
        result = enumerate_race(RACES["same-type"])
        counts.update(interleavings=result.interleavings, crash_points=result.crash_points, runs=result.runs,
                      violations=len(result.violations))

    benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info.update(counts)


def test_cli_start(benchmark, paired, tmp_path):
    """What a pipeline pays per artifact set: a whole `pubsafe publish` process against
    a bare interpreter starting and exiting."""
    benchmark.group = "cli start: pubsafe publish process vs bare python process"
    artifact = tmp_path / "model.json"
    artifact.write_text('{"weights": [1, 2, 3]}')
    counter = itertools.count()

    # As an installed package runs: its bytecode cached (pip compiles it at install). The warm-up
    # rounds write the cache even where PYTHONDONTWRITEBYTECODE is set for the rest of the run.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def publish() -> None:
        artifact.write_text(json.dumps({"weights": [next(counter)]}))
        subprocess.run([sys.executable, "-m", "pubsafe", "publish", "--store", str(tmp_path / "store"), "--tenant", T,
                        "--surface", S, f"model={artifact}"], check=True, capture_output=True, env=env)

    paired(publish, lambda: subprocess.run([sys.executable, "-c", "pass"], check=True, env=env), rounds=41, warmup=2)


def test_check_default_on_memory(benchmark):
    benchmark.group = "check: default profile on memory, seconds"
    from pubsafe.models import run_conformance, target_from_spec

    coverage = {}

    def run() -> None:
        report = run_conformance(target_from_spec("memory"), "default")
        assert report.conforming
        coverage.update(report.verdict("G1").coverage)

    benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info.update(coverage)


def test_mutant_time_to_detect(benchmark):
    benchmark.group = "mutants: time to detect"
    from pubsafe.devtools.mutants import detect
    from pubsafe.models.mutants import MUTANTS, Mutant

    detected = {}
    # The CI smoke run (timing disabled) times three, one of each kind; tests/models/test_mutants.py kills them all.
    kinds = ("store", "engine", "reader")
    one_of_each = [next(m for m in MUTANTS if getattr(m, kind) is not Mutant.__dataclass_fields__[kind].default)
                   for kind in kinds]
    chosen = one_of_each if benchmark.disabled else MUTANTS

    def run() -> None:
        for mutant in chosen:
            started = time.perf_counter()
            found = detect(mutant, "default", 0)
            detected[mutant.name] = {
                "seconds": round(time.perf_counter() - started, 3),
                **{k: found[k] for k in ("killed", "ops", "where", "steps")},
            }

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["mutants"] = detected


def test_check_quick_on_moto_s3(benchmark):
    """An adapter author's CI against an S3-compatible server: moto on loopback, one
    request at a time (a real bucket answers each request 5-20x slower)."""
    benchmark.group = "check: quick profile on moto S3, seconds"
    pytest.importorskip("s3fs")
    from pubsafe.devtools.s3server import local_s3
    from pubsafe.models import run_conformance, target_from_spec
    from pubsafe.models.conformance import Profile

    coverage = {}
    # The CI smoke run of every benchmark (timing disabled) only checks this one still runs: two short examples.
    smoke = {"profile": Profile(examples=2, steps=3), "fixed": False} if benchmark.disabled else {"profile": "quick"}

    def run() -> None:
        report = run_conformance(target_from_spec(f"s3://pubsafe/bench-{uuid.uuid4().hex[:8]}"), **smoke)
        assert report.conforming or benchmark.disabled
        coverage.update(report.verdict("G1").coverage)

    with local_s3("pubsafe"), _counting_s3_requests() as requests:
        benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(coverage, requests=len(requests))


@contextlib.contextmanager
def _counting_s3_requests():
    """Every request S3Store sends, counted (what bounds the time on a server answering one at a time);
    not those the local model answers while the state machine is planned (models.conformance.local_model)."""
    from pubsafe.models.conformance.local_model import LocalS3
    from pubsafe.refimpl.s3_store import S3Store

    sent: list[str] = []  # list.append is atomic: requests go out from several threads
    call, get = S3Store._call, S3Store.get_object

    def counted_call(self, method, key, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not isinstance(self.fs, LocalS3):
            sent.append(method)
        return call(self, method, key, *args, **kwargs)

    def counted_get(self, key):  # type: ignore[no-untyped-def]
        if not isinstance(self.fs, LocalS3):
            sent.append("get_object")
        return get(self, key)

    S3Store._call, S3Store.get_object = counted_call, counted_get
    try:
        yield sent
    finally:
        S3Store._call, S3Store.get_object = call, get


def test_check_quick_on_s3_through_20ms(benchmark):
    """What an adapter author's CI sees against a real bucket: every request 20 ms away
    (``latency_proxy`` in front of moto), so the time is the requests that wait one
    after another; requests and seconds per phase recorded (``remote_check``)."""
    benchmark.group = "check: quick profile on S3 through 20 ms latency, seconds"
    pytest.importorskip("s3fs")
    from pubsafe.devtools.remote_check import measure_check
    from pubsafe.devtools.s3server import local_s3
    from pubsafe.models.conformance import Profile

    smoke = {"profile": Profile(examples=2, steps=3), "fixed": False} if benchmark.disabled else {"profile": "quick"}
    measured = {}

    def run() -> None:
        report, counts = measure_check(**smoke)
        assert report.conforming or benchmark.disabled
        measured.update(requests=counts.total, phases=counts.table())

    with local_s3("pubsafe", latency=0.020):
        benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(measured)


@pytest.mark.parametrize("scenario", ["publish-rollback", "same-type", "publish-gc"])
def test_full_enumeration_of_one_scenario(benchmark, scenario):
    """Every interleaving (no reduction) and every crash point of a race (publish-gc: the largest)."""
    benchmark.group = f"enumerate: every interleaving x crash point of {scenario}"
    from pubsafe.models.exploration import RACES
    from pubsafe.models.exploration.enumerate import enumerate_race

    counts = {}

    def run() -> None:  # the CI smoke run (timing disabled) does the interleavings only
        result = enumerate_race(RACES[scenario], full=True, crashes=not benchmark.disabled)
        assert not result.violations
        counts.update(interleavings=result.interleavings, crash_points=result.crash_points, runs=result.runs,
                      violations=len(result.violations))

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(counts)
