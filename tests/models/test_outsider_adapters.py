"""Store adapters an outside tester wrote from the adapter guide alone (helper-17,
tests/support/outsider_stores.py), judged end to end by ``run_conformance``.

The broken ones are realistic adapter bugs that ``pubsafe check`` called CONFORMING
before: create-only atomic for plain keys only, an etag of a sample of the bytes, a
server that percent-decodes keys, modification times off by hours, a missing key under
records/ mapped to a generic error (then UNKNOWN, "run again", for a bug that repeats).
The correct ones are unusual but right (opaque or counter etags, percent-encoded keys,
shuffled listings, whole-second times, no capabilities): none may be called broken.
"""

from __future__ import annotations

import pytest

from pubsafe.models import run_conformance, target_from_spec
from pubsafe.reports import markdown

BROKEN = {  # factory -> what the report must blame
    "put_nonatomic_encoded_keys": "create_only",
    "etag_sampled_hash": "etags_follow_content",
    "percent_decoding_server": "two different names became one key",
    "mtime_local_as_utc": "stat_reports_size_and_time",
    "mtime_in_future": "stat_reports_size_and_time",
    "records_miss_is_store_error": "missing_key_raises_object_not_found",
    # caught before, but explained wrongly ("0 of 16 writers ... all succeeded"; "raised Conflict")
    "cas_cached_etag": "none of 16 writers racing a compare-and-swap",
    "replace_ignores_absent": "(If-None-Match: *) overwrote an existing",
    # caught before, but every listing fault was explained as "a listing stopped at its first page"
    "list_substring": "a listing returned keys outside its prefix",
    "list_drops_non_ascii": "a listing left out keys that exist",
    "paged_offbyone_1000": "a listing stopped at its first page",
}
CORRECT = ["baseline", "ok_random_etags", "ok_counter_etags", "ok_quoted_md5", "ok_percent_encoded_backend",
           "ok_shuffled_listing", "ok_integer_mtime", "ok_no_capabilities"]


def _report(name: str):
    return run_conformance(target_from_spec(f"support.outsider_stores:{name}"), "quick")


@pytest.mark.parametrize("name", BROKEN)
def test_an_outsiders_broken_adapter_is_not_conforming_and_the_report_names_why(name):
    report = _report(name)
    assert not report.conforming, name
    assert BROKEN[name] in markdown.render(report), name


@pytest.mark.parametrize("name", CORRECT)
def test_an_outsiders_correct_but_unusual_adapter_is_conforming(name):
    report = _report(name)
    assert report.conforming, markdown.render(report)
