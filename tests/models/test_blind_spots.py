"""The blind spots of issue 24, each reached by a check that fails on a realistic bug.

The catalogue (test_mutants.py) shows each new check killing its mutant at the default
profile; these tests pin how each check judges and what it says: a listing fault is
named a listing fault (not a lost blob), invalidation reaches only the slot named, a
blob changed under a reader is refused, a rollback to a blob only history named and
then lost is refused, ``--steps`` restores what the history links say.
"""

from __future__ import annotations

import json

import pytest

from pubsafe.models.checkers import GuaranteeViolation, check_store
from pubsafe.models.checkers.listing import LISTING_FAULT, listing_fault
from pubsafe.models.checkers.oracle import Oracle, current_key, history_key, parse_manifest
from pubsafe.models.checkers.reading import read_store
from pubsafe.models.checkers.rollback import check_history_link, walk_back
from pubsafe.models.exploration.hostile import (
    INVALIDATED_SLOTS,
    LISTED_KEYS,
    _changed_under_reader,
    _invalidation_across_slots,
    listing_pages,
)
from pubsafe.models.machine import PublishMachine
from pubsafe.models.mutants import FirstPageListingStore, NormalisingInvalidateReader, VerifiesOnceReader
from pubsafe.models.target import factory_target, target_from_spec
from pubsafe.refimpl import Engine, MemoryStore, ServingReader


class SmallPage(FirstPageListingStore):
    """The same bug with a page a test can fill: 8 keys."""

    PAGE = 8


# -- listings ------------------------------------------------------------------------


def test_a_listing_fault_names_what_the_listing_left_out_and_that_it_looks_like_a_page():
    present = [f"k/{n:02d}" for n in range(12)]
    fault = listing_fault("", present[:8], present)
    assert fault is not None and fault.guarantee == "G1" and fault.message.startswith(LISTING_FAULT)
    assert "leaves out 4 key(s)" in fault.message and "(12 known there)" in fault.message
    assert "'k/08'" in fault.message and "stops at a page" in fault.message
    scattered = listing_fault("", [k for k in present if k != "k/03"], present)
    assert scattered is not None and "stops at a page" not in scattered.message  # a gap, not a page
    assert "more than once" in listing_fault("k/", [*present, "k/05"], present).message
    assert "do not start with the prefix" in listing_fault("k/0", [*present[:10], "k/11"], present).message
    assert listing_fault("k/", present, present) is None


def test_a_key_that_folds_onto_a_listed_one_is_left_to_the_name_checks():
    # a case-folding store holds one object under both names and lists the first one
    assert listing_fault("", ["ACME/home/m.json"], ["ACME/home/m.json", "acme/home/m.json"]) is None
    assert listing_fault("", ["caf\u00e9/x"], ["caf\u00e9/x", "cafe\u0301/x"]) is None


def test_a_store_listing_one_page_is_a_listing_fault_not_an_acknowledged_blob_missing():
    """What issue 24 found: check_store read the store through its listing, so a blob
    past the first page was reported "acknowledged blob ... is missing"."""
    store = SmallPage()
    engine = Engine(store)
    oracle = Oracle()
    for n in range(4):
        engine.publish("acme", f"s{n}", {"model": {"n": n}})
        oracle.ack_payload("acme", f"s{n}", "model", {"n": n})
    (violation,) = check_store(store, oracle)
    assert violation.message.startswith(LISTING_FAULT) and "is missing" not in violation.message
    assert "it returned 8" in violation.message and "stops at a page" in violation.message


def test_the_machine_names_a_listing_fault_at_the_end_of_an_example():
    machine = PublishMachine.bind(factory_target("small-page", SmallPage))()
    for slot in range(4):
        machine.publish(slot=slot, types=["model", "items"], values=[slot, slot + 1], variant=0)
    with pytest.raises(GuaranteeViolation) as caught:
        machine.teardown()
    assert caught.value.violation.message.startswith(LISTING_FAULT)


def test_a_violation_found_on_a_store_whose_listing_is_broken_is_explained_by_it():
    machine = PublishMachine.bind(factory_target("small-page", SmallPage))()
    for slot in range(3):
        machine.publish(slot=slot, types=["model", "items"], values=[slot, slot + 1], variant=0)
    key = current_key(*machine.slot(0))
    machine.store.replace(key, b"{}")  # a current that does not parse: G2 ...
    with pytest.raises(GuaranteeViolation) as caught:
        machine.after_step()
    message = caught.value.violation.message  # ... on a store whose listing stops at a page
    assert message.startswith(LISTING_FAULT) and f"that is why: G2: current {key} does not parse" in message


@pytest.mark.parametrize("spec", ["memory", "local"])
def test_the_reference_stores_list_a_thousand_and_one_keys_whole(spec):
    target = target_from_spec(spec)
    assert listing_pages(target.store_factory, target.cleanup) is None


def test_a_listing_of_the_first_thousand_keys_is_caught_by_the_page_scenario():
    fault = listing_pages(FirstPageListingStore)
    assert fault is not None and f"({LISTED_KEYS} known there)" in fault.message and "it returned 1000" in fault.message


