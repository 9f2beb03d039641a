"""Real processes, killed at random: two `pubsafe gc --grace 0s` and two publishes at a
time, over one local store, for many rounds, each process's clock (``time.time``) set up
to an hour ahead of or behind the others'. Publishes draw from a small pool of
payloads, so later publishes adopt the orphans that killed ones left while sweeps
are collecting them (the R5 race, for real). Afterwards every acknowledged publish's
blobs and records exist and hash, current is valid, and once a final sweep has
finished the killed sweeps' tombstones the audit is clean but for orphan notices.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from pubsafe.models.checkers.manifest_last import check_currents
from pubsafe.models.checkers.oracle import Oracle, blob_key, read_store, record_key, sha256_hex
from pubsafe.refimpl import Engine, LocalStore

T, S = "acme", "home"
ROUNDS = int(os.environ.get("PUBSAFE_SIGKILL_ROUNDS", "100"))
LEASE = 2.0  # seconds; a killed sweep blocks the next ones this long
HOUR = 3600.0


#: pubsafe's CLI in a process whose wall clock runs OFFSET seconds off the machine's
#: (patched before pubsafe is imported, so every default ``clock=time.time`` takes it).
_SKEWED = ("import runpy, sys, time; offset = float(sys.argv.pop(1)); real = time.time; "
           "time.time = lambda: real() + offset; sys.argv[0] = 'pubsafe'; "
           "runpy.run_module('pubsafe', run_name='__main__')")


def _start(*argv: str, offset: float = 0.0) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _SKEWED, str(offset), *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.serial
def test_sigkilled_sweeps_and_publishes_never_lose_an_acknowledged_publish(tmp_path):
    rng = random.Random(20261126)
    root = tmp_path / "pub"
    payloads = []
    for i in range(6):
        path = tmp_path / f"p{i}.json"
        path.write_text(json.dumps({"w": i}))
        payloads.append(path)
    acknowledged = [Engine(LocalStore(root)).publish(T, S, {"model": {"w": 0}}).artifacts]
    # Aim the kills at the work, not at interpreter start-up: calibrate on one command.
    calibration = time.perf_counter()
    _start("audit", "--store", str(root)).communicate(timeout=60)
    startup = time.perf_counter() - calibration
    kills = {"gc": 0, "publish": 0}
    outcomes: dict[str, int] = {}
    started = time.perf_counter()
    for _ in range(ROUNDS):
        skew = lambda: rng.uniform(-HOUR, HOUR)  # noqa: E731
        children = [("gc", _start("gc", "--store", str(root), "--grace", "0s", "--lease", f"{LEASE}s", "--json",
                                  offset=skew())) for _ in range(2)]
        for type_ in ("model", "items"):
            spec = f"{type_}={rng.choice(payloads)}"
            children.append(("publish", _start("publish", "--store", str(root), "--tenant", T, "--surface", S,
                                               spec, "--json", offset=skew())))
        launched = time.perf_counter()
        doomed = sorted((launched + rng.uniform(0.8, 1.3) * startup, i)
                        for i in range(len(children)) if rng.random() < 0.5)
        for when, i in doomed:
            time.sleep(max(0.0, when - time.perf_counter()))
            children[i][1].send_signal(signal.SIGKILL)
        for kind, child in children:
            out, err = child.communicate(timeout=60)
            if child.returncode == -signal.SIGKILL:
                kills[kind] += 1
                continue
            outcome = "ok" if child.returncode == 0 else json.loads(out)["error"]
            outcomes[f"{kind} {outcome}"] = outcomes.get(f"{kind} {outcome}", 0) + 1
            # 1: refused (a sweep holds the lease, or a tombstone); 3: a retryable store error (a sweep
            # with grace 0 removed a write's temp file in flight). Neither acknowledges anything.
            assert child.returncode in (0, 1, 3), (kind, child.returncode, err)
            if kind == "publish" and child.returncode == 0:
                acknowledged.append(json.loads(out)["artifacts"])
    seconds = time.perf_counter() - started

    store = LocalStore(root)
    contents = read_store(store)
    lost = []
    for artifacts in acknowledged:
        for type_, version in artifacts.items():
            blob, record = blob_key(T, S, type_, version), record_key(T, S, type_, version)
            if blob not in contents or sha256_hex(contents[blob]) != version or record not in contents:
                lost.append(blob)
    assert lost == []
    assert check_currents(contents, store.root_uri, Oracle()) == []
    time.sleep(LEASE + 0.5)  # let the killed sweeps' leases expire; the next sweep finishes their tombstones
    Engine(store).gc(3600)
    findings = Engine(store).audit()
    assert [f for f in findings if f.severity == "error"] == []
    temps = [d for d in store.debris() if d.kind == "temp"]
    print(f"\n{ROUNDS} rounds in {seconds:.0f}s: {len(acknowledged)} acknowledged publishes, {kills} killed, "
          f"outcomes {outcomes}; afterwards {len(Engine(store).orphans())} orphans and {len(temps)} temp files "
          f"(notices: {[f.message[:40] for f in findings]})")
    assert len(acknowledged) > ROUNDS // 2 and kills["gc"] > ROUNDS // 4 and kills["publish"] > ROUNDS // 4
