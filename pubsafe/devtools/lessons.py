"""What the safety-model-by-example doc teaches, as data: for each guarantee its
promise, threat and defence, and for each mutant the story of its bug."""

from __future__ import annotations

__all__ = ["LESSONS", "STORIES"]

LESSONS = {
    "G1": ("Artifacts are immutable and version-addressed.",
           "A store whose create-only put overwrites, or an engine that hashes non-canonical JSON.",
           "Blobs are written create-only under the sha256 of their RFC 8785 form and read back before use."),
    "G2": ("Current always parses and names only existing, validated, recorded artifacts; "
           "a failed publish leaves it byte-identical.",
           "A crash between phases, a swap done before validation or recording, a manifest patched in place, "
           "a non-atomic replace, a missing fsync.",
           "The manifest is swapped last, as one whole-document atomic replace, "
           "after every blob is validated and recorded."),
    "G3": ("Re-running a publish converges; one record per version, never rewritten.",
           "A lost acknowledgement followed by a retry; an engine that rewrites records.",
           "Every phase is idempotent: create-only writes that accept an existing identical object, "
           "a retry that recognises its own swap."),
    "G4": ("Rollback only re-points current, to exactly an earlier mapping.",
           "An engine that rewrites history or artifacts during rollback, or keeps no history at all.",
           "Every swapped manifest is kept, version-addressed; "
           "rollback validates the target and replaces only the pointer."),
    "G5": ("Serving lags by at most its TTL, and never serves unverified or foreign bytes.",
           "A cache that ignores its TTL; a reader that follows any URI or skips the hash check.",
           "The reader expires manifests, checks every artifact's hash and confines URIs to its tenant/surface."),
    "R1": ("(Not guaranteed by default.) Two publishes of the same type: last swap wins silently.",
           "Concurrent publishers without compare-and-swap.",
           "Guarded mode: the swap is a compare-and-swap; a loser re-reads, re-merges or fails loudly."),
    "R5": ("GC never deletes a blob that a publish in flight will reference.",
           "An orphan sweep racing a publish that adopts the orphan.",
           "The sweep claims a tombstone at the record key, create-only; "
           "the publish re-checks its blob after recording."),
}


