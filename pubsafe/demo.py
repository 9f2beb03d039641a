"""A narrated walk through the safety model on a real local directory.

publish -> crash before the swap -> retry -> lost acknowledgement -> retry ->
rollback -> stale serving and invalidate -> orphans and GC -> audit (clean, then
a tampered blob). Each step checks what it narrates and the demo exits 1 if any
check fails, so it doubles as a smoke test of the installed package.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pubsafe.faults import Crash, FaultPlan, FaultyStore
from pubsafe.refimpl import Engine, LocalStore, ServingReader

__all__ = ["run_demo"]

TENANT, SURFACE = "acme", "home-feed"


class _Narrator:
    def __init__(self) -> None:
        self.failures = 0
        self.step = 0

    def say(self, title: str) -> None:
        self.step += 1
        print(f"\n{self.step}. {title}")

    def note(self, text: str) -> None:
        print(f"   {text}")

    def check(self, ok: bool, claim: str) -> None:
        print(f"   {'ok  ' if ok else 'FAIL'} {claim}")
        self.failures += not ok


def run_demo(directory: str | None = None) -> int:
    if directory is None:
        with tempfile.TemporaryDirectory(prefix="pubsafe-demo-") as tmp:
            return _run(Path(tmp) / "store")
    root = Path(directory)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        from pubsafe.refimpl.errors import InvalidInput

        what = "is not a directory" if not root.is_dir() else "is not empty"
        raise InvalidInput(f"--dir {directory!r} {what}: the demo crashes publishes, rolls back, tampers with a blob "
                           "and sweeps there, so it runs only in a new or empty directory (or leave --dir out for a "
                           "temporary one)")
    return _run(root)


def _run(root: Path) -> int:
    n = _Narrator()
    store = LocalStore(root)
    current_file = root / "current" / TENANT / SURFACE / "manifest.json"
    print(f"pubsafe demo on a local store at {root}")

    n.say("Publish two artifacts: blob -> validate -> record -> swap the manifest last")
    first = Engine(store).publish(TENANT, SURFACE, {"model": {"weights": [0.1, 0.2]}, "items": [1, 2, 3]})
    for type_, version in sorted(first.artifacts.items()):
        n.note(f"{type_} -> {TENANT}/{SURFACE}/{type_}/{version[:12]}….json")
    n.check(first.swapped, f"manifest {first.manifest_version[:12]} is current")

    n.say("Publish a new model, but the process dies right after writing the blob")
    before = current_file.read_bytes()
    crashing = FaultyStore(store, FaultPlan.parse("crash@record-write"))
    try:
        Engine(crashing).publish(TENANT, SURFACE, {"model": {"weights": [0.3, 0.4]}})
    except Crash as crash:
        n.note(f"crash: {crash}")
    n.check(current_file.read_bytes() == before, "current is byte-identical: serving never saw the half-done publish")
    orphans = Engine(store).orphans()
    n.check(len(orphans) == 1, f"the crash left {len(orphans)} orphan blob (unrecorded, unreferenced)")

    n.say("Retry with a fresh engine (a crash discards all in-memory state)")
    retry = Engine(store).publish(TENANT, SURFACE, {"model": {"weights": [0.3, 0.4]}})
    n.check(retry.swapped, f"converged: manifest {retry.manifest_version[:12]} is current")
    n.check(not Engine(store).orphans(), "the retry adopted the orphan: nothing left unreferenced")

    n.say("Publish again; the swap lands but its acknowledgement is lost")
    lossy = FaultyStore(store, FaultPlan.parse("lost-ack@swap"))
    try:
        Engine(lossy).publish(TENANT, SURFACE, {"items": [4, 5, 6]})
    except Crash as crash:
        n.note(f"crash: {crash}")
    again = Engine(store).publish(TENANT, SURFACE, {"items": [4, 5, 6]})
    n.check(not again.swapped, "the retry recognises its own completed swap and writes no new manifest")

    reader = ServingReader(store, manifest_ttl=30.0, clock=_FakeClock())
    served = reader.artifact(TENANT, SURFACE, "items")
    n.say("Roll back one step: only the current pointer changes")
    keys_before = set(store.list())
    rolled = Engine(store).rollback(TENANT, SURFACE, steps=1)
    n.check(rolled.to_version == retry.manifest_version, f"current is {rolled.to_version[:12]} again")
    n.check(set(store.list()) == keys_before, "no blob, record or history entry was written or removed")

    n.say("Serving caches the manifest for its TTL; invalidate() makes it current")
    n.check(reader.artifact(TENANT, SURFACE, "items") == served == [4, 5, 6],
            "within the TTL the reader still serves [4, 5, 6]")
    reader.invalidate(TENANT, SURFACE)
    n.check(reader.artifact(TENANT, SURFACE, "items") == [1, 2, 3], "after invalidate() it serves [1, 2, 3]")

    n.say("Audit the store: every manifest parses, every artifact exists, hashes and is recorded")
    findings = Engine(store).audit()
    n.check(not findings, "audit clean")
    blob = root / TENANT / SURFACE / "model" / f"{first.artifacts['model']}.json"
    original = blob.read_bytes()
    blob.write_bytes(original.replace(b"0.1", b"0.9"))
    findings = Engine(store).audit()
    n.check(any(f.guarantee == "G1" for f in findings),
            f"after tampering with a blob, audit reports: {findings[0].guarantee if findings else '-'} "
            f"{findings[0].message if findings else ''}")
    blob.write_bytes(original)

    print(f"\n{'Everything behaved as the safety model says.' if not n.failures else f'{n.failures} check(s) failed.'}")
    return 0 if not n.failures else 1


class _FakeClock:
    """Time stands still in the demo, so the cache is visibly stale until invalidated."""

    def __call__(self) -> float:
        return 0.0
