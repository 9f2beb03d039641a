"""The operator CLI: ``pubsafe publish | rollback | current | history | orphans | gc | audit | check | demo``.

The parser and error handling live here; the commands in ``commands``, what they
read in ``inputs``, exit and error codes in ``exits``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

from .blackbox import add_parser as add_blackbox_parser
from .exits import EXIT_INTERRUPTED, EXIT_USAGE, classify, report
from .printing import add_format_option

__all__ = ["main", "build_parser"]

MODEL = """\
The safety model, in four lines:
  1. artifacts are immutable and version-addressed (version = sha256 of RFC 8785 JSON);
  2. a publish writes blob -> validates it -> records it -> swaps the manifest LAST,
     so a publish that fails before the swap leaves serving on the previous manifest;
  3. re-running a publish is safe: every step is idempotent;
  4. rollback only re-points current at a manifest from history.
Store layout: <tenant>/<surface>/<type>/<version>.json (blobs), records/..., history/...,
current/<tenant>/<surface>/manifest.json.
Exit codes (every command):
  0    done; check and merge: CONFORMING
  1    refused (nothing written), or audit found errors; check and merge: NOT CONFORMING
       (a guarantee broke, or a claimed capability or a contract check failed; the report's
       first lines say which and what to change)
  2    usage or input error; nothing was written
  3    the store is unavailable or failed by itself; re-running the same command is safe
  4    gc finished in part: it deleted what it could prove safe and left the keys or slots
       it lists for a person; fix those and run gc again
  130  interrupted (Ctrl-C); a publish is visible only once complete: re-running is safe
  141  the output was cut short (`| head`); the command itself ran to the end
With --json, an error is one JSON object: {"error": CODE, "message", "exit"}.
"""


_OPTION = re.compile(r"--?[A-Za-z][\w-]*(=.*)?", re.DOTALL)


class _Parser(argparse.ArgumentParser):
    """argparse without its surprises: no silent abbreviations (``--stor`` is not
    ``--store``), a "did you mean" for an unknown command or option, and an unknown
    option reported before a missing one, with the usage of the command it was given to."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Iterable[str] | None = None, namespace: Any = None) -> tuple[Any, list[str]]:
        if self._subparsers is None:  # a command's parser: it owns every option it is given
            for token in list(sys.argv[1:] if args is None else args):
                if token == "--":
                    break
                name = token.split("=", 1)[0]
                if _OPTION.fullmatch(token) and name not in self._option_string_actions:
                    self.error(f"unrecognized option {name}{_did_you_mean(name, self._option_string_actions)}")
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        wrong = re.search(r"invalid choice: '([^']*)'", message)
        if wrong and self._subparsers is not None:
            choices = next(a.choices for a in self._subparsers._group_actions if a.choices)
            message = re.sub(r" \(choose from .*\)$", "", message) + _did_you_mean(wrong.group(1), choices)
            message += f"; the commands are {', '.join(choices)}"
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\nTry '{self.prog} --help'.\n")


def _did_you_mean(word: str, known: Iterable[str]) -> str:
    import difflib  # only on a usage error: a publish does not pay for it

    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


class _Unused:
    """Stands in for the parser of a command this run does not parse: adding its
    arguments is skipped (argparse's checks of each one cost a publish ~8 ms of start)."""

    def add_argument(self, *args: Any, **kwargs: Any) -> _Unused:
        return self

    def __getattr__(self, name: str) -> Callable[..., _Unused]:
        return self.add_argument


class _Commands:
    """The subcommands: all listed, only the one being run given its arguments."""

    def __init__(self, sub: argparse._SubParsersAction[_Parser], running: str | None) -> None:
        self.sub, self.running = sub, running

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser | _Unused:
        parser = self.sub.add_parser(name, **kwargs)
        return parser if self.running in (None, name) else _Unused()


