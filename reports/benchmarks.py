"""Render a pytest-benchmark JSON run into reports/benchmarks.md and benchmarks.json.

    python -m reports.benchmarks .benchmarks/latest.json

Every target is a ratio of medians from the same run (these machines are noisy;
absolute times are shown for orientation only).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["render", "TARGETS"]

NUMERATOR = {"ours", "history-10000", "10x-objects"}

#: group -> (what is compared, comparison, goal)
TARGETS = {
    "local-publish vs same durable writes": ("durable local publish / hand-coded same writes", "<=", 1.15),
    "local-publish vs seed minimal protocol": ("durable local publish / seed's minimal protocol (goal)", "<=", 1.6),
    "memory-publish vs dict+canonical+sha256": ("memory publish / dict + canonical JSON + sha256", "<=", 3.0),
    "canonicalise+hash 1 MiB vs json.dumps(sort_keys)+sha256": ("RFC 8785 + sha256 / json.dumps(sort_keys) + sha256, 1 MiB", "<=", 1.5),
    "rollback: 10,000 manifests in history vs 1": ("rollback, 10,000 manifests in history / 1", "<=", 1.2),
    "audit: 10x objects vs 1x": ("audit, 10x objects / 1x", "<=", 12.0),
    "orphans: 10x objects vs 1x": ("orphans, 10x objects / 1x", "<=", 12.0),
    "peak memory: 100 MiB artifact": ("peak traced memory / payload size, 100 MiB publish", "<=", 4.0),
    "checker: state-machine steps/s vs trivial dict model": ("state-machine steps/s / trivial dict model steps/s", ">=", 0.2),
    "enumerate: every 2-publisher interleaving class x crash point": ("seconds to enumerate (median)", "<=", 5.0),
}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 10 else f"{seconds:.1f} s"


def render(run: dict) -> tuple[str, dict]:
    groups: dict[str, dict[str, dict]] = {}
    for bench in run["benchmarks"]:
        side = "num" if (bench.get("param") in NUMERATOR or bench.get("param") is None) else "den"
        groups.setdefault(bench["group"], {})[side] = bench
    rows, results = [], {}
    for group, (label, op, goal) in TARGETS.items():
        pair = groups.get(group, {})
        if "num" not in pair:
            rows.append(f"| {label} | – | – | – | {op} {goal} | not run |")
            continue
        num, den = pair["num"], pair.get("den")
        extra = num.get("extra_info", {})
        if group.startswith("peak memory"):
            value, detail = extra["ratio"], f"peak {extra['peak_bytes'] / 2**20:.0f} MiB for {extra['payload_bytes'] / 2**20:.0f} MiB"
        elif group.startswith("checker"):
            value = extra["steps_per_second"] / den["extra_info"]["steps_per_second"]
            detail = f"{extra['steps_per_second']:.0f} vs {den['extra_info']['steps_per_second']:.0f} steps/s"
        elif group.startswith("enumerate"):
            value = num["stats"]["median"]
            detail = (f"{extra['interleavings']} interleaving classes, {extra['crash_points']} crash points, "
                      f"{extra['runs']} runs, {extra['violations']} violations")
        else:
            value = num["stats"]["median"] / den["stats"]["median"]
            detail = f"{_ms(num['stats']['median'])} vs {_ms(den['stats']['median'])}"
        met = value <= goal if op == "<=" else value >= goal
        results[group] = {"value": round(value, 3), "goal": f"{op} {goal}", "met": met, "detail": detail}
        rows.append(f"| {label} | {value:.2f} | {detail} | {op} {goal} | {'met' if met else '**missed**'} |")
    mutants = groups.get("mutants: time to detect", {}).get("num", {}).get("extra_info", {}).get("mutants", {})
    machine = run.get("machine_info", {})
    lines = [
        "# Benchmarks",
        "",
        "Produced by `python3 tasks.py bench` (pytest-benchmark, then `python -m reports.benchmarks`). "
        "Each target is a ratio of medians measured in the same run.",
        "",
        f"Machine: {machine.get('cpu', {}).get('count', '?')} cores, Python {machine.get('python_version', '?')}, "
        f"{run.get('datetime', '')[:19]}.",
        "",
        "| target | value | measured | goal | |",
        "|---|---|---|---|---|",
        *rows,
    ]
    if mutants:
        lines += ["", "## Mutants: time to detect (default profile)", "", "| mutant | killed | seconds | counterexample ops |",
                  "|---|---|---|---|"]
        lines += [f"| `{name}` | {'yes' if m['killed'] else 'NO'} | {m['seconds']:.2f} | {m['ops']} |"
                  for name, m in mutants.items()]
        results["mutants"] = mutants
    return "\n".join(lines) + "\n", results


def main(argv: list[str]) -> int:
    run = json.loads(Path(argv[0]).read_text())
    markdown, results = render(run)
    out = Path(__file__).resolve().parent
    (out / "benchmarks.md").write_text(markdown)
    (out / "benchmarks.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(markdown)
    return 0 if all(r.get("met", True) for r in results.values() if isinstance(r, dict) and "met" in r) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
