"""Render a pytest-benchmark JSON run into docs/benchmarks.md and docs/benchmarks.json.

    python -m pubsafe.devtools.benchmark_report .benchmarks/latest.json

Every target is a ratio of medians from the same run (these machines are noisy;
absolute times are shown for orientation only).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import repository_root

__all__ = ["render", "TARGETS"]

#: group -> (what is compared, comparison, goal); goal None: shown for context only
TARGETS = {
    "local-publish vs same durable writes": ("durable local publish / hand-coded same writes", "<=", 1.15),
    "local-publish vs seed minimal protocol": ("durable local publish / seed's minimal protocol (goal)", "<=", 1.6),
    "memory-publish vs dict+canonical+sha256": ("memory publish / dict + canonical JSON + sha256", "<=", 3.0),
    "memory-publish vs same store operations hand-coded": (
        "memory publish / its 7 store operations hand-coded on MemoryStore", "<=", 1.5),
    "canonicalise+hash 1 MiB vs json.dumps(sort_keys)+sha256": (
        "RFC 8785 + sha256 / json.dumps(sort_keys) + sha256, 1 MiB", "<=", 1.5),
    "rollback: 10,000 manifests in history vs 1": ("rollback, 10,000 manifests in history / 1", "<=", 1.2),
    "audit: 10x objects vs 1x": ("audit, 10x objects / 1x", "<=", 12.0),
    "orphans: 10x objects vs 1x": ("orphans, 10x objects / 1x", "<=", 12.0),
    "peak memory: 100 MiB artifact": ("peak traced memory / payload size, 100 MiB publish", "<=", 4.0),
    "checker: state-machine steps/s vs trivial dict model": (
        "state-machine steps/s / trivial dict model steps/s", ">=", 0.3),
    "checker: drawing only (rule bodies no-ops) vs trivial dict model": (
        "the same machine drawing its steps only / trivial dict model steps/s (ceiling of the row above)", None, None),
    "enumerate: every 2-publisher interleaving class x crash point": (
        "seconds to enumerate same-type, one interleaving per class (median)", "<=", 5.0),
    "enumerate: every interleaving x crash point of publish-rollback": (
        "seconds to enumerate publish-rollback in full (every interleaving)", "<=", 5.0),
    "enumerate: every interleaving x crash point of same-type": (
        "seconds to enumerate same-type in full (every interleaving)", "<=", 5.0),
    "enumerate: every interleaving x crash point of publish-gc": (
        "seconds to enumerate publish-gc in full (every interleaving; the largest scenario)", "<=", 5.0),
    "cli start: pubsafe publish process vs bare python process": (
        "`pubsafe publish` process / `python -c pass` process", "<=", 3.0),
    "check: default profile on memory, seconds": ("`check --store memory` (default profile), seconds", "<=", 2.5),
    "check: quick profile on moto S3, seconds": ("`check --store s3://…` (quick profile) on moto, seconds", "<=", 25.0),
    "check: quick profile on S3 through 20 ms latency, seconds": (
        "`check --store s3://…` (quick profile) through 20 ms per request, seconds", "<=", 60.0),
}


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1000:.2f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _measure(group: str, bench: dict) -> tuple[float, str]:
    """The target's value and a human-readable account of it."""
    extra = bench.get("extra_info", {})
    if group.startswith("peak memory"):
        return extra["ratio"], (f"peak {extra['peak_bytes'] / 2**20:.0f} MiB "
                                f"for {extra['payload_bytes'] / 2**20:.0f} MiB")
    if group.startswith("checker"):
        rate = extra["steps_per_second"]
        return rate["ours"] / rate["baseline"], f"{rate['ours']:.0f} vs {rate['baseline']:.0f} steps/s"
    if group.startswith("check:") and "phases" in extra:  # where a remote check's time goes
        seconds = bench["stats"]["median"]
        phases = "; ".join(f"{name} {p['requests']:,} in {p['seconds']:.0f} s" for name, p in extra["phases"].items()
                           if p["requests"])
        return seconds, f"{extra['requests']:,} store requests: {phases}"
    if group.startswith("check:"):  # the same examples and steps as the baseline
        seconds = bench["stats"]["median"]
        requests = f", {extra['requests']:,} store requests ({seconds / extra['requests'] * 1000:.1f} ms each)" \
            if extra.get("requests") else ""
        return seconds, f"{extra['steps']} steps, {extra['interleavings']} interleavings, " \
            f"{extra['crash_points']} crash points{requests}"
    if group.startswith("enumerate"):
        return bench["stats"]["median"], (
            f"{extra['interleavings']} interleavings, {extra['crash_points']} crash points, "
            f"{extra['runs']} runs, {extra['violations']} violations")
    pair = extra["paired"]
    return pair["ratio"], (f"{_duration(pair['ours'])} vs {_duration(pair['baseline'])}, "
                           f"{pair['rounds']} alternating rounds")


def render(run: dict) -> tuple[str, dict]:
    groups = {bench["group"]: bench for bench in run["benchmarks"]}
    rows, results = [], {}
    for group, (label, op, goal) in TARGETS.items():
        wanted = "(context)" if goal is None else f"{op} {goal}"
        if group not in groups:
            rows.append(f"| {label} | – | – | {wanted} | not run |")
            continue
        value, detail = _measure(group, groups[group])
        if goal is None:
            results[group] = {"value": round(value, 3), "detail": detail}
            rows.append(f"| {label} | {value:.2f} | {detail} | {wanted} | |")
            continue
        met = value <= goal if op == "<=" else value >= goal
        results[group] = {"value": round(value, 3), "goal": wanted, "met": met, "detail": detail}
        rows.append(f"| {label} | {value:.2f} | {detail} | {wanted} | {'met' if met else '**missed**'} |")
    mutants = groups.get("mutants: time to detect", {}).get("extra_info", {}).get("mutants", {})
    machine = run.get("machine_info", {})
    lines = [
        "# Benchmarks",
        "",
        "Produced by `python3 tasks.py bench` (pytest-benchmark, then `python -m pubsafe.devtools.benchmark_report`). "
        "Each ratio is of medians measured in the same run, the two sides alternating round by round "
        "(tests/benchmarks/conftest.py) so that machine drift cancels out.",
        "",
        f"Machine: {machine.get('cpu', {}).get('count', '?')} cores, Python {machine.get('python_version', '?')}, "
        f"{run.get('datetime', '')[:19]}.",
        "",
        "| target | value | measured | goal | |",
        "|---|---|---|---|---|",
        *rows,
    ]
    if mutants:
        lines += ["", "## Mutants: time to detect (default profile)", "",
                  "Where the first violation of the mutant's guarantee was found, and for the state machine the "
                  "steps it had run by then (before shrinking): `python -m pubsafe.devtools.mutants` prints the same, "
                  "over several seeds with `--seeds N`.", "",
                  "| mutant | killed | seconds | found by | machine steps | counterexample ops |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| `{name}` | {'yes' if m['killed'] else 'NO'} | {m['seconds']:.2f} | {m.get('where', '?')} | "
                  f"{m.get('steps', '?')} | {m['ops']} |" for name, m in mutants.items()]
        results["mutants"] = mutants
    return "\n".join(lines) + "\n", results


def main(argv: list[str]) -> int:
    run = json.loads(Path(argv[0]).read_text())
    markdown, results = render(run)
    out = repository_root() / "docs"
    (out / "benchmarks.md").write_text(markdown)
    (out / "benchmarks.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(markdown)
    return 0 if all(r.get("met", True) for r in results.values() if isinstance(r, dict) and "met" in r) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
