"""The operator CLI: a subprocess round trip, exit codes, and the bad-input table."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pubsafe.cli import main
from support import REPO, tree

README = REPO / "README.md"


def pubsafe(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pubsafe", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PUBSAFE_STORE": ""},
        timeout=60,
    )


def test_round_trip_in_a_subprocess(tmp_path):
    store = tmp_path / "store"
    (tmp_path / "m1.json").write_text('{"weights": [1, 2]}')
    (tmp_path / "m2.json").write_text('{"weights": [3, 4]}')
    slot = ["--store", str(store), "--tenant", "acme", "--surface", "home"]

    first = pubsafe("publish", *slot, "model=m1.json", "items=-", "--json", stdin="[1, 2, 3]", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    first_receipt = json.loads(first.stdout)
    assert first_receipt["swapped"] and set(first_receipt["artifacts"]) == {"model", "items"}

    current = pubsafe("current", *slot, "--json")
    assert json.loads(current.stdout)["version"] == first_receipt["manifest_version"]

    second = pubsafe("publish", *slot, f"model={tmp_path / 'm2.json'}")
    assert second.returncode == 0 and "swapped in" in second.stdout

    rolled = pubsafe("rollback", *slot, "--steps", "1")
    assert rolled.returncode == 0, rolled.stderr
    assert first_receipt["manifest_version"] in rolled.stdout

    history = pubsafe("history", *slot, "--json")
    entries = json.loads(history.stdout)
    assert len(entries) == 2
    assert [e["current"] for e in entries] == [True, False]

    audit = pubsafe("audit", "--store", str(store))
    assert audit.returncode == 0 and "audit clean" in audit.stdout

    blob = next((store / "acme" / "home" / "model").glob("*.json"))
    blob.write_text('{"weights": [9]}')
    audit = pubsafe("audit", "--store", str(store), "--json")
    assert audit.returncode == 1
    assert {f["guarantee"] for f in json.loads(audit.stdout)} == {"G1"}


def test_orphans_and_gc_commands(tmp_path, capsys):
    store = tmp_path / "store"
    from pubsafe.refimpl import Engine, LocalStore

    Engine(LocalStore(store)).publish("acme", "home", {"model": 1})
    from pubsafe.refimpl.canonical import canonicalize

    data, version = canonicalize({})  # a blob pubsafe wrote, never recorded
    orphan = store / "acme" / "home" / "model" / f"{version}.json"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(data)
    assert main(["orphans", "--store", str(store), "--json"]) == 0
    assert [o["key"] for o in json.loads(capsys.readouterr().out)] == [f"acme/home/model/{version}.json"]
    assert main(["gc", "--store", str(store), "--grace", "1h"]) == 0
    assert "kept 1 younger" in capsys.readouterr().out and orphan.exists()
    assert main(["gc", "--store", str(store), "--grace", "0s"]) == 0
    assert "deleted 1" in capsys.readouterr().out and not orphan.exists()


def test_help_teaches_the_model(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "swaps the manifest LAST" in out and "Exit codes" in out
    for command in ["publish", "rollback", "current", "history", "orphans", "gc", "audit", "check", "demo"]:
        assert command in out


#: every exit code, and words of when it happens, as --help and the README say them
EXIT_CODES = {"0": "CONFORMING", "1": "NOT CONFORMING", "2": "usage or input error", "3": "unavailable",
              "4": "gc finished in part", "130": "interrupted", "141": "cut short"}


def _exit_lines(text: str) -> dict[str, str]:
    """code -> its explanation (continuation lines joined), from an "Exit codes" list."""
    lines, found, code = text[text.index("Exit codes"):].splitlines()[1:], {}, None
    for line in lines:
        head = line.strip().split(" ", 1)
        if line.startswith(("  ", "| ")) and head[0].strip("|` ").isdigit():
            code = head[0].strip("|` ")
            found[code] = line
        elif code and line.startswith("       "):
            found[code] += " " + line.strip()
        elif found:
            break
    return found


def test_help_and_readme_list_every_exit_code_with_when_it_happens(capsys):
    assert main(["--help"]) == 0
    listed = _exit_lines(capsys.readouterr().out)
    assert set(listed) == set(EXIT_CODES)
    for code, words in EXIT_CODES.items():
        assert words in listed[code], (code, listed[code])
    assert main(["check", "--help"]) == 0
    listed = _exit_lines(capsys.readouterr().out)
    assert set(listed) == {"0", "1", "2", "3", "130", "141"} and "claimed capability" in listed["1"]
    assert main(["gc", "--help"]) == 0
    assert "4 done in part (the keys or slots listed need a person" in capsys.readouterr().out
    readme = README.read_text()
    table = readme[readme.index("| exit | when |"):]
    for code, words in EXIT_CODES.items():
        row = next(line for line in table.splitlines() if line.startswith(f"| {code} |"))
        assert words in row, row


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2


def test_demo_runs_green(tmp_path, capsys):
    assert main(["demo", "--dir", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "Everything behaved" in out


# -- bad input: each row is quoted in the README table --------------------------

SLOT = ["--tenant", "acme", "--surface", "home"]
BAD_INPUTS = [
    # (id, argv after the command's --store, files to create, exit code, message)
    ("empty tenant", ["publish", "--tenant", "", "--surface", "home", "m=good.json"], 2, "tenant '' is empty"),
    ("tenant with ..", ["publish", "--tenant", "..", "--surface", "home", "m=good.json"], 2,
     "is a relative directory reference"),
    ("surface with /", ["publish", "--tenant", "acme", "--surface", "a/b", "m=good.json"], 2,
     "contains a path separator"),
    ("reserved tenant", ["publish", "--tenant", "records", "--surface", "home", "m=good.json"], 2,
     "is reserved for the store layout"),
    ("type with space", ["publish", *SLOT, " m=good.json"], 2, "has surrounding whitespace"),
    ("spec without =", ["publish", *SLOT, "good.json"], 2, "must be TYPE=FILE"),
    ("type given twice", ["publish", *SLOT, "m=good.json", "m=good.json"], 2, "given twice"),
    ("missing file", ["publish", *SLOT, "m=nope.json"], 2, "cannot read 'nope.json'"),
    ("not JSON", ["publish", *SLOT, "m=broken.json"], 2, "is not valid JSON"),
    ("not UTF-8", ["publish", *SLOT, "m=latin1.json"], 2, "is not UTF-8 text"),
    ("NaN in payload", ["publish", *SLOT, "m=nan.json"], 2, "NaN is not valid JSON"),
    ("inexact big integer", ["publish", *SLOT, "m=bigint.json"], 2,
     "$.n: integer 18446744073709551617 has no exact JSON"),
    ("unknown rollback target", ["rollback", *SLOT, "--to", "0" * 64], 1, "is not in the history"),
    ("malformed rollback target", ["rollback", *SLOT, "--to", "HEAD~1"], 2, "is not a manifest version"),
    ("rollback steps 0", ["rollback", *SLOT, "--steps", "0"], 2, "steps must be a positive integer"),
    ("rollback too far", ["rollback", *SLOT, "--steps", "5"], 1, "cannot go back 5"),
    ("bad grace", ["gc", "--grace", "soon"], 2, "cannot read --grace 'soon'"),
    ("guarded on a store without CAS", ["publish", *SLOT, "--guarded", "m=good.json"], 2,
     "guarded mode needs compare-and-swap"),
]


@pytest.fixture
def seeded(tmp_path):
    for name, content in {
        "good.json": b'{"w": 1}',
        "broken.json": b'{"w": ',
        "latin1.json": '{"w": "caf\u00e9"}'.encode("latin-1"),
        "nan.json": b'{"w": NaN}',
        "bigint.json": b'{"n": 18446744073709551617}',
    }.items():
        (tmp_path / name).write_bytes(content)
    store = tmp_path / "store"
    assert main(["publish", "--store", str(store), *SLOT, f"m={tmp_path / 'good.json'}"]) == 0
    return tmp_path, store


@pytest.mark.parametrize(("argv", "code", "message"), [row[1:] for row in BAD_INPUTS],
                         ids=[row[0] for row in BAD_INPUTS])
def test_bad_input_is_refused_clearly_and_nothing_is_written(seeded, monkeypatch, capsys, argv, code, message):
    tmp_path, store = seeded
    monkeypatch.chdir(tmp_path)
    before = tree(store)
    # local:// is fsspec's own local filesystem (no compare-and-swap); a plain path
    # would open LocalStore, which has it.
    target = f"local://{store}" if "--guarded" in argv else str(store)
    exit_code = main([argv[0], "--store", target, *argv[1:]])
    err = capsys.readouterr().err
    assert exit_code == code, err
    assert message in err
    assert tree(store) == before


def test_missing_store_directory_is_not_created_by_read_commands(tmp_path, capsys):
    missing = tmp_path / "typo"
    for argv in (["audit"], ["orphans"], ["current", *SLOT], ["history", *SLOT], ["gc"]):
        assert main([argv[0], "--store", str(missing), *argv[1:]]) == 2
        assert "no store at" in capsys.readouterr().err
    assert not missing.exists()


def test_no_store_given(capsys, monkeypatch):
    monkeypatch.delenv("PUBSAFE_STORE", raising=False)
    assert main(["audit"]) == 2
    assert "no store given" in capsys.readouterr().err


def test_readme_bad_input_table_matches_these_tests():
    text = README.read_text()
    for row_id, _argv, code, message in BAD_INPUTS:
        assert f"| {row_id} |" in text, f"README bad-input table lacks the row {row_id!r}"
        line = next(line for line in text.splitlines() if line.startswith(f"| {row_id} |"))
        assert message.replace("|", "\\|") in line and f"| {code} |" in line, line


# -- pubsafe check ------------------------------------------------------------------


def test_check_exit_codes_and_reports(tmp_path, capsys):
    assert main(["check", "--store", "memory", "--profile", "quick", "--report", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    # piped (a CI log): a few lines, the answer and where the whole report is
    assert out.startswith("memory: CONFORMING") and "R1 R2 R3 R4 DOCUMENTED" in out
    assert f"the whole report: {tmp_path / 'r' / 'report.md'} and {tmp_path / 'r' / 'report.html'}" in out
    assert len(out.splitlines()) <= 8, out
    assert json.loads((tmp_path / "r" / "report.json").read_text())["conforming"] is True
    assert (tmp_path / "r" / "report.html").read_text().startswith("<!doctype html>")

    assert main(["check", "--store", "pubsafe.models.mutants:OverwritingPutStore", "--profile", "quick", "--json"]) == 1
    reports = json.loads(capsys.readouterr().out)
    assert reports[0]["conforming"] is False
    assert {v["guarantee"] for v in reports[0]["verdicts"] if v["status"] == "BREAKS"} >= {"G1"}


def test_check_prints_tables_on_a_terminal_and_markdown_when_asked(capsys, monkeypatch):
    argv = ["check", "--store", "pubsafe.models.mutants:OverwritingPutStore", "--profile", "quick"]
    assert main([*argv, "--format", "md"]) == 1  # the whole Markdown report, as report.md
    piped = capsys.readouterr().out
    assert "| G1 |" in piped and "┃" not in piped
    assert piped.index("## What went wrong") < piped.index("## Verdicts")
    monkeypatch.setenv("COLUMNS", "120")
    assert main([*argv, "--format", "table"]) == 1
    table = capsys.readouterr().out
    assert "┃ ID" in table and "| G1 |" not in table
    assert "BREAKS (expected HOLDS)" in table and "cause: The store claims create_only but does not" in table
    assert max(len(line) for line in table.splitlines()) <= 120
    assert "G1" in table and "replay G1, G3" in table and "change: make put one atomic" in table


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "--store", "nosuchmodule:factory"], "cannot import 'nosuchmodule'"),
        (["check", "--store", "pubsafe.models.mutants:NOPE"], "has no attribute 'NOPE'"),
        (["check", "--store", "memory", "--seeds", "0"], "must be at least 1"),
    ],
)
def test_check_usage_errors(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_check_help_explains_the_verdicts(capsys):
    assert main(["check", "--help"]) == 0
    out = capsys.readouterr().out
    assert "HOLDS" in out and "BREAKS" in out and "DOCUMENTED" in out and "UNKNOWN" in out


# -- grammar: no silent abbreviations, a suggestion for every typo -------------------------


@pytest.mark.parametrize(("argv", "wanted"), [
    (["publish", "--tenat", "acme", "--surface", "home", "model=-"],
     "unrecognized option --tenat (did you mean --tenant?)"),
    (["publish", "--gaurded", "--tenant", "acme"], "unrecognized option --gaurded (did you mean --guarded?)"),
    (["publish", "--stor", "./x", "--tenant", "acme", "--surface", "home", "model=-"],
     "unrecognized option --stor (did you mean --store?)"),
    (["check", "--profil", "quick", "--store", "memory"], "unrecognized option --profil (did you mean --profile?)"),
    (["pubish"], "invalid choice: 'pubish' (did you mean publish?)"),
    (["rollbak"], "(did you mean rollback?)"),
])
def test_a_typo_is_refused_with_the_closest_spelling_and_the_commands_usage(argv, wanted, tmp_path, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert wanted in err
    command = argv[0] if argv[0] in ("publish", "check") else None
    usage = err.splitlines()[0]
    assert usage.startswith(f"usage: pubsafe {command} " if command else "usage: pubsafe [-h]"), usage
    assert not (tmp_path / "x").exists() and not Path("x").exists()  # nothing written for a refused line


def test_option_values_and_templates_are_not_mistaken_for_options(tmp_path, capsys):
    # a value after an option, a negative number and a spaced template are not options
    code = main(["check", "--store", "memory", "--seed", "-3", "--profile", "nope"])
    assert code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err
    code = main(["blackbox", "--help"])
    assert code == 0


def test_the_operator_commands_import_no_test_machinery(tmp_path):
    """Pipelines call the CLI once per publish: start-up is paid every time. The
    operator commands load neither Hypothesis nor pydantic nor fsspec nor rich, nor
    dataclasses (with the inspect module it imports, ~20 ms)."""
    (tmp_path / "m.json").write_text('{"w": 1}')
    program = (
        "import sys\nfrom pubsafe.cli import main\n"
        f"code = main(['publish', '--store', {str(tmp_path / 'pub')!r}, '--tenant', 'a', '--surface', 'b', "
        f"'model={tmp_path / 'm.json'}'])\n"
        "code += main(['audit', '--store', " + repr(str(tmp_path / "pub")) + "])\n"
        "print(sorted(m for m in ('hypothesis', 'pydantic', 'fsspec', 'rich', 's3fs', 'dataclasses') "
        "if m in sys.modules), code)\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[] 0"


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["publish", "--tenat", "x"], ["check", "--help"]])
def test_help_version_and_usage_errors_load_no_engine(argv):
    """Asking the CLI how to use it costs only the CLI: no pydantic, no engine."""
    program = ("import sys\nfrom pubsafe.cli import main\ntry:\n    main(" + repr(argv) + ")\nexcept SystemExit:\n"
               "    pass\nprint(sorted(m for m in ('pydantic', 'pubsafe.refimpl.engine', 'hypothesis', 'rich') "
               "if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout[-500:] + done.stderr[-500:]


def test_a_command_parsed_alone_has_every_argument_it_has_in_the_whole_cli():
    """main() defines only the running command's arguments (start-up time): nothing may go missing."""
    from pubsafe.cli import build_parser

    def commands(parser):  # type: ignore[no-untyped-def]
        return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices

    whole = commands(build_parser())
    assert len(whole) == 11
    for name, full in whole.items():
        alone = commands(build_parser(running=name))
        assert list(alone) == list(whole)
        assert alone[name].format_help() == full.format_help()
        assert [a.dest for a in alone[name]._actions] == [a.dest for a in full._actions]
        assert len(full._actions) > 1