def build_parser(running: str | None = None) -> argparse.ArgumentParser:
    """The whole CLI; with ``running``, only that command's own arguments are defined."""
    parser = _Parser(
        prog="pubsafe",
        description="Publish immutable artifacts with the manifest swapped last; roll back, audit, sweep.",
        epilog=MODEL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show pubsafe's version and exit")
    sub = _Commands(parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser), running)

    def command(name: str, help_: str, description: str, *, slot: bool = True) -> argparse.ArgumentParser | _Unused:
        p = sub.add_parser(name, help=help_, description=description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument(
            "--store",
            default=os.environ.get("PUBSAFE_STORE"),
            help="an existing directory, ./new-dir, file://, s3://, az://, gs:// or another fsspec URL "
                 "(default: $PUBSAFE_STORE)",
        )
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")
        p.add_argument("--blob-store", metavar="PATH_OR_URL",
                       help="blobs live under this separate root; --store is then the registry root (records, "
                            "current), as recsys-pipelines deploys it")
        p.add_argument("--root-map", action="append", default=[], metavar="ORIGINAL=LOCAL",
                       help="manifests name blobs under ORIGINAL (the root their writer knew); they are now "
                            "under LOCAL (repeatable)")
        p.add_argument("--dialect", choices=["auto", "pubsafe", "recsys-pipelines"], default="auto",
                       help="who writes this store (default: detected from its records)")
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
                "Delete orphan blobs and temp files of interrupted writes older than --grace. Never\n"
                "deletes a blob that a record or manifest names or that a publish in flight will\n"
                "reference, however long that publish is paused: each deletion holds a claim at the\n"
                "blob's record key that a publish cannot get past, and is fenced by the sweep's lease\n"
                "(two sweeps never delete at once, whatever their hosts' clocks say). Refuses a store\n"
                "without create-only writes, one that is not a whole pubsafe store, or one with\n"
                "recsys-pipelines records; a slot whose manifests or records do not parse is left\n"
                "alone and the rest collected.\n\n"
                "  pubsafe gc --store ./pub --dry-run              what would go, and why\n"
                "  pubsafe gc --store ./pub --grace 1h\n\n"
                "Exit 0 done, 1 refused (nothing deleted), 2 bad input, 3 store unavailable (retry),\n"
                "4 done in part (the keys or slots listed need a person; run again after fixing them).",
                slot=False)
    p.add_argument("--grace", default="1h", help="minimum orphan age, by this host's clock: 90s, 30m, 1h, 2d "
                                                  "(default 1h)")
    p.add_argument("--lease", default="5m",
                   help="how long the sweep's lease lasts unless renewed (1s to 24h); a sweep that crashed blocks "
                        "the next one this long (default 5m)")
    p.add_argument("--dry-run", action="store_true",
                   help="write and delete nothing: print what would be deleted, with the proof for each key")
    p.add_argument("--plan", metavar="FILE", help="with or without --dry-run: write that dry run's report (JSON) "
                                                  "to FILE, deleting nothing; FILE must be new and outside the store")
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
            "A NOT CONFORMING report opens with each root cause (what the implementation did, at which\n"
            "step, to which key, which acknowledged operation it cost) and what to change. On a\n"
            "terminal the report prints as tables; piped (a CI log), as a short summary that says\n"
            "where the report files are; --format md prints the whole Markdown report.\n\n"
            "Exit codes:\n"
            "  0    CONFORMING: every guarantee as expected, every claimed capability honoured\n"
            "  1    NOT CONFORMING: a guarantee broke, or a claimed capability or a contract check\n"
            "       failed (then every guarantee may be as expected: stderr says which it was)\n"
            "  2    usage error (a bad --store, --guarded on a store without compare-and-swap)\n"
            "  3    the store is unavailable (no bucket, no permission): nothing judged, no report\n"
            "  130  interrupted (Ctrl-C)\n"
            "  141  the output was cut short (`| head`); the check ran to the end and stderr says\n"
            "       how it ended (the reports of --report are written)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--store", action="append", required=True,
                   help="memory, local (a fresh temporary directory per example), a path or URL (a fresh "
                        "prefix under it per example), a scheme an adapter registered, or package.module:factory "
                        "returning a new Store (or a context manager yielding one); repeatable")
    p.add_argument("--engine", help="package.module:factory(store, *, guarded, clock) of another engine")
    p.add_argument("--reader", help="package.module:factory(store, *, manifest_ttl, clock) of another reader")
    p.add_argument("--profile", choices=["quick", "default", "thorough"], default="default",
                   help="how hard to look (default: %(default)s); quick sends a store about 13,400"
                        " requests, so on a remote store their round trips set its time")
    p.add_argument("--seed", type=int, default=0, help="Hypothesis seed; the same seed replays the same run")
    p.add_argument("--report", metavar="DIR", help="write report.json, report.md and report.html here")
    p.add_argument("--seeds", type=int, default=1,
                   help="run this many independent seeds (from --seed on) and merge their verdicts")
    p.add_argument("--workers", type=int, default=1, help="parallel processes for --seeds")
    p.add_argument("--shard", metavar="I/N", help="run only every N-th of the --seeds, starting with the I-th "
                                                   "(1-based): one job of a CI matrix; join the jobs' report.json "
                                                   "files with pubsafe merge")
    p.add_argument("--guarded", action="store_true", help="check guarded (compare-and-swap) mode")
    p.add_argument("--keep", action="store_true",
                   help="keep the stores the run creates (temporary directories, s3:// prefixes) for inspection; "
                        "by default every one is removed and closed")
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    add_format_option(p)
    add_blackbox_parser(sub)
    p = sub.add_parser(
        "merge", help="join the report.json files of shards or seeds into one report",
        description=("Merge report.json files of one target (the jobs of a --shard matrix, or separate runs\n"
                     "with different seeds) into one report: the first counterexample of each guarantee\n"
                     "wins and coverage is summed.\n\n"
                     "  pubsafe merge shard-*/report.json --report merged/\n\n"
                     "Exit 0 when the merged report conforms, 1 when it does not (stderr says why), 2 on bad\n"
                     "input (nothing written), 141 when the output was cut short."),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("reports", nargs="+", metavar="REPORT.json", help="report.json files (or their directories)")
    p.add_argument("--report", metavar="DIR", help="write the merged report.json, report.md and report.html here")
    p.add_argument("--json", action="store_true", help="print the merged report as JSON")
    add_format_option(p)
    p = sub.add_parser("demo", help="narrated publish -> crash -> retry -> rollback -> audit",
                       description="Run the safety model end to end on a temporary local store.")
    p.add_argument("--dir", help="store directory to use (default: a new temporary directory)")
    return parser


class _Version(argparse.Action):
    """--version, with the version read only when asked for (a publish never needs it)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        from . import __version__

        print(f"pubsafe {__version__}")
        parser.exit()


def _wants_json(argv: Sequence[str]) -> bool:
    return "--json" in argv


def run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(args.dir)
    if args.command == "check":
        from .check import check_command

        return check_command(args)
    if args.command == "merge":
        from .merge import merge_command

        return merge_command(args)
    if args.command == "blackbox":
        from .blackbox import blackbox_command

        return blackbox_command(args)
    from .commands import run_command  # imported here, so that a Ctrl-C while importing is caught too

    outcome = run_command(args)
    if args.json:
        print(json.dumps(outcome.data, indent=2, sort_keys=True, default=str))
    else:
        print(outcome.text)
    return outcome.exit


def main(argv: Sequence[str] | None = None) -> int:
    argv_given, argv = argv, list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(running=argv[0] if argv and not argv[0].startswith("-") else None)
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # argparse has printed its usage message
            code = exc.code if isinstance(exc.code, int) else EXIT_USAGE
            if code != 0 and _wants_json(argv):
                print(json.dumps({"error": "usage", "message": "invalid command line (see stderr)", "exit": code}))
            return code
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        args.argv = [sys.argv[0] if argv_given is None else "pubsafe", *argv]  # for the report's environment
        return run(args)
    except BrokenPipeError:  # the reader went away (`| head`): not an error of ours, and nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        return report("interrupted", EXIT_INTERRUPTED,
                      "stopped by Ctrl-C; a publish is visible only once complete, so re-running the same "
                      "command is safe", as_json=_wants_json(argv))
    except Exception as exc:
        from pubsafe.refimpl.errors import PubsafeError

        if not isinstance(exc, (PubsafeError, ValueError)):
            raise  # a bug: the traceback is the most useful thing to show
        error, exit_code = classify(exc)
        return report(error, exit_code, str(exc), as_json=_wants_json(argv))


if __name__ == "__main__":
    sys.exit(main())
