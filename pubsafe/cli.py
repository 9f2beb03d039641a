"""The operator CLI: ``pubsafe publish | rollback | current | history | orphans | gc | audit | check | demo``.

Exit codes: 0 ok, 1 refused or findings, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from pubsafe.refimpl import Engine, open_store
from pubsafe.refimpl.errors import InvalidInput, PubsafeError

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2

MODEL = """\
The safety model, in four lines:
  1. artifacts are immutable and version-addressed (version = sha256 of RFC 8785 JSON);
  2. a publish writes blob -> validates it -> records it -> swaps the manifest LAST,
     so a publish that fails before the swap leaves serving on the previous manifest;
  3. re-running a publish is safe: every step is idempotent;
  4. rollback only re-points current at a manifest from history.
Store layout: <tenant>/<surface>/<type>/<version>.json (blobs), records/..., history/...,
current/<tenant>/<surface>/manifest.json.  Exit codes: 0 ok, 1 refused or findings, 2 usage.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\nTry '{self.prog} --help'.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pubsafe",
        description="Publish immutable artifacts with the manifest swapped last; roll back, audit, sweep.",
        epilog=MODEL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_: str, description: str, *, slot: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument(
            "--store",
            default=os.environ.get("PUBSAFE_STORE"),
            help="directory path, file://, memory:// or fsspec URL (default: $PUBSAFE_STORE)",
        )
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")
        if slot:
            p.add_argument("--tenant", required=True, help="tenant name (one path segment)")
            p.add_argument("--surface", required=True, help="surface name (one path segment)")
        return p

    p = command(
        "publish",
        "publish artifacts and swap the manifest last",
        "Publish one or more artifacts, TYPE=FILE each ('-' reads stdin), then swap the\n"
        "current manifest last. The new manifest is the current mapping with these types\n"
        "overlaid. Safe to re-run after any failure.\n\n"
        "  pubsafe publish --store ./pub --tenant acme --surface home model=model.json",
    )
    p.add_argument("artifacts", nargs="+", metavar="TYPE=FILE", help="artifact type and JSON file")
    p.add_argument("--guarded", action="store_true",
                   help="compare-and-swap the manifest: concurrent publishes conflict instead of "
                        "silently replacing each other")

    p = command(
        "rollback",
        "point current at an earlier manifest (writes nothing else)",
        "Roll current back to a manifest from history. Only the current pointer is\n"
        "written; artifacts are never re-written or deleted. A target not in history, or\n"
        "whose artifacts fail validation, is refused and nothing changes.",
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", metavar="VERSION", help="manifest version (see `pubsafe history`)")
    target.add_argument("--steps", type=int, metavar="N", help="go back N manifests")
    p.add_argument("--guarded", action="store_true", help="compare-and-swap the pointer")

    command("current", "show the current manifest", "Print the current manifest and its version.")
    command("history", "list every manifest ever swapped in",
            "List the manifests this tenant/surface has had, oldest first; any of them\n"
            "is a rollback target.")
    command("orphans", "list blobs nothing references (R4)",
            "List blobs that no registry record and no manifest references: what crashed\n"
            "publishes leave behind. Listing never deletes.", slot=False)
    p = command("gc", "delete orphans older than a grace period",
                "Delete orphan blobs older than --grace. Never deletes a blob that a publish in\n"
                "flight will reference, however long that publish is paused. Run one gc at a time.",
                slot=False)
    p.add_argument("--grace", default="1h", help="minimum orphan age: 90s, 30m, 1h, 2d (default 1h)")
    command("audit", "check G1-G4 on the store's current state",
            "Check every current and historic manifest, record and blob: manifests parse,\n"
            "every referenced blob exists, hashes to its version and is recorded. Exit 1 if\n"
            "anything is found.", slot=False)
    p = sub.add_parser(
        "check",
        help="conformance: which guarantees hold on a store, under crashes and races",
        description=(
            "Run the conformance suite against a store (and optionally another engine or reader):\n"
            "capability probes, every interleaving class of the two-actor races, a crash sweep,\n"
            "and a Hypothesis state machine that checks G1-G5 after every step. Prints a verdict\n"
            "per guarantee: HOLDS, BREAKS (with a minimal counterexample and a replay command),\n"
            "DOCUMENTED (a documented race, observed) or UNKNOWN (the checker failed).\n\n"
            "  pubsafe check --store memory --store local --report out/\n"
            "  pubsafe check --store mypkg.stores:make_store --profile thorough --workers 2\n\n"
            "Exit 0 when every claimed guarantee is as expected, 1 when one breaks, 2 on usage errors."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--store", action="append", required=True,
                   help="memory, local (a fresh temporary directory per example), a path or URL, or "
                        "package.module:factory returning a new Store; repeatable")
    p.add_argument("--engine", help="package.module:factory(store, *, guarded, clock) of another engine")
    p.add_argument("--reader", help="package.module:factory(store, *, manifest_ttl, clock) of another reader")
    p.add_argument("--profile", choices=["quick", "default", "thorough"], default="default",
                   help="how hard to look (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="Hypothesis seed; the same seed replays the same run")
    p.add_argument("--report", metavar="DIR", help="write report.json, report.md and report.html here")
    p.add_argument("--seeds", type=int, default=1,
                   help="run this many independent seeds (from --seed on) and merge their verdicts")
    p.add_argument("--workers", type=int, default=1, help="parallel processes for --seeds")
    p.add_argument("--guarded", action="store_true", help="check guarded (compare-and-swap) mode")
    p.add_argument("--json", action="store_true", help="print the reports as JSON instead of Markdown")
    p = sub.add_parser("demo", help="narrated publish -> crash -> retry -> rollback -> audit",
                       description="Run the safety model end to end on a temporary local store.")
    p.add_argument("--dir", help="store directory to use (default: a new temporary directory)")
    return parser


def _duration(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match:
        raise InvalidInput(f"cannot read duration {text!r}: use a number with s, m, h or d, e.g. 90s or 1h")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]


def _read_artifacts(specs: Sequence[str]) -> dict[str, Any]:
    artifacts: dict[str, Any] = {}
    for spec in specs:
        type_, eq, source = spec.partition("=")
        if not eq or not type_ or not source:
            raise InvalidInput(f"artifact {spec!r} must be TYPE=FILE (or TYPE=- for stdin)")
        if type_ in artifacts:
            raise InvalidInput(f"artifact type {type_!r} given twice")
        try:
            text = sys.stdin.read() if source == "-" else open(source, encoding="utf-8").read()
        except OSError as exc:
            raise InvalidInput(f"cannot read {source!r} for {type_!r}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise InvalidInput(f"{source!r} is not UTF-8 text; artifacts are JSON documents") from None
        try:
            artifacts[type_] = json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{source!r} is not valid JSON: {exc}") from None
    return artifacts


def _refuse_constant(name: str) -> Any:
    raise InvalidInput(f"{name} is not valid JSON and has no canonical form; use null or a string")


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        print(text)


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json")


def run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(args.dir)
    if args.command == "check":
        from .check import check_command

        return check_command(args)
    if not args.store:
        raise InvalidInput("no store given: pass --store PATH_OR_URL or set PUBSAFE_STORE")
    store = open_store(args.store, create=args.command == "publish")
    engine = Engine(store, guarded=getattr(args, "guarded", False))
    cmd = args.command
    if cmd == "publish":
        receipt = engine.publish(args.tenant, args.surface, _read_artifacts(args.artifacts))
        lines = [f"{t}: {v}" for t, v in sorted(receipt.artifacts.items())]
        state = "swapped in" if receipt.swapped else "already current (nothing swapped)"
        _emit(args, _dump(receipt), "\n".join(lines + [f"manifest {receipt.manifest_version}: {state}"]))
        return EXIT_OK
    if cmd == "rollback":
        receipt = engine.rollback(args.tenant, args.surface, to=args.to, steps=args.steps)
        state = "rolled back" if receipt.swapped else "already current (nothing written)"
        _emit(args, _dump(receipt), f"{state}: {receipt.from_version} -> {receipt.to_version}")
        return EXIT_OK
    if cmd == "current":
        manifest = engine.current(args.tenant, args.surface)
        if manifest is None:
            _emit(args, None, f"{args.tenant}/{args.surface} has no current manifest")
            return EXIT_REFUSED
        lines = [f"manifest {manifest.version} (updated {manifest.updated_at.isoformat()})"]
        lines += [f"  {t}: {uri}" for t, uri in sorted(manifest.current.items())]
        _emit(args, {"version": manifest.version, "manifest": _dump(manifest)}, "\n".join(lines))
        return EXIT_OK
    if cmd == "history":
        entries = engine.history(args.tenant, args.surface)
        current = engine.current(args.tenant, args.surface)
        current_version = current.version if current else None
        lines = [
            f"{'*' if e.manifest.version == current_version else ' '} {e.manifest.version}  "
            f"{e.manifest.updated_at.isoformat()}  {', '.join(sorted(e.manifest.current))}"
            for e in entries
        ]
        data = [{"version": e.manifest.version, "current": e.manifest.version == current_version, **_dump(e)}
                for e in entries]
        _emit(args, data, "\n".join(lines) or "no history")
        return EXIT_OK
    if cmd == "orphans":
        orphans = engine.orphans()
        lines = [f"{o.key}  {o.size} bytes  {o.age_seconds:.0f}s old" for o in orphans]
        _emit(args, [_dump(o) for o in orphans], "\n".join(lines) or "no orphans")
        return EXIT_OK
    if cmd == "gc":
        report = engine.gc(_duration(args.grace))
        text = (f"deleted {len(report.deleted)}, kept {len(report.kept_young)} younger than the grace "
                f"period, {len(report.lost_race)} recorded mid-sweep and kept")
        _emit(args, _dump(report), text)
        return EXIT_OK
    if cmd == "audit":
        findings = engine.audit()
        lines = [f"{f.guarantee}  {f.key}: {f.message}" for f in findings]
        _emit(args, [_dump(f) for f in findings], "\n".join(lines) or "audit clean: G1-G4 hold on this store")
        return EXIT_REFUSED if findings else EXIT_OK
    raise AssertionError(cmd)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return run(args)
    except InvalidInput as exc:
        print(f"pubsafe: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PubsafeError as exc:
        print(f"pubsafe: refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except ValueError as exc:  # bad option values caught below the parser
        print(f"pubsafe: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