# -- check in a pipeline: exit codes that say why, clean-up warnings that are true ---------------


def test_check_cut_short_by_head_exits_141_and_says_how_it_ended(tmp_path):
    """`pubsafe check --format table | head`: the reader went away before the table was
    printed. Not the "breaks" code 1 with no word: 141, and stderr says the run's verdict."""
    child = subprocess.Popen([sys.executable, "-m", "pubsafe", "check", "--store",
                              "pubsafe.models.mutants:OverwritingPutStore", "--profile", "quick", "--format", "table"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                             env={**os.environ, "PUBSAFE_STORE": ""})
    child.stdout.close()  # before the check has printed anything: its first write finds no reader
    err = child.stderr.read()
    assert child.wait(timeout=300) == 141, err
    assert "the output was cut short (exit 141); the check itself finished" in err and "NOT CONFORMING" in err
    assert "Traceback" not in err


def test_a_not_conforming_exit_says_why_on_stderr(capsys):
    argv = ["check", "--store", "pubsafe.models.mutants:OverwritingPutStore", "--profile", "quick"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "exit 1: pubsafe.models.mutants:OverwritingPutStore is NOT CONFORMING: create-only put is not atomic" in err


@pytest.mark.slow  # whole conformance runs or a fresh interpreter: seconds; CI runs it
def test_check_of_a_new_directory_warns_of_nothing_it_did_remove(tmp_path, capsys):
    """Stores the run never wrote to have no directory: removing them is no failure."""
    assert main(["check", "--store", str(tmp_path / "dir"), "--profile", "quick"]) == 0
    err = capsys.readouterr().err
    assert "warning" not in err and "could not remove" not in err, err
    assert not (tmp_path / "dir").exists() or list((tmp_path / "dir").iterdir()) == []


def test_a_removal_that_failed_is_looked_at_again_before_it_is_called_left_behind():
    """A listing cache naming a key that is gone (rclone's, s3fs's) fails the removal of
    that key, yet nothing is left: no warning. A key that really stays is named."""
    from pubsafe.models.target import factory_target, remove_everything
    from pubsafe.refimpl import MemoryStore
    from pubsafe.refimpl.errors import ObjectNotFound, StoreError

    class CachedListing(MemoryStore):
        def list(self, prefix: str = "") -> list[str]:
            return [*super().list(prefix), "ghost/listed-but-gone.json"]

        def delete(self, key: str) -> None:
            if key.startswith("ghost/"):
                raise StoreError("404 on delete of a key the listing cache still shows")
            super().delete(key)

        def stat(self, key: str):  # type: ignore[no-untyped-def]
            if key.startswith("ghost/"):
                raise ObjectNotFound(key)
            return super().stat(key)

    class Stubborn(CachedListing):
        def delete(self, key: str) -> None:
            if key == "keep/me.json":
                raise PermissionError("bucket policy forbids DeleteObject")
            super().delete(key)

    for kind, left in ((CachedListing, []), (Stubborn, ["keep/me.json"])):
        target = factory_target(kind.__name__, kind, remove=remove_everything)
        store = target.store_factory()
        store.put("a/b.json", b"{}")
        store.put("keep/me.json", b"{}")
        target.cleanup(store)
        if not left:
            assert target.leftovers == [], target.leftovers
        else:
            [line] = target.leftovers
            assert "PermissionError: bucket policy forbids DeleteObject; still there: keep/me.json" in line


@pytest.mark.parametrize("delay", ["0.5-0.1", "1.2.3-4", "soon", "1-2-3", "0-"])
def test_blackbox_refuses_a_kill_delay_it_cannot_read_before_running_anything(capsys, tmp_path, delay):
    """``--kill-delay`` is auto or LO-HI seconds; anything else is a usage error naming
    the form (once a traceback: ``1.2.3-4`` matched the pattern, then float() failed)."""
    argv = ["blackbox", "--store", str(tmp_path / "store"), "--publish", "true", "--kill-delay", delay]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"--kill-delay {delay!r} must be auto or LO-HI seconds" in err and "Traceback" not in err
    assert not (tmp_path / "store").exists()
