"""The oracle remembers canonical bytes per payload; payloads that look alike but are
not the same JSON (1, 1.0 and True; 0.0 and -0.0; a string and a number) must each
get their own bytes, whatever was asked before."""

from __future__ import annotations

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from pubsafe.models.checkers.oracle import _canonical as reference  # the unremembered computation
from pubsafe.models.checkers.oracle import canonical, manifest_version, payload_version
from pubsafe.models.machine.strategies import wide_payloads

LOOKALIKES = [
    {"w": 1}, {"w": 1.0}, {"w": True}, {"w": 0.0}, {"w": -0.0}, {"w": "1"}, {"w": [1]}, {"w": {"1": 1}},
    {"w": 2**53}, {"w": float(2**53)}, {"w": 2**60}, {"w": 1e30}, {"w": None}, {"w": False}, {"w": 0},
    {"a": 1, "b": 2}, {"b": 2, "a": 1}, {"w": "e\u0301"}, {"w": "\u00e9"},
]


def test_lookalike_payloads_each_get_their_own_canonical_bytes():
    for _ in range(2):  # the second round is answered from the memo
        for payload in LOOKALIKES:
            assert canonical(payload) == reference(payload), payload


def test_a_payload_with_a_non_string_key_is_refused_after_its_string_twin():
    import pytest

    assert canonical({"1": "a"}) == b'{"1":"a"}'
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical({1: "a"})  # JSON text alike, but not JSON: refused, not answered from the memo


def test_a_payload_changed_in_place_is_canonicalised_again():
    payload = {"w": [1, 2]}
    before = payload_version(payload)
    payload["w"].append(3)
    assert payload_version(payload) != before
    assert canonical(payload) == rfc8785.dumps({"w": [1, 2, 3]})


def test_manifest_versions_are_the_reference_hash():
    import hashlib

    for mapping in ({"model": "a/b/model/x.json"}, {"model": "a/b/model/x.json", "items": "a/b/items/y.json"}, {}):
        body = {"v": 1, "tenant": "acme", "surface": "home", "current": mapping}
        assert manifest_version("acme", "home", mapping) == hashlib.sha256(rfc8785.dumps(body)).hexdigest()


@settings(max_examples=60, deadline=None)
@given(st.lists(wide_payloads(), min_size=1, max_size=4))
def test_drawn_payloads_match_the_reference_library(payloads):
    for payload in [*payloads, *payloads]:
        assert canonical(payload) == reference(payload)
