"""Tenant, surface and type names are single, safe path segments."""

from __future__ import annotations

import pytest

from pubsafe.refimpl.errors import InvalidName
from pubsafe.refimpl.names import MAX_NAME_BYTES, validate_name


@pytest.mark.parametrize("name", ["acme", "home-feed", "v2_items", "ünïcode", "a.b", "x" * MAX_NAME_BYTES])
def test_accepts_plain_segments(name):
    assert validate_name("surface", name) == name


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "is empty"),
        (".", "relative directory"),
        ("..", "relative directory"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        (" acme", "surrounding whitespace"),
        ("acme\t", "surrounding whitespace"),
        ("ac\x00me", "control"),
        ("ac\x1bme", "control"),
        ("ac\u200bme", "control"),
        ("\ud800", "unencodable"),
        (".hidden", "starts with '.'"),
        ("acme.", "ends with '.'"),
        ("x" * (MAX_NAME_BYTES + 1), "longer than 128 bytes"),
        ("é" * 65, "longer than 128 bytes"),
        (7, "must be a string"),
    ],
)
def test_refuses_unsafe_names_with_the_reason(name, words):
    with pytest.raises(InvalidName) as info:
        validate_name("surface", name)
    assert words in str(info.value)
    assert "surface" in str(info.value)


@pytest.mark.parametrize("name", ["records", "current", "history"])
def test_layout_folders_are_reserved_tenants(name):
    with pytest.raises(InvalidName, match="reserved"):
        validate_name("tenant", name)
    assert validate_name("surface", name) == name


def test_a_trailing_dot_is_refused_for_writing_only():
    """Azure drops it ('acme.' would be 'acme'); stores other writers made may hold such names."""
    assert validate_name("tenant", "acme.", reading=True) == "acme."
    assert validate_name("tenant", "acme.v2") == "acme.v2"
