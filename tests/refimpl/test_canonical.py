"""Canonical form (RFC 8785) and version addressing."""

from __future__ import annotations

import json
import math
from datetime import UTC

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pubsafe.refimpl.canonical import MAX_SAFE_INTEGER, canonical_bytes, canonicalize
from pubsafe.refimpl.errors import InvalidPayload

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_canonical_bytes_parse_back_to_an_equal_value(value):
    # JSON numbers are doubles: read big integer spellings back as the double they name.
    parsed = json.loads(canonical_bytes(value), parse_int=_as_json_number)
    assert parsed == value or _has_negative_zero(value)


@given(json_values)
def test_canonical_form_is_a_fixed_point(value):
    once = canonical_bytes(value)
    assert canonical_bytes(json.loads(once)) == once


@given(st.dictionaries(st.text(max_size=6), json_scalars, min_size=2, max_size=6), st.randoms())
def test_key_order_and_whitespace_do_not_change_the_version(mapping, rnd):
    items = list(mapping.items())
    rnd.shuffle(items)
    shuffled = dict(items)
    pretty = json.loads(json.dumps(shuffled, indent=3))
    assert canonicalize(shuffled)[1] == canonicalize(mapping)[1] == canonicalize(pretty)[1]


@given(st.integers(min_value=-(2**52), max_value=2**52))
def test_number_spelling_does_not_change_the_version(n):
    assert canonicalize({"x": float(n)})[1] == canonicalize({"x": n})[1]
    assert canonicalize(json.loads(f'{{"x": {n}.0}}'))[1] == canonicalize({"x": n})[1]


@given(json_values, json_values)
def test_different_values_have_different_versions(a, b):
    if canonical_bytes(a) != canonical_bytes(b):
        assert canonicalize(a)[1] != canonicalize(b)[1]
    else:
        assert canonicalize(a)[1] == canonicalize(b)[1]


def test_big_integers_a_double_holds_exactly_are_accepted():
    # ECMAScript spells the double 2**60 as 1152921504606847000; both ints name it.
    assert canonical_bytes({"x": 2**60}) == b'{"x":1152921504606847000}'
    assert canonical_bytes({"x": 1152921504606847000}) == b'{"x":1152921504606847000}'
    assert canonical_bytes([1e20]) == canonical_bytes([10**20]) == b"[100000000000000000000]"


def test_known_canonical_output():
    # RFC 8785 section 3.2.2: numbers in ECMAScript form, keys sorted by UTF-16.
    assert canonical_bytes({"b": [1.0, 1e21, 1e-7, -0.0], "a": "é\n"}) == b'{"a":"\xc3\xa9\\n","b":[1,1e+21,1e-7,0]}'
    assert canonical_bytes({"\U0001f600": 1, "\ufb01": 2}) == '{"\U0001f600":1,"\ufb01":2}'.encode()
    assert len(canonicalize({})[1]) == 64


@pytest.mark.parametrize(
    ("payload", "path", "words"),
    [
        ({"a": [1, float("nan")]}, "$.a[1]", "not representable"),
        ({"a": {"b": math.inf}}, "$.a.b", "not representable"),
        ({"a": {1: "x"}}, "$.a", "keys must be strings"),
        ({"bytes": b"raw"}, "$.bytes", "bytes is not a JSON value"),
        ([{"s": {1, 2}}], "$[0].s", "set is not a JSON value"),
        ({"o": object()}, "$.o", "object is not a JSON value"),
        ({"big": 2**60 + 1}, "$.big", "no exact JSON"),
        ({"huge": [10**400]}, "$.huge[0]", "no exact JSON"),
        ([2**53, math.inf], "$[1]", "not representable"),  # a big int and a bad float together
        ({"key with space": [None, -math.inf]}, "$['key with space'][1]", "not representable"),
    ],
)
def test_refusals_name_the_path_inside_the_payload(payload, path, words):
    with pytest.raises(InvalidPayload) as info:
        canonical_bytes(payload)
    assert info.value.path == path
    assert path in str(info.value)
    assert words in str(info.value)


def _as_json_number(text: str):
    n = int(text)
    return n if abs(n) <= MAX_SAFE_INTEGER else float(n)


