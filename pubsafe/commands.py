"""The operator commands: each takes parsed arguments and returns what to print.

``Outcome.data`` is what ``--json`` prints, ``Outcome.text`` what a person reads,
``Outcome.exit`` the exit code (see ``pubsafe.exits``). Errors are raised, not
returned; ``pubsafe.cli`` turns them into messages and exit codes.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, NamedTuple

from pubsafe.refimpl import Engine
from pubsafe.refimpl.dialects import DIALECTS
from pubsafe.refimpl.documents import to_json
from pubsafe.refimpl.errors import InvalidInput
from pubsafe.refimpl.fsspec_store import FsspecStore
from pubsafe.refimpl.gc_lease import validated_lease
from pubsafe.refimpl.local import LocalStore
from pubsafe.refimpl.split import SplitStore
from pubsafe.refimpl.store import Store

from .exits import EXIT_OK, EXIT_PARTIAL, EXIT_REFUSED
from .inputs import duration, open_cli_store, read_artifacts

__all__ = ["Outcome", "run_command", "OPERATOR_COMMANDS"]

OPERATOR_COMMANDS = ("publish", "rollback", "current", "history", "orphans", "gc", "audit")


class Outcome(NamedTuple):
    data: Any
    text: str
    exit: int = EXIT_OK


def _dump(document: Any) -> Any:
    return to_json(document)


def run_command(args: argparse.Namespace) -> Outcome:
    artifacts = read_artifacts(args.artifacts) if args.command == "publish" else None  # before opening the store
    grace = duration(args.grace, "--grace") if args.command == "gc" else None
    lease = validated_lease(duration(args.lease, "--lease")) if args.command == "gc" else None
    store = open_cli_store(args.store, create=args.command == "publish", blob_store=args.blob_store,
                           root_map=args.root_map)
    plan_file = _plan_file(args.plan, _local_roots(store)) if args.command == "gc" and args.plan else None
    dialect = None if args.dialect == "auto" else DIALECTS[args.dialect]
    engine = Engine(store, guarded=getattr(args, "guarded", False), dialect=dialect)
    if args.command == "publish":
        return _publish(engine, args, artifacts)
    if args.command == "rollback":
        return _rollback(engine, args)
    if args.command == "current":
        return _current(engine, args)
    if args.command == "history":
        return _history(engine, args)
    if args.command == "orphans":
        return _orphans(engine)
    if args.command == "gc":
        assert grace is not None and lease is not None
        return _gc(engine, grace, lease, dry_run=args.dry_run or plan_file is not None, plan_file=plan_file)
    return _audit(engine)


def _publish(engine: Engine, args: argparse.Namespace, artifacts: Any) -> Outcome:
    receipt = engine.publish(args.tenant, args.surface, artifacts)
    lines = [f"{t}: {v}" for t, v in sorted(receipt.artifacts.items())]
    state = "swapped in" if receipt.swapped else "already current (nothing swapped)"
    return Outcome(_dump(receipt), "\n".join(lines + [f"manifest {receipt.manifest_version}: {state}"]))


def _rollback(engine: Engine, args: argparse.Namespace) -> Outcome:
    receipt = engine.rollback(args.tenant, args.surface, to=args.to, steps=args.steps)
    state = "rolled back" if receipt.swapped else "already current (nothing written)"
    return Outcome(_dump(receipt),
                   f"{state}: {receipt.from_version or '(no readable current)'} -> {receipt.to_version}")


def _current(engine: Engine, args: argparse.Namespace) -> Outcome:
    manifest = engine.current(args.tenant, args.surface)
    if manifest is None:
        return Outcome(None, f"{args.tenant}/{args.surface} has no current manifest", EXIT_REFUSED)
    lines = [f"manifest {manifest.version} (updated {manifest.updated_at.isoformat()})"]
    lines += [f"  {t}: {uri}" for t, uri in sorted(manifest.current.items())]
    return Outcome({"version": manifest.version, "manifest": _dump(manifest)}, "\n".join(lines))


_MARK = {"current": "*", "replaced": " ", "unconfirmed": "?"}


def _history(engine: Engine, args: argparse.Namespace) -> Outcome:
    listing = engine.history_listing(args.tenant, args.surface)
    lines = [
        f"{_MARK[item.status]} {item.entry.manifest.version}  {item.entry.manifest.updated_at.isoformat()}  "
        f"{', '.join(sorted(item.entry.manifest.current))}"
        for item in listing.items
    ]
    if any(item.status == "unconfirmed" for item in listing.items):
        lines.append("* current; ? no later manifest names it as previous: it lost a guarded race or was "
                     "rolled back from (it may never have been current); any entry is a rollback target")
    lines += [f"skipped {key}: {why}" for key, why in listing.problems]
    data = [{"version": item.entry.manifest.version, "current": item.status == "current", "status": item.status,
             **_dump(item.entry)} for item in listing.items]
    if listing.problems:
        data.append({"skipped": [{"key": key, "reason": why} for key, why in listing.problems]})
    return Outcome(data, "\n".join(lines) or "no history")


def _orphans(engine: Engine) -> Outcome:
    orphans = engine.orphans()
    temps = [d for d in engine.store.debris() if d.kind == "temp"]
    lines = [f"{o.key}  {o.size} bytes  {o.age_seconds:.0f}s old" for o in orphans]
    if temps:
        lines.append(f"{len(temps)} temp file(s) of interrupted writes, {sum(t.size for t in temps)} bytes "
                     "(`pubsafe gc` removes those older than its grace period)")
    data = [_dump(o) for o in orphans] + [{"key": t.key, "size": t.size, "temp": True} for t in temps]
    return Outcome(data, "\n".join(lines) or "no orphans")


def _local_roots(store: Store) -> list[tuple[str, str]]:
    """(as given, resolved with links followed) for each local directory the store keeps files in."""
    if isinstance(store, SplitStore):
        return _local_roots(store.blobs) + _local_roots(store.registry)
    if isinstance(store, LocalStore) or isinstance(store, FsspecStore) and store.protocol in ("file", "local"):
        return [(store.root, os.path.realpath(store.root))]
    return []


def _inside(path: str, roots: list[tuple[str, str]]) -> str | None:
    """The root (as given) that ``path``, resolved with links followed, lies in or is; None if none."""
    real = os.path.realpath(path)
    return next((given for given, root in roots if os.path.commonpath([real, root]) == root), None)


def _outside(directory: str, roots: list[tuple[str, str]]) -> str:
    """A new plan file name in ``directory``, or beside the store if that directory lies inside it."""
    while (root := _inside(directory, roots)) is not None and os.path.dirname(root) != root:
        directory = os.path.dirname(root)
    names = ("gc-plan.json", *(f"gc-plan-{n}.json" for n in range(2, 100)))
    return next((p for name in names if not os.path.lexists(p := os.path.join(directory, name))), names[0])


def _plan_file(path: str, roots: list[tuple[str, str]]) -> Path:
    """Where ``--plan`` writes: a new file outside the store (the store is opened, not yet read)."""
    target = Path(path)
    if target.is_dir():
        raise InvalidInput(f"--plan {path!r} is a directory; give a new file name outside the store, "
                           f"e.g. {_outside(path, roots)}")
    if (root := _inside(path, roots)) is not None:
        raise InvalidInput(
            f"--plan {path!r} is inside the store ({root}), where it could overwrite a blob, a record or a manifest; "
            f"give a path outside the store, e.g. {_outside(os.path.dirname(os.path.abspath(path)), roots)}")
    if os.path.lexists(path):
        raise InvalidInput(f"--plan {path!r} already exists; a plan is written to a new file, never over an existing "
                           "one (it could be anything, even a link): give a new name, or move that file away first")
    if not target.parent.is_dir():
        raise InvalidInput(f"--plan {path!r}: the directory {str(target.parent)!r} does not exist")
    return target


def _write_plan(target: Path, text: str) -> None:
    """Create-only and never through a link, so a file that appeared since the check is not overwritten."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except FileExistsError:
        raise InvalidInput(f"--plan {str(target)!r} appeared while gc ran; a plan is written to a new file, never "
                           "over an existing one: give a new name") from None
    except OSError as exc:
        raise InvalidInput(f"cannot write the plan to {str(target)!r}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _gc(engine: Engine, grace: float, lease: float, *, dry_run: bool, plan_file: Path | None) -> Outcome:
    report = engine.gc(grace, lease_seconds=lease, dry_run=dry_run)
    data = _dump(report)
    if report.dry_run:
        lines = [f"would delete {key}: {why}" for key, why in sorted(report.planned.items())]
        text = "\n".join(lines or ["nothing to delete"]) + "\n(dry run: nothing was written or deleted; gc proves " \
               "each key again just before deleting it)"
        if plan_file is not None:
            _write_plan(plan_file, json.dumps(data, indent=2, sort_keys=True) + "\n")
            text += f"\nplan written to {plan_file}"
    else:
        text = (f"deleted {len(report.deleted)} orphan(s), finished {len(report.finished_tombstones)} crashed "
                f"sweep(s)' tombstone(s), removed {len(report.removed_debris)} temp file(s); kept "
                f"{len(report.kept_young)} younger than the grace period, {len(report.lost_race)} recorded mid-sweep")
        text += (f" (lease generation {report.generation})" if report.generation
                 else " (nothing to delete: no lease taken)")
    text += "".join(f"\nleft alone {key}: {why}" for key, why in sorted(report.left_alone.items()))
    text += "".join(f"\nnothing deleted in {slot}: {why}" for slot, why in sorted(report.blocked_slots.items()))
    text += "".join(f"\nnot deleted {key}: {why}" for key, why in sorted(report.failed.items()))
    if report.partial:
        text += ("\ngc finished in part (exit 4): fix what is listed above, then run gc again; everything else was "
                 "collected" if not report.dry_run else "\nthe slots and keys listed above would be left alone")
    return Outcome(data, text, EXIT_PARTIAL if report.partial and not report.dry_run else EXIT_OK)


def _audit(engine: Engine) -> Outcome:
    findings = engine.audit()
    errors = [f for f in findings if f.severity == "error"]
    lines = [f"store written by {engine.dialect.name}"]
    lines += [f"{f.guarantee}  {f.key}: {f.message}" + ("" if f.severity == "error" else "  (notice)")
              for f in findings]
    if not errors:
        lines.append("audit clean: G1-G4 hold on this store"
                     + (" (notices above are expected leftovers)" if findings else ""))
    return Outcome([_dump(f) for f in findings], "\n".join(lines), EXIT_REFUSED if errors else EXIT_OK)
