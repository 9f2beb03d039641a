"""What to change, per class of failure: the fixes the mutant catalogue teaches (each
with the stories that show it), the safety model's defence per guarantee when no class
matches, and what each broken guarantee costs in words."""

from __future__ import annotations

from dataclasses import dataclass

from pubsafe.models.guarantees import Guarantee

__all__ = ["Fix", "FIXES", "DEFENCES", "COSTS", "STORY_DOC"]

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
    "listing-not-a-prefix": Fix(
        "a listing returned keys outside its prefix",
        "list(prefix) is every key that starts with prefix as a plain string, spelled as it was written: no "
        "substring or pattern match, no percent-encoding or other rewriting of the keys returned.",
        ()),
    "listing-omits": Fix(
        "a listing left out keys that exist",
        "list every key under the prefix, whatever characters it holds (non-ASCII, spaces, '+', '%'), each once, "
        "from the backend itself (no cache, no filter): gc deletes by what it lists.",
        ()),
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
DEFENCES = {
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
COSTS = {
    Guarantee.G1: "an acknowledged blob is gone",
    Guarantee.G2: "current names a blob that does not exist",
    Guarantee.G3: "a retry no longer converges",
    Guarantee.G4: "a rollback to an acknowledged manifest is refused",
    Guarantee.G5: "serving returns the wrong bytes",
    Guarantee.R5: "current names a blob that does not exist",
}
