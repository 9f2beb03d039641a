"""``pubsafe blackbox``: test a publisher program in any language from the outside."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from pubsafe.refimpl.errors import InvalidInput

from .printing import add_format_option

__all__ = ["add_parser", "blackbox_command"]

DESCRIPTION = """\
Run a publisher program many times, several at once, SIGKILL some at random moments,
and judge G1-G3 and the races from what the runs acknowledged (exit 0) and what the
store holds (Jepsen's black-box method). While the runs go, a reader reads current
over and over, as serving does: a current that is torn or names a missing blob even
for a moment breaks G2. Every fifth round starts runs of the same inputs together
(then one more alone): a registry record they write twice breaks G3. The publisher
is a command template:

  {store} {blob_store}  the store (a new or empty directory, or an s3:// prefix)
  {tenant} {surface}    the slot (acme/home)
  {artifacts}           one TYPE=FILE word per artifact (JSON input files), or
  {type} {file}         for a publisher of one artifact per run
  {version}             (--rollback only) the manifest version to return to

Placeholders are expanded once, in the template's words: a store path that holds
braces is passed as it is.

  pubsafe blackbox --store ./bb --publish 'pubsafe publish --store {store} --tenant {tenant} \
--surface {surface} {artifacts}'
  pubsafe blackbox --store ./bb --dialect recsys-pipelines --publish './uppub -store {store} -tenant {tenant} \
-surface {surface} {artifacts}'

Inputs and kills follow from --seed and the round number: --start-round R --rounds 1
replays round R's inputs and kill decisions (a real process's timing never replays
exactly). Exit 0 when every judged guarantee is as expected, 1 when one breaks, 2
when the harness cannot run (a bad template, a store that is not empty, a publisher
that cannot start or does not work alone), naming the fix."""


def add_parser(sub: Any) -> None:
    """Define ``blackbox`` on the CLI's subcommands (anything with argparse's ``add_parser``)."""
    p = sub.add_parser("blackbox", help="test a publisher program in any language, with kills and races",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--publish", required=True, metavar="TEMPLATE", help="command template of one publish")
    p.add_argument("--rollback", metavar="TEMPLATE", help="command template of a rollback to {version}")
    p.add_argument("--store", required=True, help="a new or empty directory, or an empty s3:// prefix")
    p.add_argument("--blob-store", help="blobs in a separate root ({blob_store}), as recsys-pipelines deploys it")
    p.add_argument("--dialect", choices=["auto", "pubsafe", "recsys-pipelines"], default="auto",
                   help="the rules the publisher writes by (default: %(default)s, detected from the records its "
                        "first publish writes)")
    p.add_argument("--guarded", action="store_true",
                   help="the publisher claims to detect concurrent publishes: a lost update then breaks R1-R3")
    p.add_argument("--rounds", type=int, default=50, help="rounds to run (default: %(default)s)")
    p.add_argument("--concurrency", type=int, default=2, help="publishers per round (default: %(default)s)")
    p.add_argument("--kill-probability", type=float, default=0.3,
                   help="chance each run is killed (default: %(default)s)")
    p.add_argument("--kill-delay", default="auto", metavar="LO-HI",
                   help="a kill comes this many seconds into its run (default: calibrated on the publisher's "
                        "own runs with as many artifacts, so that kills land in its work rather than its "
                        "start-up or after its end)")
    p.add_argument("--seed", type=int, default=0, help="the same seed, the same inputs and kill decisions")
    p.add_argument("--start-round", type=int, default=0, help="the first round's number (replay one round)")
    p.add_argument("--report", metavar="DIR", help="write report.json, report.md and report.html here")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_format_option(p)


def _delay_range(text: str) -> tuple[float, float]:
    """``--kill-delay LO-HI`` as (LO, HI) seconds, or a clear error."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*-\s*([0-9.]+)\s*", text)
    try:
        low, high = (float(match[1]), float(match[2])) if match else (1.0, 0.0)
    except ValueError:  # "1.2.3": digits and dots, but not a number
        low, high = 1.0, 0.0
    if low > high:
        raise InvalidInput(f"--kill-delay {text!r} must be auto or LO-HI seconds, e.g. 0-0.5")
    return low, high


