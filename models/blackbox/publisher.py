"""The publisher under test as blackbox sees it: command templates, their placeholders
and the budget of a run. A template is vetted before anything runs and expanded once
per run: a value put in is never expanded again."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from pubsafe.refimpl.errors import InvalidInput

__all__ = ["Budget", "Publisher", "check_publisher", "expand", "PLACEHOLDERS", "DIALECTS"]

PLACEHOLDERS = ("store", "blob_store", "tenant", "surface", "artifacts", "type", "file", "version")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")
DIALECTS = ("auto", "pubsafe", "recsys-pipelines")


@dataclass(frozen=True)
class Budget:
    rounds: int = 50
    concurrency: int = 2
    kill_probability: float = 0.3
    #: seconds into its run a kill comes; None: calibrated on the publisher's own runs
    #: (``_Harness._kill_delay``)
    kill_delay: tuple[float, float] | None = None
    seed: int = 0
    start_round: int = 0
    timeout: float = 120.0


@dataclass(frozen=True)
class Publisher:
    publish: str  #: command template of one publish
    rollback: str | None = None  #: command template of a rollback to ``{version}``
    guarded: bool = False  #: it claims to detect concurrent publishes: a lost update breaks R1-R3

    @property
    def one_artifact_at_a_time(self) -> bool:
        return "{artifacts}" not in self.publish


def check_publisher(publisher: Publisher, *, blob_store: bool = False) -> None:
    """InvalidInput, naming the fix, for a template blackbox cannot run: one that does
    not split as a shell would, names an unknown placeholder (or one the other template
    has, or ``{blob_store}`` without a blob store), puts ``{artifacts}`` (several words)
    inside a word, or lacks what it needs (``{artifacts}`` or ``{file}``; ``{version}``)."""
    for option, template in (("--publish", publisher.publish), ("--rollback", publisher.rollback)):
        if template is None:
            continue
        words = _words(template, option)
        theirs = {"artifacts", "type", "file"} if option == "--rollback" else {"version"}
        for word in words:
            for name in _PLACEHOLDER.findall(word):
                if name not in PLACEHOLDERS:
                    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                    raise InvalidInput(f"{option} {template!r} names {{{name}}}, which is no placeholder (they are "
                                       f"{known})")
                if name in theirs:
                    raise InvalidInput(f"{option} {template!r} names {{{name}}}, which only "
                                       f"{'--publish' if option == '--rollback' else '--rollback'} is given")
                if name == "blob_store" and not blob_store:
                    raise InvalidInput(f"{option} {template!r} names {{blob_store}}: give --blob-store too")
            if "{artifacts}" in word and word != "{artifacts}":
                raise InvalidInput(f"{option} {template!r}: {{artifacts}} becomes one TYPE=FILE word per artifact, "
                                   f"so it must be a word of its own, not part of {word!r}")
        if option == "--publish" and not any(w == "{artifacts}" or "{file}" in w for w in words):
            raise InvalidInput("the --publish template must contain {artifacts} (TYPE=FILE words) or {file}")
        if option == "--rollback" and not any("{version}" in w for w in words):
            raise InvalidInput("the --rollback template must contain {version} (the manifest version to return to)")


def _words(template: str, option: str) -> list[str]:
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise InvalidInput(f"{option} {template!r} does not split into words as a shell would ({exc}): check its "
                           "quotes") from None
    if not words:
        raise InvalidInput(f"{option} is empty: give the command line of one run")
    return words


def expand(template: str, values: dict[str, Any]) -> list[str]:
    """The template's words with each placeholder replaced once (``check_publisher``
    has vetted them): what a value brings in, braces included, stays as it is."""
    words = []
    for word in shlex.split(template):
        if word == "{artifacts}":
            words += [f"{t}={f}" for t, f in values["artifacts"]]
            continue
        words.append(_PLACEHOLDER.sub(lambda m: str(values.get(m[1], "")), word))
    return words
