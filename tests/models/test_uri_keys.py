"""One function turns every manifest URI into a store key (``oracle.key_of_uri``): the
key itself, the store's root URI (percent-encoded) and a key, or ``file://`` and the raw
absolute path recsys-pipelines writes (never percent-encoded, so never decoded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pubsafe.models.checkers.oracle import key_of_uri
from pubsafe.refimpl import LocalStore

KEY = "acme/home/cooc/" + "c" * 64 + ".json"
ROOTS = ["/srv/recsys/plain", "/srv/recsys/d\u00e9 mo", "/srv/a#b/c%41/x+y", "/srv/50%/\u6a21\u578b?q=1", "/srv/a%2541"]


@pytest.mark.parametrize("root", ROOTS)
def test_raw_and_encoded_file_uris_and_keys_name_the_same_key(root):
    root_uri = Path(root).as_uri()
    assert key_of_uri(KEY, root_uri) == KEY
    assert key_of_uri(f"{root_uri}/{KEY}", root_uri) == KEY  # encoded, as a URI under the root URI is
    assert key_of_uri(f"file://{root}/{KEY}", root_uri) == KEY  # raw, as upstream writes it


@pytest.mark.parametrize("root", ROOTS)
def test_a_uri_outside_the_root_names_no_key_of_it(root):
    root_uri = Path(root).as_uri()
    for uri in (f"file://{root}-other/{KEY}", f"file:///elsewhere/{KEY}", f"s3://bucket/{KEY}",
                f"file://{root}".replace("/srv/", "/srv/x/") + f"/{KEY}"):
        assert key_of_uri(uri, root_uri) == uri


def test_a_raw_path_is_never_decoded():
    """A directory named ``a%41`` is not ``aA``: its raw URI is under it, and the raw URI
    of a directory ``aA`` is not."""
    root_uri = Path("/srv/a%41").as_uri()  # file:///srv/a%2541
    assert key_of_uri(f"file:///srv/a%41/{KEY}", root_uri) == KEY
    assert key_of_uri(f"file:///srv/aA/{KEY}", root_uri) == f"file:///srv/aA/{KEY}"


def test_a_local_stores_root_uri_works_with_both_spellings(tmp_path):
    root = tmp_path / "d\u00e9 mo #1 50%"
    store = LocalStore(root)
    assert key_of_uri(f"file://{root}/{KEY}", store.root_uri) == KEY
    assert key_of_uri(f"{store.root_uri}/{KEY}", store.root_uri) == KEY
