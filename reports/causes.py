"""Reading a counterexample's timeline: which step did the damage (the culprit), which
acknowledged step it cost (the victim), the key they share, and the sentence that says
so; one reader per failure class, tried in turn (``explain``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pubsafe.models import Event
from pubsafe.models.guarantees import Status
from pubsafe.models.verdicts import Verdict

from .fixes import COSTS
from .timeline import short_key

__all__ = ["Explanation", "explain"]


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
        phrase = COSTS.get(v.guarantee)
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
    """What the listing did, in the checker's words (listing_fault): stopped at a page,
    left keys out otherwise, or returned keys that are not under the prefix."""
    found = re.search(r"listing fault: (list\('[^']*'\)) is not every key under the prefix", text)
    if not found:
        return None
    listing = found.group(1)
    if "it stops at a page" in text:
        return Explanation("listing-page", f"{listing} returned the first page of keys only: what the store lists "
                           "is not what it holds, and gc deletes by what it lists.")
    if "do not start with the prefix" in text and "it leaves out" not in text:
        return Explanation("listing-not-a-prefix", f"{listing} returned keys that do not start with the prefix "
                           "(a substring match, or keys in another spelling than they were written): what the "
                           "store lists is not what it holds, and gc deletes by what it lists.")
    return Explanation("listing-omits", f"{listing} left out keys that exist when read by key (or named some twice): "
                       "what the store lists is not what it holds, and gc deletes by what it lists.")


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