# -- serving ---------------------------------------------------------------------------


def test_the_reference_reader_keeps_invalidation_to_the_slot_named_and_refuses_changed_blobs():
    assert _invalidation_across_slots(ServingReader) == []
    assert _changed_under_reader(ServingReader) == []


def test_an_invalidation_that_reaches_a_slot_whose_name_folds_onto_it_is_caught():
    (violation,) = _invalidation_across_slots(NormalisingInvalidateReader)
    assert violation.guarantee == "G5" and "after invalidate('ACME', 'home')" in violation.message
    assert len({tuple(s) for s in INVALIDATED_SLOTS}) == len(INVALIDATED_SLOTS)


def test_a_reader_that_verifies_a_blob_only_on_its_first_load_is_caught():
    (violation,) = _changed_under_reader(VerifiesOnceReader)
    assert violation.guarantee == "G5" and "after it first loaded it" in violation.message


def test_invalidating_one_slot_then_reading_it_later_is_checked_by_the_machine():
    """``serve(..., then=N)`` invalidates slot N after its read: the next read of slot N
    must be current, whatever was read in between (here: its case-folded twin)."""
    target = target_from_spec("memory")
    target.reader_factory = NormalisingInvalidateReader
    machine = PublishMachine.bind(target)()
    machine.add_variant_slot(base=0, change="upper", of="tenant")  # ("ACME", "home") is slot 4
    machine.publish(slot=4, types=["model"], values=[1, 1], variant=0)
    machine.serve(slot=4, advance=0.0, invalidate=False, then=None)
    machine.publish(slot=4, types=["model"], values=[2, 2], variant=0)
    machine.serve(slot=0, advance=0.0, invalidate=False, then=4)
    with pytest.raises(GuaranteeViolation) as caught:
        machine.serve(slot=4, advance=0.0, invalidate=False, then=None)
    assert caught.value.violation.message.startswith("after invalidate() the reader serves")


# -- rollback --------------------------------------------------------------------------


def _history(store: MemoryStore) -> tuple[dict[str, bytes], list[str]]:
    contents = read_store(store)
    versions = [parse_manifest(json.dumps(json.loads(data)["manifest"]).encode()).version
                for key, data in sorted(contents.items()) if key.startswith("history/")]
    return contents, versions


def test_the_checker_walks_history_links_itself_and_says_where_a_walk_must_stop():
    store = MemoryStore()
    engine = Engine(store)
    versions = []
    for n in range(3):
        engine.publish("acme", "home", {"model": {"n": n}})
        versions.append(engine.current("acme", "home").version)
    engine.rollback("acme", "home", to=versions[0])
    contents = read_store(store)
    slot = ("acme", "home")
    assert walk_back(contents, slot, versions[2], 1) == versions[1]
    assert walk_back(contents, slot, versions[2], 2) == versions[0]
    assert "ends after 0 of 1" in walk_back(contents, slot, versions[0], 1)[0]  # current is v0 now: no way back
    assert "no readable current" in walk_back(contents, slot, None, 1)[0]
    broken = dict(contents)
    del broken[history_key(*slot, versions[1])]
    assert "has no history entry" in walk_back(broken, slot, versions[2], 2)[0]


def test_a_history_entry_naming_the_wrong_previous_manifest_is_caught_when_written():
    store = MemoryStore()
    engine = Engine(store)
    engine.publish("acme", "home", {"model": {"n": 1}})
    first = engine.current("acme", "home").version
    engine.publish("acme", "home", {"model": {"n": 2}})
    second = engine.current("acme", "home").version
    contents = read_store(store)
    assert check_history_link(contents, ("acme", "home"), second, first) is None
    wrong = check_history_link(contents, ("acme", "home"), second, None)
    assert wrong is not None and wrong.guarantee == "G4" and "rollback --steps would walk" in wrong.message


@pytest.mark.parametrize("damage", ["deleted", "altered", "truncated", "emptied", "unrecorded"])
@pytest.mark.parametrize("by_steps", [False, True])
def test_the_reference_engine_refuses_a_rollback_to_a_blob_lost_after_it_left_current(damage, by_steps):
    machine = PublishMachine.bind(target_from_spec("memory"))()
    machine.rollback_to_a_lost_blob(tenant="caf\u00e9", damage=damage, by_steps=by_steps, value={"wide": {"\u00e9": 1}})
    machine.teardown()


def test_steps_restore_what_the_links_say_after_rollbacks_and_races_on_the_reference_engine():
    machine = PublishMachine.bind(target_from_spec("memory"))()
    machine.race(kind="same-type", schedule="AABAB", seed=0)
    machine.rollback(index=0, pick=0, steps=0)
    for steps in (1, 2, 3, 2**31, 10**30):
        machine.rollback(index=0, pick=0, steps=steps)
    machine.publish(slot=0, types=["items"], values=[3, 3], variant=0)
    machine.rollback(index=0, pick=0, steps=1)
    machine.teardown()
