"""What went wrong and what to change: the opening of a NOT CONFORMING report.

Each root cause is told in one sentence (what the implementation did, at which step,
to which key, and which acknowledged operation it cost), followed by what to change
for its class of failure. The fixes are those the mutant catalogue teaches
(docs/safety-model-by-example.md shows each class on a deliberately broken
implementation, docs/mutants.md lists them).

Everything is read from what the report already holds: the probe and contract
results, and each counterexample's message and timeline. The *culprit* is the step
that did the damage (a sweep's delete, a swap before the record, a rewrite); the
*victim* is the acknowledged step it cost (the swap of the publish whose blob was
deleted, the history entry a rollback rewrote). The timelines highlight both and the
key they share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pubsafe.models import Event
from pubsafe.models.guarantees import PROBE_GUARANTEES, Guarantee, Status
from pubsafe.models.verdicts import Report, Verdict

from .timeline import Highlight, short_key

__all__ = ["Explanation", "Diagnosis", "Fix", "FIXES", "UNCLAIMED", "explain", "diagnose", "caveats", "not_judged",
           "guarded_advice", "highlight", "STORY_DOC"]

STORY_DOC = "docs/safety-model-by-example.md"


@dataclass(frozen=True)
class Fix:
    """What to change for one class of failure, and the mutants whose stories show it."""

    title: str
    change: str
    stories: tuple[str, ...] = ()


#: failure class -> what to change (the "What prevents it" of the stories, said as advice)
FIXES: dict[str, Fix] = {
    "create_only": Fix(
        "create-only put is not atomic",
        "make put one atomic create-if-absent in the backend (S3: PUT with If-None-Match: *, refused with 412; "
        "a file system: write a temp file, then link(2) it to the key; SQL: INSERT into a primary key), never "
        "a check followed by a write; or stop claiming create_only.",
        ("put-overwrites", "check-then-write-put")),
    "compare_and_swap": Fix(
        "compare-and-swap is not atomic or not honoured",
        "make replace(expect=...) compare and write in one atomic step (S3: PUT with If-Match: <etag>, refused "
        "with 412; SQL: UPDATE ... WHERE etag = ?), and refuse a stale or absent expectation with Conflict; or "
        "stop claiming compare_and_swap (guarded mode is then refused, and R1-R3 stay documented races).",
        ("ignores-conditions", "check-then-write-cas")),
    "atomic_replace": Fix(
        "replace is visible half-done",
        "write the new document aside and move it into place in one step (a temp file, fsync, rename; an S3 PUT "
        "is atomic), at every size; never truncate and rewrite in place.",
        ("non-atomic-replace", "tears-large-values", "tears-equal-size-replaces", "stale-size-metadata",
         "stale-checksum-metadata")),
    "durable": Fix(
        "an acknowledged write does not survive a power cut",
        "fsync the temp file before renaming it into place and fsync the directory after; or stop claiming "
        "durable.",
        ("missing-fsync-before-rename",)),
    "read-together": Fix(
        "get_object reads the bytes and their etag apart",
        "read the bytes and their etag in one request or one transaction (S3: the body and the ETag header of one "
        "GetObject; Redis: one MULTI/EXEC, a Lua script or one HMGET of a hash holding both; SQL: one SELECT of "
        "both columns), never one read after the other.",
        ("reads-bytes-then-etag",)),
    "contract": Fix(
        "a Store primitive does not do what the contract says",
        "make the primitive behave as the contract check requires (quoted above); the check's name is the "
        "primitive to look at in the adapter.",
        ()),
    "sweep-deleted-adopted-blob": Fix(
        "a sweep deleted a blob a publish had adopted",
        "make a sweep's delete and a publish's adoption of the same blob mutually exclusive: before deleting an "
        "orphan, the sweep writes a tombstone create-only at the blob's record key (so the publish's record "
        "write fails, or the sweep's claim does), and the publish stats the blob again after recording it "
        "(confirm-read) and rewrites it if it is gone.",
        ("gc-without-protection",)),
    "swap-before-record": Fix(
        "current was swapped before its blobs were recorded",
        "swap last: write every blob, read it back, record it create-only (a blob found already stored too: "
        "an earlier, crashed attempt may have written it without its record), and only then replace current.",
        ("swap-before-validate", "swap-before-record", "existing-blob-assumed-recorded")),
    "partial-swap": Fix(
        "current was updated piecemeal",
        "build the whole new manifest (the current mapping with this publish's types overlaid) and replace "
        "current once, as one document.",
        ("in-place-manifest-patch",)),
    "record-rewritten": Fix(
        "a registry record was rewritten",
        "write records with a create-only put and take AlreadyExists with the same bytes as done; never replace "
        "a record.",
        ("record-overwrite",)),
    "rollback-wrote-more": Fix(
        "rollback wrote more than the pointer",
        "a rollback reads its target from history, validates it and replaces current/<tenant>/<surface>/"
        "manifest.json; it writes nothing else.",
        ("rollback-writes-artifacts",)),
    "no-history": Fix(
        "a swapped-in manifest was not kept in history",
        "before each swap, write the new manifest create-only to history/<tenant>/<surface>/<version>.json, so "
        "every acknowledged manifest is a rollback target.",
        ("no-history",)),
    "not-canonical": Fix(
        "a version is not the hash of the canonical form",
        "compute a version as the sha256 of the RFC 8785 (JCS) canonical form: UTF-8 without \\u escapes, "
        "ECMAScript number spelling (1e+16, 0 for -0.0), keys in UTF-16 order; a maintained implementation "
        "(rfc8785) is safer than json.dumps.",
        ("non-canonical-hash", "ascii-escaping-canonical", "python-number-spelling")),
    "names-fold": Fix(
        "two different names became one key",
        "compare keys as exact strings: no case folding, no Unicode normalisation. A backend that folds them (a "
        "case-insensitive or normalising file system or server) needs the keys encoded before they reach it; a "
        "reader looks tenants and surfaces up exactly as given.",
        ("case-insensitive-keys", "unicode-normalizing-keys", "reader-folds-tenant-case")),
    "reader-stale": Fix(
        "serving ignored its TTL",
        "re-read current once manifest_ttl has passed since it was read; staleness is judged against "
        "acknowledged swaps.",
        ("reader-cache-never-expires",)),
    "reader-escapes": Fix(
        "serving followed a URI out of its slot",
        "resolve a manifest's URIs only inside the reader's own tenant and surface (and the store root), and "
        "check every artifact's sha256 against its version before serving it.",
        ("reader-trusts-uris", "reader-surface-blind")),
    "invalidated-another-slot": Fix(
        "invalidate() forgot another slot than the one named",
        "forget exactly the slot invalidate() is given, and look slots up by the exact names: no case folding, no "
        "Unicode normalisation of tenant or surface anywhere in the reader.",
        ("reader-folds-tenant-case", "reader-invalidates-normalised-slot")),
    "reader-trusts-rereads": Fix(
        "serving trusted a blob it had verified once",
        "check a blob's sha256 against its version every time it is read from the store, not only the first "
        "time: a stored blob can be altered or replaced under the reader.",
        ("reader-verifies-blobs-once",)),
    "listing-page": Fix(
        "a listing stopped at its first page",
        "follow the listing's continuation (S3 NextContinuationToken, Azure's marker, GCS's pageToken) until the "
        "backend says there is no more: list() is every key under the prefix, and gc deletes by what it lists.",
        ("listing-stops-at-a-page",)),
    "rollback-unvalidated": Fix(
        "a rollback went to a manifest whose blobs are gone",
        "validate every blob a rollback target names (it exists, hashes to its version, is recorded) before the "
        "swap, and refuse a target that cannot be served; `--steps` counts back along current's own history "
        "links, never from the newest entry by time.",
        ("rollback-trusts-history", "steps-from-newest-entry")),
    "failure-read-as-exists": Fix(
        "a store took a failed write for an existing object",
        "map only \"it exists\" (EEXIST; S3's 412 Precondition Failed) to AlreadyExists; any other failure of a "
        "create-only write (a full disk, an I/O error, a 409 or 5xx) is a store error, so the publish stops or "
        "retries instead of taking the object as written.",
        ("link-errors-read-as-exists",)),
    "reader-caches-absence": Fix(
        "invalidate() kept a cached absence",
        "make invalidate() forget everything cached for the surface, an absent manifest included.",
        ("reader-caches-absence",)),
    "guarded-lost-update": Fix(
        "guarded mode let a swap over a newer manifest through",
        "compare-and-swap against the etag read together with the manifest the new one was merged from "
        "(read-current); never re-read current just before the swap. On Conflict, re-read, re-merge, try again.",
        ("cas-against-fresh-etag",)),
    "retry-refuses": Fix(
        "a retry took its own earlier write for a foreign one",
        "make every phase idempotent: when a create-only write finds the key taken, read it back; the same bytes "
        "mean the earlier attempt landed, and the retry goes on.",
        ("retry-after-timeout-refuses",)),
    "deletes-on-conflict": Fix(
        "a publish deleted its writes when it lost a swap",
        "on a lost swap raise PublishConflict and delete nothing: another publish may have adopted those blobs "
        "already; orphans are for pubsafe gc, which claims before it deletes.",
        ("cleans-up-on-conflict",)),
    "unexpected-error": Fix(
        "an operation raised an error it is not documented to raise",
        "raise only the documented errors (PublishConflict, RollbackRefused, the store errors); anything else "
        "leaves the caller unable to tell whether to retry.",
        ()),
    "unknown": Fix(
        "the checker could not decide",
        "this is not a finding about the implementation: run the check again (a store error pubsafe did not "
        "inject makes a run prove nothing); if it repeats, report it with the replay command.",
        ()),
}

#: per guarantee, what to change when no more specific class matches (the safety model's defences)
_DEFENCE = {
    Guarantee.G1: "write blobs create-only under the sha256 of their RFC 8785 form, read them back before use, "
                  "and never delete or rewrite one that is acknowledged.",
    Guarantee.G2: "swap current last, as one whole-document atomic replace, after every blob is written, "
                  "validated and recorded.",
    Guarantee.G3: "make every phase idempotent: create-only writes that accept an existing identical object, and "
                  "a retry that recognises its own swap.",
    Guarantee.G4: "keep every swapped manifest in history, version-addressed; a rollback validates its target "
                  "and replaces only current.",
    Guarantee.G5: "expire cached manifests after their TTL, check every artifact's hash and confine URIs to "
                  "the reader's tenant and surface.",
    Guarantee.R1: "compare-and-swap the manifest against the etag read with it; on Conflict re-read and re-merge.",
    Guarantee.R2: "compare-and-swap the manifest against the etag read with it; on Conflict re-read and re-merge.",
    Guarantee.R3: "compare-and-swap the manifest against the etag read with it; on Conflict re-read and re-merge.",
    Guarantee.R4: "leave orphans to pubsafe gc.",
    Guarantee.R5: "a sweep claims a tombstone at the record key, create-only, before deleting; the publish "
                  "re-checks its blob after recording.",
}

#: what a broken guarantee costs, in the words of its consequence
_COST = {
    Guarantee.G1: "an acknowledged blob is gone",
    Guarantee.G2: "current names a blob that does not exist",
    Guarantee.G3: "a retry no longer converges",
    Guarantee.G4: "a rollback to an acknowledged manifest is refused",
    Guarantee.G5: "serving returns the wrong bytes",
    Guarantee.R5: "current names a blob that does not exist",
}

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX12 = re.compile(r"\b([0-9a-f]{12})…")
_CLAIM = re.compile(r"the store claims (\w+) but does not honour it")
_STEPS = re.compile(r"actor (\w+) read current at step (\d+), the other actor swapped at step (\d+), and \1 swapped "
                    r"over it at step (\d+)")


@dataclass
class Explanation:
    """One counterexample run, explained: its failure class, the sentence, and the
    steps of its timeline to highlight."""

    kind: str
    cause: str
    culprit: int | None = None
    victim: int | None = None
    key: str | None = None
    related: list[int] = field(default_factory=list)  #: other steps the sentence names
    culprit_note: str = "culprit"  #: what the timeline says at the culprit's step
    victim_note: str = "what it cost"  #: ...and at the victim's
    #: the store capability this run shows failing on the way (a consequence of its broken claim, if probed so)
    relies_on: str | None = None


@dataclass
class Diagnosis:
    """One root cause of a report: the guarantees it broke, one sentence, the fix."""

    kind: str
    guarantees: list[Guarantee]
    cause: str
    fix: Fix
    #: index into ``report.counterexample_groups()`` of the run the sentence tells, if any
    group: int | None = None
    #: what else this cause broke, one sentence each (``R5: the sweep deleted ...``)
    also: list[str] = field(default_factory=list)

    @property
    def change(self) -> str:
        return self.fix.change


# -- reading a timeline ------------------------------------------------------------------------


def _is_current(key: str) -> bool:
    return key.startswith("current/") and key.endswith("/manifest.json")


def _landed(e: Event) -> bool:
    """The write took effect: it returned, or its acknowledgement was lost after it landed."""
    return e.ok or (e.fault or "").startswith(("lost-ack", "error-after", "torn"))


def _mentioned(text: str, key: str) -> bool:
    if key in text:
        return True
    version = _HEX64.search(key)
    return bool(version and (version.group(0) in text or f"{version.group(0)[:12]}…" in text))


def _record_key(blob: str) -> str:
    return f"records/{blob}"


def _upper(actor: str) -> str:
    """``publish A`` -> ``Publish A`` (``str.capitalize`` would lower the letter)."""
    return actor[:1].upper() + actor[1:]


def _cost(verdicts: list[Verdict]) -> str:
    seen = []
    for v in verdicts:
        phrase = _COST.get(v.guarantee)
        if phrase and phrase not in seen:
            seen.append(phrase)
    return " and ".join(seen) or "the guarantee broke"


def explain(group: list[Verdict]) -> Explanation:
    """The failure class and the one-sentence cause of one counterexample run (a group
    of ``Report.counterexample_groups``)."""
    ce = group[0].counterexample
    assert ce is not None
    events = ce.timeline
    text = " ".join(v.counterexample.message for v in group if v.counterexample)
    claim = _CLAIM.search(text)
    if claim:
        how = text[claim.end():].lstrip(": ").strip()
        return Explanation(claim.group(1), f"The store claims {claim.group(1)} but does not honour it"
                                           + (f": {how}" if how else "."))
    for reader in (_backend_failure_as_exists, _invalidation, _reread, _listing, _rollback_unvalidated,
                   _deleted, _race, _rollback_wrote, _no_history, _record_rewritten, _half_updated,
                   _unrecorded, _not_canonical, _names, _reader, _raised, _fallback):
        found = reader(events, text, group)
        if found:
            found.cause = short_key(found.cause)  # versions cut as the timeline labels cut them
            return found
    raise AssertionError("_fallback explains everything")


def _deleted(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    """A live blob deleted: by a sweep (R5's story), or by a publish cleaning up after a conflict."""
    deletes = ([n for n, e in enumerate(events) if e.op == "delete" and e.ok and e.key in text]
               or [n for n, e in enumerate(events) if e.op == "delete" and e.ok and _mentioned(text, e.key)])
    if not deletes:
        deletes = [n for n, e in enumerate(events) if e.op == "delete" and e.ok and "raised" in text]
        if deletes and not any("gc" in events[n].actor for n in deletes):
            return _cleaned_up(events, text, deletes)
        return None
    culprit = deletes[-1]
    gone = events[culprit]
    if "gc" not in gone.actor and "sweep" not in gone.actor:
        return _cleaned_up(events, text, deletes)
    # the publish that adopted the blob: it wrote it, or found it there, and then swapped acknowledged
    adopter = None
    for n, e in enumerate(events[:culprit]):
        if e.actor != gone.actor and e.key in (gone.key, _record_key(gone.key)) and e.op in ("put", "replace"):
            adopter = adopter if adopter is not None and events[adopter].actor == e.actor else n
    swap = None
    if adopter is not None:
        actor = events[adopter].actor
        swap = next((n for n, e in enumerate(events) if n > adopter and e.actor == actor and e.op == "replace"
                     and _is_current(e.key) and e.ok), None)
    key = short_key(gone.key)
    sentence = f"The sweep ({gone.actor}) deleted {key} at step {culprit}"
    related: list[int] = []
    relies = None
    if adopter is not None:
        first = events[adopter]
        record = next((n for n, e in enumerate(events) if n >= adopter and e.actor == first.actor
                       and e.key == _record_key(gone.key) and e.op in ("put", "replace") and e.ok), None)
        how = ("found the blob already stored" if first.result == "AlreadyExists" and first.key == gone.key
               else "wrote the blob")
        sentence += f", a blob {first.actor} had adopted ({how} at step {adopter}"
        related.append(adopter)
        if record is not None:
            sentence += f" and recorded it at step {record}"
            related.append(record)
        sentence += ")"
        if swap is not None:
            sentence += f" and swapped into current at step {swap}, acknowledged"
        claim = next((n for n, e in enumerate(events[:culprit]) if e.actor == gone.actor and e.ok and e.op == "put"
                      and e.key == _record_key(gone.key) and record is not None and n > record), None)
        if claim is not None:  # the claim is a create-only put: it must have failed on the record
            sentence += (f"; the sweep's claim at step {claim}, a create-only put, succeeded over the record "
                         f"written at step {record}")
            related.append(claim)
            relies = "create_only"
    return Explanation("sweep-deleted-adopted-blob", f"{sentence}: {_cost(group)}.", culprit,
                       swap if swap is not None else adopter, gone.key, related,
                       "culprit: deletes an adopted blob",
                       "acknowledged: current names it" if swap is not None else "adopts the blob", relies)


def _cleaned_up(events: list[Event], text: str, deletes: list[int]) -> Explanation:
    first = events[deletes[0]]
    conflict = next((n for n, e in enumerate(events[:deletes[0]]) if e.actor == first.actor
                     and e.result == "Conflict"), None)
    raised = re.search(r"raised (\w+(?:\(.{0,80}?\))?)", text)
    lost = f"lost its swap at step {conflict} (Conflict), then " if conflict is not None else ""
    span = f"steps {deletes[0]}-{deletes[-1]}" if len(deletes) > 1 else f"step {deletes[0]}"
    sentence = (f"{_upper(first.actor)} {lost}deleted what it had written ({span}, from {short_key(first.key)} "
                f"on)" + (f" and raised {raised.group(1)}" if raised else "") +
                ": the caller cannot tell a conflict from a failure, and a blob another publish adopted may be gone.")
    return Explanation("deletes-on-conflict", sentence, deletes[0], conflict, first.key, deletes[1:],
                       "culprit: deletes its own writes", "the lost swap")


def _race(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    """A lost update: the final swap was made over an acknowledged swap its author never read."""
    if "no serial order" not in text:
        return None
    swaps = [n for n, e in enumerate(events) if e.op == "replace" and _is_current(e.key) and e.ok]
    if len(swaps) < 2:
        return None
    last = swaps[-1]
    actor = events[last].actor
    before = [n for n in swaps[:-1] if events[n].actor != actor]
    if not before:
        return None
    over = before[-1]
    read = max((n for n, e in enumerate(events[:over]) if e.actor == actor and e.op == "get" and _is_current(e.key)),
               default=None)
    reread = max((n for n, e in enumerate(events[over:last], over) if e.actor == actor and e.op == "get"
                  and _is_current(e.key)), default=None)
    guarded = any(v.guarantee.value.startswith("R") and v.expected == Status.HOLDS for v in group)
    sentence = (f"{_upper(actor)} " + (f"read current at step {read}, " if read is not None else "")
                + f"then swapped it at step {last} over the acknowledged swap of {events[over].actor} at step {over}")
    if guarded and reread is not None:
        sentence += (f": its compare-and-swap compared against current as re-read at step {reread}, not as read "
                     f"when it merged, so {events[over].actor}'s update is lost")
    elif guarded:
        sentence += f", although guarded mode must refuse that swap: {events[over].actor}'s update is lost"
    else:
        sentence += f": {events[over].actor}'s update is lost"
    return Explanation("guarded-lost-update" if guarded else "race", sentence + ".", last, over, events[last].key,
                       [n for n in (read, reread) if n is not None], "culprit: swaps over it",
                       "acknowledged swap, then lost")


def _rollback_wrote(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    wrote = re.search(r"rollback wrote more than the current pointer: \['([^']+)'", text)
    if not wrote:
        return None
    key = wrote.group(1)
    culprit = max((n for n, e in enumerate(events) if e.key == key and e.op in ("put", "replace", "delete")
                   and "rollback" in e.actor), default=None)
    victim = min((n for n, e in enumerate(events) if e.key == key and e.op in ("put", "replace") and e.ok
                  and "rollback" not in e.actor), default=None)
    sentence = f"The rollback wrote {short_key(key)}" + (f" at step {culprit}" if culprit is not None else "")
    if victim is not None:
        sentence += f", which {events[victim].actor} had written at step {victim}, acknowledged"
    return Explanation("rollback-wrote-more", sentence + ": a rollback may replace only current, and the manifest "
                       "it returns to is no longer the one acknowledged.", culprit, victim, key, [],
                       "culprit: the rollback rewrites it", "acknowledged write, then rewritten")


def _no_history(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    if "is not in the history" not in text and "has no history entry" not in text:
        return None
    missing = next((n for n, e in enumerate(events) if e.key.startswith("history/") and e.result == "ObjectNotFound"),
                   None)
    key = events[missing].key if missing is not None else None
    swap = None
    if key is not None:
        swap = max((n for n, e in enumerate(events[:missing]) if e.op == "replace" and _is_current(e.key) and e.ok
                    and not any(x.key == key and x.op == "put" for x in events[:n])), default=None)
    sentence = "A publish swapped current"
    if swap is not None:
        sentence = f"{_upper(events[swap].actor)} swapped current at step {swap}, acknowledged,"
    sentence += f" without first writing the manifest to {short_key(key)}" if key else " without keeping it in history"
    if missing is not None:
        sentence += f", so the rollback to it failed at step {missing} (not in the history)"
    return Explanation("no-history", sentence + ".", swap, missing, key, [],
                       "culprit: swapped in, never kept in history", "the rollback to it fails")


def _record_rewritten(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    found = re.search(r"registry record (\S+) was rewritten", text)
    if not found:
        return None
    key = found.group(1)
    writes = [n for n, e in enumerate(events) if e.key == key and e.op in ("put", "replace") and _landed(e)]
    culprit = next((n for n in reversed(writes) if events[n].op == "replace"), writes[-1] if writes else None)
    earlier = [n for n in writes if culprit is not None and n < culprit]
    sentence = f"The publish rewrote the registry record {short_key(key)}"
    if culprit is not None:
        e = events[culprit]
        sentence += f" at step {culprit} ({e.op}" + (", not a create-only put" if e.op == "replace" else "") + ")"
    if earlier:
        sentence += f", over the record written at step {earlier[0]}"
    fault = re.search(r"(\S+@\S+) during", text)
    if fault:
        sentence += f"; after {fault.group(1)} its retry wrote it again"
    return Explanation("record-rewritten", sentence + ": a record must be written once.", culprit,
                       earlier[0] if earlier else None, key, [], "culprit: rewrites the record",
                       "the record as first written")


def _half_updated(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    found = re.search(r"left (\S+) half-updated", text)
    if not found:
        return None
    culprit = max((n for n, e in enumerate(events) if e.op == "replace" and _is_current(e.key) and _landed(e)),
                  default=None)
    sentence = "The publish"
    if culprit is not None:
        e = events[culprit]
        sentence += (f" replaced current at step {culprit} with only part of its new mapping"
                     + (f" and then died ({e.fault})" if e.fault else ""))
    else:
        sentence += " updated current part by part"
    return Explanation("partial-swap", sentence + f": {found.group(1)} was left half-updated, a mapping nobody "
                       "published.", culprit, None, events[culprit].key if culprit is not None else None, [],
                       "culprit: replaces current with part of the mapping")


def _unrecorded(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    found = re.search(r"current/\S+ names (\S+?)(?: \(\w+\))?, which (?:is not recorded|does not validate)", text)
    if not found:
        return None
    blob = found.group(1)
    record = _record_key(blob)
    swap = max((n for n, e in enumerate(events) if e.op == "replace" and _is_current(e.key) and _landed(e)),
               default=None)
    recorded = swap is not None and any(e.key == record and e.op in ("put", "replace") and _landed(e)
                                        for e in events[:swap])
    if swap is not None and not recorded:
        e = events[swap]
        sentence = (f"{_upper(e.actor)} swapped current at step {swap} before recording {short_key(blob)} "
                    f"(no write of its record came first)")
        if e.fault:
            sentence += f", and died right after ({e.fault})"
        return Explanation("swap-before-record", sentence + ": current names a blob nobody validated and "
                           "recorded, which a sweep may delete.", swap, None, blob, [],
                           "culprit: swaps before the record is written")
    crash = next((n for n, e in enumerate(events) if e.crashed), None)
    sentence = "A retried publish swapped current to name " + short_key(blob) + " without recording it"
    if crash is not None:
        e = events[crash]
        sentence = (f"{_upper(e.actor)} died at step {crash} ({e.fault}) after its put of {short_key(e.key)} "
                    f"landed; its retry found the blob stored, took it as recorded and swapped current to name "
                    f"{short_key(blob)} without writing its record")
    return Explanation("swap-before-record", sentence + ": current names an unrecorded blob, which a sweep may "
                       "delete.", crash, None, blob, [], "the crash its retry did not recover from")


def _not_canonical(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    if "canonical" not in text:
        return None
    prefix = _HEX12.search(text) or _HEX64.search(text)
    blob = None
    if prefix:
        version = prefix.group(1) if prefix.re is _HEX12 else prefix.group(0)
        blob = next((n for n, e in enumerate(events) if e.op == "put" and version[:12] in e.key), None)
    if blob is None:
        named = re.search(r"acknowledged blob (\S+) is missing: the same payload is stored as (\S+),", text)
        if named:
            return Explanation("not-canonical", f"The engine published {short_key(named.group(1))}, acknowledged, "
                               f"but the same payload hashes canonically to {short_key(named.group(2))}: its "
                               "version is not the sha256 of the RFC 8785 form, so one content has two names.")
        return None
    e = events[blob]
    swap = next((n for n, x in enumerate(events) if n > blob and x.actor == e.actor and x.op == "replace"
                 and _is_current(x.key) and x.ok), None)
    sentence = (f"{_upper(e.actor)} stored {short_key(e.key)} at step {blob} under a version that is not the "
                "sha256 of the payload's RFC 8785 canonical form")
    if swap is not None:
        sentence += f", and its swap at step {swap} was acknowledged"
    return Explanation("not-canonical", sentence + ": another implementation computes another version for the "
                       "same content.", blob, swap, e.key, [], "culprit: stored under a non-canonical version",
                       "acknowledged")


def _backend_failure_as_exists(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    found = re.search(r"after the (?:file system|server) answered (\S+) to (\S+)", text)
    if found and "put" in text:
        return Explanation("failure-read-as-exists", f"The store answered {found.group(1)} to {found.group(2)} "
                           "during a create-only write, and the adapter took the failure for an existing object: "
                           "the publish went on as if it had written it.")
    return None


def _invalidation(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    found = re.search(r"after invalidate\(([^)]*)\) the reader serves (.*?) \(", text)
    if found and "the invalidation reached another slot" in text:
        return Explanation("invalidated-another-slot", f"invalidate({found.group(1)}) forgot another slot than the "
                           f"one named: the reader then served {found.group(2)}, not its current manifest.")
    return None


def _reread(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    found = re.search(r"the reader served (\S+) altered after it first loaded it", text)
    if found:
        return Explanation("reader-trusts-rereads", f"The serving reader served {found.group(1)} after it was "
                           "altered in the store: it had checked the blob's hash on its first load only.",
                           key=found.group(1))
    return None


def _listing(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    found = re.search(r"listing fault: (list\('[^']*'\)) is not every key under the prefix", text)
    if found:
        return Explanation("listing-page", f"{found.group(1)} returned the first page of keys only: what the "
                           "store lists is not what it holds, and gc deletes by what it lists.")
    return None


def _rollback_unvalidated(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    found = re.search(r"rollback to (\S+) was accepted, though its (\S+) blob (\S+) was deleted", text)
    if found:
        return Explanation("rollback-unvalidated", f"A rollback to {found.group(1)} went through although its "
                           f"{found.group(2)} blob {found.group(3)} was gone: current now names a blob that does "
                           "not exist.", key=found.group(3))
    return None


def _names(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    found = re.search(r"(current/\S+) holds the manifest of (\S+)", text)
    if found:
        return Explanation("names-fold", f"The store folded two different names into one key: {found.group(1)} "
                           f"holds the manifest of {found.group(2)}, so one slot's publish replaced another's.")
    found = re.search(r"the reader serves (\S+) a manifest that is not its current one", text)
    if found:
        return Explanation("names-fold", f"Serving mixed up names: the reader serves {found.group(1)} a manifest "
                           "that is not its current one, one that another name's publish swapped in.")
    return None


def _reader(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    if "still serves the old manifest" in text:
        return Explanation("reader-stale", f"The serving reader ignored its TTL: {text.strip()}.")
    if "after invalidate()" in text:
        return Explanation("reader-caches-absence", f"The serving reader kept a cached answer: {text.strip()}.")
    if re.search(r"the reader followed \S+ manifest into", text) or "outside" in text and "reader" in text:
        return Explanation("reader-escapes", f"The serving reader left its slot: {text.strip()}.")
    return None


def _raised(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    found = re.search(r"raised (\w+): (.*)", text)
    if not found:
        return None
    if "retried" in text or re.search(r"fault plan '(error-after|lost-ack)", text):
        fault = re.search(r"fault plan '([^']+)'", text)
        return Explanation("retry-refuses", f"A publish retried after {fault.group(1) if fault else 'a fault'} "
                           f"(its write had landed before the error) raised {found.group(1)}: "
                           f"{found.group(2).strip()}: the retry took its own earlier write for a foreign one.")
    return Explanation("unexpected-error", f"{text.strip()}.")


def _fallback(events: list[Event], text: str, group: list[Verdict]) -> Explanation | None:
    return Explanation("other", f"{text.strip().rstrip('.')}.")


# -- the whole report --------------------------------------------------------------------------


def _fix(kind: str, guarantees: list[Guarantee]) -> Fix:
    if kind in FIXES:
        return FIXES[kind]
    g = guarantees[0]
    return Fix(f"{g} broke", _DEFENCE.get(g, "see the safety model."))


_CONTRACT = re.compile(r"the store fails the contract check (\w+):")
#: contract checks whose failure has a fix of its own
_CONTRACT_FIXES = {"get_object_reads_bytes_and_etag_together": "read-together"}


def diagnose(report: Report) -> list[Diagnosis]:
    """Every root cause of a NOT CONFORMING report, most specific first: broken
    claims, failed contract checks, then each class of counterexample once (told by its
    shortest run), then what could not be decided. Empty for a conforming report."""
    found: dict[str, Diagnosis] = {}
    for p in report.probes:
        if p.honoured is False:
            costs = list(PROBE_GUARANTEES.get(p.capability, ()))
            found[p.capability] = Diagnosis(p.capability, costs, f"The store claims {p.capability} but does not "
                                            f"honour it: {p.evidence}.", _fix(p.capability, costs))
    for c in report.contract:
        if c.status == "failed":
            from pubsafe.models.conformance.contract import CHECKS_BY_NAME

            check = CHECKS_BY_NAME.get(c.check)
            wanted = f" (it must: {check.doc.rstrip('.')})" if check and check.doc else ""
            found[f"contract:{c.check}"] = Diagnosis(
                "contract", list(c.guarantees), f"The store failed the contract check {c.check}: "
                f"{c.detail.rstrip('.')}{wanted}.", _fix(_CONTRACT_FIXES.get(c.check, "contract"), list(c.guarantees)))
    groups = report.counterexample_groups()
    explained = [(i, explain(group)) for i, group in enumerate(groups)]
    # the run told is the shortest one whose culprit step is known
    def steps(group: list[Verdict]) -> int:
        return len(group[0].counterexample.timeline) if group[0].counterexample else 0

    for i, why in sorted(explained, key=lambda item: (item[1].culprit is None, steps(groups[item[0]]))):
        group = groups[i]
        broken = [v.guarantee for v in group]
        failed = _CONTRACT.match(group[0].counterexample.message) if group[0].counterexample else None
        if failed and f"contract:{failed.group(1)}" in found:  # what a failed contract check broke: told under it
            known = found[f"contract:{failed.group(1)}"]
            known.guarantees += [g for g in broken if g not in known.guarantees]
            continue
        kind = why.kind if why.kind not in ("other", "unexpected-error") else f"{why.kind}:{broken[0]}"
        if why.relies_on in found and found[why.relies_on].kind in PROBE_GUARANTEES:
            known = found[why.relies_on]  # a consequence of a broken claim: told under it
            known.guarantees += [g for g in broken if g not in known.guarantees]
            known.also.append(f"{', '.join(g.value for g in broken)}: {why.cause}")
            continue
        if kind in found:
            known = found[kind]
            known.guarantees += [g for g in broken if g not in known.guarantees]
            if known.group is None and why.kind not in PROBE_GUARANTEES:
                known.group = i
            continue
        found[kind] = Diagnosis(why.kind, broken, why.cause, _fix(why.kind, broken),
                                None if why.kind in PROBE_GUARANTEES else i)
    for v in report.verdicts:
        if not v.as_expected and v.status == Status.UNKNOWN and found and _consequential(v.error or ""):
            continue  # told once, after the causes: see ``not_judged``
        if not v.as_expected and v.status == Status.UNKNOWN:
            diagnosis = found.setdefault("unknown", Diagnosis("unknown", [], f"{v.guarantee} could not be judged: "
                                         f"{(v.error or 'no reason given').rstrip('.')}.", FIXES["unknown"]))
            if v.guarantee not in diagnosis.guarantees:
                diagnosis.guarantees.append(v.guarantee)
        elif not v.as_expected and not v.counterexample and all(v.guarantee not in d.guarantees
                                                                for d in found.values()):
            found[f"verdict:{v.guarantee}"] = Diagnosis(
                "other", [v.guarantee], f"{v.guarantee} came out {v.status.value} where {v.expected.value} was "
                f"expected: {v.evidence.rstrip('.')}.", _fix("other", [v.guarantee]))
    for d in found.values():  # the guarantees of the run the sentence tells first, then by ID
        first = {v.guarantee for v in groups[d.group]} if d.group is not None else set()
        d.guarantees.sort(key=lambda g: (g not in first, list(Guarantee).index(g)))
    return list(found.values())


#: what a capability the store does not claim leaves open: the same sentence in the report's
#: probe table and in docs/writing-a-store-adapter.md (a test keeps them in step)
UNCLAIMED = {
    "create_only": "not claimed, so not probed: two writers racing one new key may both succeed, one overwriting "
                   "the other's bytes; G1 and G3 then rest on one publisher per artifact at a time",
    "compare_and_swap": "not claimed, so not probed: --guarded is refused on this store, and R1-R3 stay "
                        "documented races",
    "atomic_replace": "not claimed, so not probed: a reader racing a replace may read a half-written manifest; G2 "
                      "then rests on no reader meeting a replace halfway",
    "durable": "not claimed, so not probed: the check judges G1 and G2 against crashes of the publisher, never of "
               "the store; a store that loses acknowledged writes when its own machine loses power keeps G1 and G2 "
               "only while it stays up",
}


def caveats(report: Report) -> list[str]:
    """What a CONFORMING verdict does not cover on this store: each capability it does
    not claim, with what that leaves open (compare-and-swap is the guarded note's)."""
    return [f"{p.capability}: {UNCLAIMED[p.capability]}" for p in report.probes
            if not p.claimed and p.capability in UNCLAIMED and p.capability != "compare_and_swap"]


def not_judged(report: Report) -> list[Guarantee]:
    """Guarantees left UNKNOWN only because the run stopped at a failure found first
    (a consequence of the root causes, not one of them)."""
    return [v.guarantee for v in report.verdicts if v.status == Status.UNKNOWN and not v.as_expected
            and _consequential(v.error or "")]


def _consequential(error: str) -> bool:
    return error.startswith(("not exercised", "not checked by the state machine"))


def guarded_advice(report: Report, diagnoses: list[Diagnosis]) -> str:
    """The guarded-mode note, where it bears on the report: always on a conforming one,
    on a failing one only when the failure is about races or compare-and-swap."""
    if diagnoses and not any(d.kind in ("compare_and_swap", "guarded-lost-update", "race") for d in diagnoses):
        return ""
    return report.guarded_note()


def highlight(group: list[Verdict]) -> Highlight:
    """The ``timeline.Highlight`` of one counterexample run: its culprit, victim and key."""
    why = explain(group)
    return Highlight(why.culprit, why.victim, why.key, why.culprit_note, why.victim_note)