def blackbox_command(args: argparse.Namespace) -> int:
    from pubsafe.models.blackbox import Budget, Publisher, check_publisher, run_blackbox
    from pubsafe.refimpl import open_store
    from pubsafe.reports import write_reports

    from .inputs import check_report_directory

    check_report_directory(args.report)
    delay = None if args.kill_delay == "auto" else _delay_range(args.kill_delay)
    if args.rounds < 1 or args.concurrency < 1 or not 0 <= args.kill_probability <= 1:
        raise InvalidInput("--rounds and --concurrency must be at least 1, --kill-probability between 0 and 1")
    publisher = Publisher(args.publish, args.rollback, args.guarded)
    check_publisher(publisher, blob_store=bool(args.blob_store))
    if args.rollback and args.dialect == "recsys-pipelines":
        raise InvalidInput("--rollback needs a writer that keeps manifest history (the pubsafe dialect)")
    store_spec, blob_spec = _fresh(args.store), _fresh(args.blob_store) if args.blob_store else None
    root_path = blob_spec if blob_spec and "://" not in blob_spec else store_spec if "://" not in store_spec else None
    budget = Budget(rounds=args.rounds, concurrency=args.concurrency, kill_probability=args.kill_probability,
                    kill_delay=delay, seed=args.seed, start_round=args.start_round)
    prefix = _replay_prefix(args)
    result = run_blackbox(publisher, store_spec, dialect=args.dialect, budget=budget, blob_spec=blob_spec,
                          root_path=root_path, replay_prefix=prefix,
                          open_store=lambda: open_store(store_spec, blob_store=blob_spec),
                          progress=lambda n: print(".", end="", file=sys.stderr, flush=True))
    print(file=sys.stderr)
    if args.report:
        paths = write_reports(result.report, args.report)
        print(f"wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    coverage = result.report.verdicts[0].coverage
    print(f"kills: {coverage.get('killed', 0)} run(s) SIGKILLed mid-run, {coverage.get('missed_kills', 0)} kill(s) "
          f"after the run had ended; {coverage.get('reruns', 0)} killed or failed run(s) re-run", file=sys.stderr)
    print(f"races: {coverage.get('paused_races', 0)} publisher(s) paused between their first blob and their swap, "
          f"{coverage.get('missed_pauses', 0)} pause(s) too late and {coverage.get('stalled_pauses', 0)} "
          "holding up the others (a lock: serial, not a race), tried again", file=sys.stderr)
    print(f"same inputs: {coverage.get('same_input_rounds', 0)} round(s) of runs started together, then republished "
          f"alone; {coverage.get('record_reads', 0)} record reads while they ran", file=sys.stderr)
    print(f"{result.rounds} rounds in {result.report.seconds:.1f}s; the harness itself took "
          f"{result.harness_seconds_per_round * 1000:.0f} ms per round; the store is left at {store_spec}",
          file=sys.stderr)
    if args.json:
        print(json.dumps(result.report.model_dump(mode="json") | {"conforming": result.report.conforming}, indent=2))
    else:
        from .printing import print_report

        print_report(result.report, args.format)
    return 0 if result.report.conforming else 1


def _fresh(spec: str) -> str:
    """A store the harness may fill: a new or empty directory (absolute), or an s3:// prefix."""
    if "://" in spec and not spec.startswith("file://"):
        return spec
    if spec.startswith("file://"):  # percent-encoded, as open_store reads it
        from urllib.parse import unquote, urlparse

        parsed = urlparse(spec)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidInput(f"{spec!r}: file:// URLs must name a local path (file:///dir)")
        spec = unquote(parsed.path)
    path = Path(spec).resolve()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidInput(f"{spec!r} is not a new or empty directory; blackbox fills its store with test data, so "
                           "give it one of its own")
    return str(path)


def _replay_prefix(args: argparse.Namespace) -> str:
    import shlex

    words = ["pubsafe blackbox", "--publish", shlex.quote(args.publish), "--store", shlex.quote(args.store + "-replay")]
    if args.rollback:
        words += ["--rollback", shlex.quote(args.rollback)]
    if args.blob_store:
        words += ["--blob-store", shlex.quote(args.blob_store + "-replay")]
    words += ["--dialect", args.dialect] + (["--guarded"] if args.guarded else [])
    words += ["--concurrency", str(args.concurrency), "--kill-probability", str(args.kill_probability),
              "--kill-delay", args.kill_delay]
    return " ".join(words)