#: mutant -> (what the implementation did, what production would see, what in the
#: reference design prevents it). Each broken example in the doc is told as this story.
STORIES = {
    "non-atomic-replace": (
        "The store replaces an object by truncating it and then writing the new bytes, two steps a reader can "
        "fall between.",
        "A serving node that reads current at that moment gets an empty or half-written manifest and fails "
        "to parse it: an outage, although every publish succeeded.",
        "Store.replace must be atomic to a concurrent reader (the atomic_replace probe races a reader against "
        "it); LocalStore writes a temp file, fsyncs it and renames it into place."),
    "put-overwrites": (
        "The store's create-only put silently overwrites an existing object.",
        "A second publish of a version with different bytes (a hash collision in a bad engine, a hostile "
        "writer, a bug) replaces an artifact that serving already verified and cached: the same version now "
        "means two different things.",
        "put is create-only (If-None-Match: * on S3, O_EXCL-style links on disk) and an existing identical "
        "object is accepted by reading it back, never rewritten."),
    "ignores-conditions": (
        "The store claims compare-and-swap but ignores the expected etag: every conditional replace succeeds.",
        "Two guarded publishers both believe their swap won; one update is lost although guarded mode promised "
        "to refuse the loser.",
        "Guarded mode relies on the store's conditional write, so pubsafe probes it before trusting it: a "
        "stale etag must be refused (S3: 412 Precondition Failed)."),
    "missing-fsync-before-rename": (
        "LocalStore renames its temp file into place without fsyncing the data first.",
        "After a power cut the file system may keep the rename but not the bytes: current exists and is "
        "empty, and the whole surface stops serving after a reboot.",
        "Write the temp file, fsync it, rename it, fsync the directory: durability is checked by cutting "
        "power before every OS call on a simulated disk."),
    "swap-before-validate": (
        "The engine swaps current first and validates and records the blobs afterwards.",
        "A crash (or a blob that fails validation) after the swap leaves current naming an artifact that was "
        "never checked and may not exist: readers fail or serve garbage.",
        "The manifest is swapped last: every blob is written, read back and recorded before the pointer "
        "moves, so a crash at any earlier point leaves current untouched."),
    "swap-before-record": (
        "The engine swaps current before writing the registry records of the new blobs.",
        "A crash between the two leaves current naming blobs with no record: audit flags them, and a GC that "
        "trusts the registry may delete a live blob.",
        "Records are written before the swap; current only ever names recorded blobs (G2)."),
    "in-place-manifest-patch": (
        "The engine updates current one artifact type at a time instead of in one replace.",
        "A crash halfway leaves the surface half-updated: the new model with the old item index, a "
        "combination nobody built or tested, served to users.",
        "The whole manifest is one document, replaced at once; a failed publish leaves current byte-identical."),
    "non-canonical-hash": (
        "The engine hashes json.dumps(payload) instead of the canonical (RFC 8785) form, so the same content "
        "can get two versions.",
        "Two builds of identical data publish under different versions, and a retry after a crash writes a "
        "second blob for content already published: versions stop identifying content.",
        "Versions are the sha256 of the canonical form; every checker recomputes it independently."),
    "record-overwrite": (
        "The engine rewrites the registry record of a version on every publish.",
        "The record's history (who built it, when) changes after the fact; a retry is no longer a no-op, and "
        "an audit trail built on records is wrong.",
        "Records are append-only: written create-only, and an existing identical record is accepted."),
    "rollback-writes-artifacts": (
        "Rollback rewrites history entries and artifacts instead of only moving the pointer.",
        "A rollback during an incident changes the very data you are rolling back to; rolling forward again "
        "no longer returns the state you left.",
        "Rollback validates the target manifest from history and replaces only current."),
    "no-history": (
        "The engine keeps no manifest history.",
        "There is nothing to roll back to: an operator facing a bad model can only publish again, under "
        "pressure.",
        "Every swapped manifest is kept under its own version in history/ before the swap."),
    "gc-without-protection": (
        "GC deletes orphan blobs without first claiming them, so a publish that adopts the orphan at the same "
        "moment is not stopped.",
        "The publish succeeds, current names the blob, and the sweep deletes it a moment later: serving "
        "fails with a missing artifact that every log says was published.",
        "The sweep claims a tombstone at the record key, create-only, before deleting; the publish "
        "re-checks its blob after recording, so one of the two always sees the other."),
    "reader-cache-never-expires": (
        "The serving cache keeps manifests for ever, ignoring its TTL.",
        "After a publish or a rollback, serving keeps the old model indefinitely: a rollback during an "
        "incident has no effect.",
        "The reader re-reads current after at most manifest_ttl; staleness is checked against acknowledged "
        "swaps."),
    "reader-trusts-uris": (
        "The reader follows whatever URI a manifest names and skips the hash check.",
        "A tampered or foreign manifest makes serving load another tenant's or an attacker's bytes.",
        "The reader confines URIs to its tenant and surface and checks every artifact's hash against its "
        "version."),
    "cas-against-fresh-etag": (
        "The guarded swap compares against an etag it re-reads just before swapping, not the one it based "
        "its merge on.",
        "The compare always succeeds, so a concurrent publish between the read and the swap is silently "
        "overwritten: guarded mode in name only.",
        "The swap's expected etag is the one read together with the manifest the new one was merged from."),
    "check-then-write-put": (
        "The store's create-only put checks whether the key exists, then writes: two writers can both pass "
        "the check.",
        "Sequential tests pass; in production two concurrent writers of one key both succeed and one silently "
        "replaces the other.",
        "Create-only must be one atomic operation in the backend; the probe races 16 threads on one key."),
    "check-then-write-cas": (
        "The store's compare-and-swap compares, then writes, in two steps.",
        "Two guarded publishers racing on current can both win; one update is lost.",
        "Compare-and-swap must be atomic in the backend; the probe races 16 threads on one etag."),
    "tears-large-values": (
        "The store's replace is atomic for small values only; large ones become visible half-written.",
        "Everything works in tests with small manifests; in production a large manifest is read torn.",
        "The atomic-replace probe uses sizes from 16 bytes to 8 MiB."),
    "case-insensitive-keys": (
        "The store treats keys that differ only in case as one object.",
        "Tenant ACME's publish overwrites tenant acme's manifest: one customer is served another's model.",
        "Keys are exact byte strings; pubsafe publishes to slots whose names differ only in case."),
    "unicode-normalizing-keys": (
        "The store compares keys after Unicode normalisation.",
        "café and café (two spellings) collide: one tenant's data lands in another's.",
        "Keys are compared as written; pubsafe publishes to both spellings and checks each."),
    "ascii-escaping-canonical": (
        "The engine's canonical form escapes non-ASCII text as \\u sequences, unlike RFC 8785.",
        "Only tenants with non-ASCII names or payloads are affected: their versions disagree with every "
        "other implementation and their blobs fail verification.",
        "The canonical form is RFC 8785 (UTF-8, no escapes beyond the required ones); inputs are drawn wide."),
    "python-number-spelling": (
        "The engine hashes numbers the way Python prints them (1e+16, -0.0), not as RFC 8785 does.",
        "Payloads with large, tiny or negative-zero numbers get versions other implementations cannot "
        "reproduce, so a reader written in another language rejects them.",
        "Numbers are canonicalised per RFC 8785 (ECMAScript number formatting)."),
    "reader-surface-blind": (
        "The reader confines URIs to the tenant, but not to the surface.",
        "A manifest of one surface can make another surface of the same tenant serve its artifacts.",
        "URIs are confined to the exact tenant and surface the reader serves."),
    "reader-caches-absence": (
        "invalidate() drops cached manifests but not the memory that a surface had none.",
        "A surface that was empty at start keeps serving nothing after its first publish, until a restart.",
        "invalidate() forgets everything about the surface, absent or found."),
    "reader-folds-tenant-case": (
        "The reader looks manifests up by the lower-cased tenant.",
        "Tenant ACME is served tenant acme's model.",
        "Tenant and surface names are used exactly as given."),
    "retry-after-timeout-refuses": (
        "A record write that timed out after landing is retried, and the retry calls the record it finds "
        "foreign.",
        "A network blip turns a successful publish into a failed one, and every retry fails the same way: "
        "the pipeline is stuck until someone deletes the record by hand.",
        "A retry recognises its own earlier write (same bytes) as done: every phase is idempotent."),
    "cleans-up-on-conflict": (
        "On a lost guarded swap, the engine deletes what it wrote and raises an error of its own.",
        "Blobs another publisher may already reference are deleted; the caller cannot tell a conflict from a "
        "failure and cannot retry safely.",
        "A lost swap raises PublishConflict and deletes nothing: orphans are for GC, which claims first."),
    "existing-blob-assumed-recorded": (
        "The engine takes an existing blob as already recorded and skips the record write.",
        "After a sweep deleted a record (or a crash left a blob without one), current names an unrecorded "
        "blob, and the next sweep may delete it.",
        "The engine records every blob it adopts, create-only, and re-checks after recording."),
    # issue 24: the stateful model's blind spots
    "listing-stops-at-a-page": (
        "The store's list() makes one ListObjectsV2 request and ignores its continuation token: it returns the "
        "first 1,000 keys and no more.",
        "Below 1,000 objects nothing shows. Past them gc, audit and `pubsafe history` see part of the store: a "
        "collector without pubsafe's claims deletes recorded blobs it never saw, and a stale tombstone past the "
        "page is never cleared, so a publish of that version stays refused.",
        "list() follows every page to the end (S3Store loops while IsTruncated); pubsafe lists a store holding "
        "1,001 keys on every check and compares the listing with what it read by key."),
    "reader-invalidates-normalised-slot": (
        "The reader's invalidate() normalises the names it is given (NFC, case-folded) before it forgets the "
        "slot, so it forgets another slot than the one named.",
        "An operator invalidates tenant ACME after an urgent rollback and the reader keeps serving ACME's old "
        "model for the rest of its TTL, while acme's cache is dropped for nothing.",
        "Names are used exactly as given, in invalidate() as in every lookup; pubsafe invalidates one slot "
        "among many whose names differ only in case or Unicode form and reads it back."),
    "reader-verifies-blobs-once": (
        "The reader checks a blob's hash the first time it loads it; when the cached copy expires it reads the "
        "blob again and trusts it, since blobs never change.",
        "A blob edited by hand in the bucket, or restored from the wrong backup, is served as if it were the "
        "version its key names, for every request after the first expiry.",
        "Every load is verified, not only the first; pubsafe changes a blob under a reader that has already "
        "loaded it and reads it again a day later."),
    "rollback-trusts-history": (
        "The engine rolls back to any manifest whose history entry checks out, without validating the blobs it "
        "names again, since they were validated when it was published.",
        "A lifecycle rule or an operator deleted a blob that only an old manifest named; the rollback meant to "
        "end an incident points current at a blob that is not there, and serving fails.",
        "Rollback validates every blob of its target (exists, hashes to its version, recorded) and refuses, "
        "writing nothing, if one does not; pubsafe damages a blob only history names before rolling back to it."),
    "steps-from-newest-entry": (
        "rollback --steps N counts N entries back from the newest history entry by time, taking it for current.",
        "After one rollback, `--steps 1` does not go one step back from what is serving: it restores a manifest "
        "next to the newest one, possibly the bad release the first rollback had just removed.",
        "--steps walks the history entries' previous links from current itself; pubsafe walks them on its own "
        "and compares, after rollbacks and races."),
    "link-errors-read-as-exists": (
        "The store's create-only put reads every failed link(2) as \"already exists\" (an `except OSError`), "
        "a full disk or an I/O error included; its S3 twin reads every 409 as \"exists\".",
        "On a full disk a publish writes no history entry yet swaps and reports success: the release is live, "
        "and no rollback can ever return to it.",
        "A store maps each backend error to the pubsafe error that means it (EEXIST or 412 to AlreadyExists, "
        "ENOSPC to NoSpace, 409 or 503 to RetryableStoreError); pubsafe injects backend errors below the store "
        "API and judges what follows."),
}