def _has_negative_zero(value) -> bool:
    if isinstance(value, float):
        return value == 0 and math.copysign(1, value) < 0
    if isinstance(value, list):
        return any(_has_negative_zero(v) for v in value)
    if isinstance(value, dict):
        return any(_has_negative_zero(v) for v in value.values())
    return False


any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6)
wide_scalars = (
    json_scalars
    | st.integers(min_value=-(2**60), max_value=2**60).filter(lambda n: float(n) == n)
    | st.floats(allow_nan=False, allow_infinity=False, width=64).map(lambda f: f * 1e18)
    | st.sampled_from([0.0, -0.0, 1.0, 1e-7, 1e21, 1e16, 123.0, 0.0001, 5e-05, 1.5e300, "e-mail", ".0,",
                       '{"1":2}', "x.0,y", "1e-05", '","1e-05', '\\"', "a\\", '":1.0,"', "3.0]", '\\",1.0,'])
    | any_text
)
# Keys the C encoder would silently turn into strings: the fast path must notice them.
any_key = any_text | st.integers(-(10**20), 10**20) | st.floats(allow_nan=False) | st.booleans() | st.none()
wide_values = st.recursive(
    wide_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(any_text, children, max_size=4)
    | st.dictionaries(any_key, children, max_size=3),
    max_leaves=25,
)


@given(wide_values)
def test_fast_path_agrees_with_rfc8785(value):
    from pubsafe.refimpl.canonical import _reference_canonical_bytes

    def outcome(encode):
        try:
            return encode(value)
        except InvalidPayload as exc:
            return ("refused", exc.path)

    assert outcome(canonical_bytes) == outcome(_reference_canonical_bytes)


@pytest.mark.parametrize("key", [1, -1, 1.5, -0.5, True, False, None])
def test_non_string_keys_never_slip_through_the_fast_path(key):
    with pytest.raises(InvalidPayload, match="keys must be strings"):
        canonical_bytes({key: 1})
    with pytest.raises(InvalidPayload, match="keys must be strings"):
        canonical_bytes([{"a": 1}, {key: 2}])


@pytest.mark.parametrize("mapping", [{2: 1, 10: 2}, {True: 1, 2: 3}, {False: 1, 0.5: 2}, {-3: 0, 7: 1}])
def test_dicts_of_several_non_string_keys_are_refused(mapping):
    with pytest.raises(InvalidPayload, match="keys must be strings"):
        canonical_bytes({"outer": [mapping]})


@given(any_text, any_text, st.dictionaries(any_text, any_text, max_size=4))
def test_manifest_version_shortcut_is_the_canonical_hash(tenant, surface, current):
    from datetime import datetime

    from pubsafe.refimpl.documents import Manifest

    manifest = Manifest(tenant=tenant, surface=surface, current=current, updated_at=datetime.now(UTC))
    body = {"v": 1, "tenant": tenant, "surface": surface, "current": current}
    assert manifest.version == canonicalize(body)[1]


def test_documents_are_written_in_utc_with_a_z_and_a_sorted_mapping():
    from datetime import datetime, timedelta, timezone

    from pubsafe.refimpl.documents import Manifest, dump_document

    two_hours_east = datetime(2026, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    manifest = Manifest(tenant="t", surface="s", current={"b": "x", "a": "y"}, updated_at=two_hours_east)
    written = json.loads(dump_document(manifest))
    assert written["updated_at"] == "2026-01-01T00:00:00Z"
    assert list(written["current"]) == ["a", "b"]


def test_without_the_c_accelerator_the_encoder_gives_the_same_text(monkeypatch):
    import json.encoder

    from pubsafe.refimpl import _canonical_fast as canonical

    value = {"b": [1, 2.5, "é"], "a": {"z": None, "y": True}}
    accelerated = canonical.sorted_compact_json(value)
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    assert canonical.compact_json(sort_keys=True)(value) == accelerated == '{"a":{"y":true,"z":null},"b":[1,2.5,"é"]}'
    assert canonical.compact_json(sort_keys=False)(value) == '{"b":[1,2.5,"é"],"a":{"z":null,"y":true}}'


def test_a_payload_that_contains_itself_is_refused():
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(InvalidPayload, match="nested too deeply"):
        canonical_bytes({"a": cycle})
