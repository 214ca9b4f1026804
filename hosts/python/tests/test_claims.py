"""Object claims (wit/metadata.wit, "the deletion contract") and storage.collect-staging, directly
on the backends: MemMetadata / FsMetadata / SqliteMetadata, MemStorage / FsStorage."""
import json
import os
import time

import pytest

from artifact_host import (BackendError, FsMetadata, FsStorage, MemMetadata, MemStorage, SqliteMetadata,
                           fs_store, home_store)
from artifact_host.backends import rec

U = "fs://blobs/sha256/aa/aa01"
ID1 = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
U64_MAX = 2**64 - 1
I64_MAX = 2**63 - 1  # the largest timestamp every backend stores (SQLite refuses more)


def record(id_, uri):
    return rec(id=id_, bucket="b", name=id_, logical_ref=f"noetl://artifacts/b/{id_}", kind="result-ref",
               content_type="application/json", compression="none", bytes=2, stored_bytes=2,
               sha256="a" * 64, location=rec(driver="fs", uri=uri), scope="permanent", store_tier="fs",
               execution_id=None, created_by=None, created_at=1, updated_at=1, expires_at=None,
               preview=None, extracted=None)


@pytest.fixture(params=["mem", "fs", "sqlite"])
def md(request, tmp_path):
    if request.param == "mem":
        yield MemMetadata()
    elif request.param == "fs":
        yield FsMetadata(str(tmp_path / "metadata.json"))
    else:
        m = SqliteMetadata(str(tmp_path / "metadata.db"))
        yield m
        m.close()


def pin_many(md, uris, holder, until):
    """Pins every URI (at time 0): in bulk where the backend keeps claims in dicts (FsMetadata
    would rewrite its file on every pin), one transaction each on SQLite."""
    if isinstance(md, MemMetadata):
        md.pins.update({u: {holder: until} for u in uris})
        md.changed()
    else:
        for u in uris:
            assert md.pin_object(u, holder, 0, until) is True


def test_live_pin_blocks_claim_delete_and_unpin_is_idempotent(md):
    assert md.pin_object(U, "w1", 100, 200) is True
    assert md.claim_delete(U, 150, 300) is False  # pin live (200 > 150)
    assert md.claim_delete(U, 199, 300) is False
    md.unpin_object(U, "w1")
    md.unpin_object(U, "w1")  # idempotent
    md.unpin_object(U, "nobody")
    md.unpin_object("fs://never/pinned", "w1")
    assert md.claim_delete(U, 150, 300) is True


def test_pinning_again_replaces_the_until(md):
    assert md.pin_object(U, "w1", 100, 200) is True
    assert md.pin_object(U, "w1", 100, 500) is True  # extended
    assert md.claim_delete(U, 300, 400) is False  # 500 > 300: still live
    assert md.pin_object(U, "w1", 100, 150) is True  # replaced (shortened), not max'd
    assert md.claim_delete(U, 300, 400) is True  # 150 <= 300: dropped


def test_record_using_the_uri_blocks_claim_delete(md):
    md.insert_if_absent(record(ID1, U))
    assert md.claim_delete(U, 100, 200) is False
    assert md.claim_delete(U + "x", 100, 200) is True  # only an exact URI counts
    assert md.stale_claims(1000, 10) == [U + "x"]  # the refused claim recorded nothing
    md.delete(ID1)
    assert md.claim_delete(U, 100, 200) is True


def test_live_delete_claim_refuses_pins_and_claims_an_expired_one_does_not(md):
    assert md.claim_delete(U, 100, 200) is True
    assert md.pin_object(U, "w1", 150, 400) is False
    assert md.pin_object(U, "w1", 199, 400) is False
    assert md.claim_delete(U, 150, 400) is False  # another live delete claim
    # The refused pin pinned nothing: once the delete is finished the URI is free.
    md.finish_delete(U)
    assert md.stale_claims(10_000, 10) == []
    assert md.claim_delete(U, 100, 200) is True
    # until <= now: the claim is dead; pinning works (and leaves the dead claim for stale-claims).
    assert md.pin_object(U, "w1", 200, 400) is True
    assert md.stale_claims(200, 10) == [U]
    assert md.claim_delete(U, 300, 500) is False  # pin live; the dead delete claim is dropped
    assert md.stale_claims(300, 10) == []
    md.unpin_object(U, "w1")
    assert md.claim_delete(U, 300, 500) is True


def test_claim_delete_drops_expired_claims(md):
    assert md.pin_object(U, "killed-writer", 100, 200) is True
    assert md.pin_object(U, "other-killed", 100, 250) is True
    assert md.claim_delete(U, 200, 300) is False  # 250 still live
    assert md.stale_claims(249, 10) == []  # the pin at 200 was dropped by that call
    assert md.claim_delete(U, 250, 300) is True  # until == now counts as expired
    # A killed delete: its claim expires and another deleter takes over.
    assert md.claim_delete(U, 299, 400) is False
    assert md.claim_delete(U, 300, 400) is True


def test_finish_delete_ends_the_claim_is_idempotent_and_leaves_live_pins(md):
    md.finish_delete(U)  # nothing to finish
    assert md.claim_delete(U, 100, 200) is True
    # After the claim expired a writer may pin (a dead pin, until <= the claim's, and a live one).
    assert md.pin_object(U, "dead", 250, 150) is True
    assert md.pin_object(U, "live", 250, 900) is True
    md.finish_delete(U)
    md.finish_delete(U)
    assert md.pin_object(U, "probe", 150, 151) is True  # refused if the claim (until 200) remained
    md.unpin_object(U, "probe")
    # The expired pin is dropped with the claim (the dict backends) or by the next claim-delete
    # (SqliteMetadata: the Rust host's statements end only the delete claim).
    assert md.stale_claims(899, 10) in ([], [U])
    assert md.claim_delete(U, 300, 400) is False  # the live pin still blocks
    assert md.stale_claims(899, 10) == []
    assert md.stale_claims(900, 10) == [U]


def test_stale_claims_distinct_ascending_clamped(md):
    uris = [f"fs://blobs/k/{i:04}" for i in range(1005)]
    for u in reversed(uris[:5]):
        assert md.pin_object(u, "h", 0, 100) is True
    pin_many(md, uris[5:], "h", 100)
    assert md.pin_object(uris[0], "h2", 0, 100) is True  # two claims on one URI: listed once
    assert md.claim_delete("fs://a/deleting", 0, 50) is True
    assert md.claim_delete("fs://z/deleting", 0, 5000) is True  # not stale before 5000
    assert md.pin_object("fs://a/live", "h", 0, 101) is True
    assert md.stale_claims(49, 10) == []
    assert md.stale_claims(50, 10) == ["fs://a/deleting"]
    assert md.stale_claims(100, 3) == ["fs://a/deleting", uris[0], uris[1]]
    assert md.stale_claims(100, 0) == ["fs://a/deleting"]  # limit clamped up to 1
    everything = md.stale_claims(100, 5000)  # clamped down to 1000
    assert everything == ["fs://a/deleting", *uris[:999]]
    assert md.stale_claims(101, 2) == ["fs://a/deleting", "fs://a/live"]


def test_stale_claims_in_utf8_byte_order(md):
    m = md
    for u in ("fs://\U0001F600", "fs://\uFFFD", "fs://b", "fs://\u00e9"):
        m.pin_object(u, "h", 0, 1)
    assert m.stale_claims(1, 10) == ["fs://b", "fs://\u00e9", "fs://\uFFFD", "fs://\U0001F600"]


def test_fs_claims_persist_next_to_records_and_a_legacy_file_loads(tmp_path):
    file = str(tmp_path / "metadata.json")
    a = FsMetadata(file)
    a.insert_if_absent(record(ID1, U))
    assert a.pin_object("fs://p", "w1", 0, 12345678901234567) is True
    assert a.claim_delete("fs://d", 0, 777) is True
    with open(file, encoding="utf-8") as fh:
        doc = json.load(fh)
    assert doc["pins"] == [{"uri": "fs://p", "holder": "w1", "until": 12345678901234567}]
    assert doc["deletes"] == [{"uri": "fs://d", "until": 777}]
    b = FsMetadata(file)
    assert vars(b.get_by_id(ID1))["logical-ref"] == f"noetl://artifacts/b/{ID1}"
    assert b.pin_object("fs://d", "w2", 776, 900) is False  # the delete claim survived
    assert b.claim_delete("fs://p", 12345678901234566, 1) is False  # the pin survived
    assert b.claim_delete(U, 0, 1) is False  # the record survived
    assert b.stale_claims(12345678901234567, 10) == ["fs://d", "fs://p"]
    b.finish_delete("fs://d")
    b.unpin_object("fs://p", "w1")
    assert FsMetadata(file).stale_claims(U64_MAX, 10) == []
    # The format before claims: a bare list of records.
    legacy = tmp_path / "legacy.json"
    legacy.write_text(json.dumps(doc["records"]), encoding="utf-8")
    c = FsMetadata(str(legacy))
    assert c.get_by_id(ID1).location.uri == U
    assert c.claim_delete(U, 0, 1) is False


def test_mem_storage_collect_staging_is_zero():
    s = MemStorage()
    w = s.create_writer("mem")
    w.write(b"x")
    assert s.collect_staging(int(time.time() * 1000) + 3_600_000) == 0
    assert w.commit("mem://x", "if-absent") is True


def test_fs_storage_collect_staging_removes_only_old_staged_files(tmp_path):
    root = tmp_path / "store"
    s = FsStorage(str(root))
    staging = root / ".staging"
    old_ns = 1_000_000_000_500_000_000  # 1000000000500 ms

    def stray(name, mtime_ns=None):
        p = staging / name
        p.write_bytes(b"partial")
        if mtime_ns is not None:
            os.utime(p, ns=(mtime_ns, mtime_ns))
        return p

    # A committed object, as old as the strays: never touched.
    c = s.create_writer("fs")
    c.write(b"{}")
    assert c.commit("fs://blobs/old", "if-absent") is True
    os.utime(root / "blobs/old", ns=(old_ns, old_ns))
    # A live writer of this process whose staged file looks old: its writer is not gone.
    live = s.create_writer("fs")
    live.write(b"still writing")
    live.fh.flush()
    for p in staging.iterdir():
        os.utime(p, ns=(old_ns - 10**10, old_ns - 10**10))
    killed_a = stray("999999-killed-a", old_ns)
    killed_b = stray("999999-killed-b", old_ns - 60 * 10**9)
    fresh = stray("999999-fresh")  # begun now
    (staging / "a-dir").mkdir()
    os.utime(staging / "a-dir", ns=(old_ns - 60 * 10**9,) * 2)

    assert s.collect_staging(1_000_000_000_500 - 60_000) == 0  # nothing begun before that
    assert s.collect_staging(1_000_000_000_500) == 1  # killed_b; killed_a's mtime == before is kept
    assert not killed_b.exists() and killed_a.exists()
    assert s.collect_staging(1_000_000_000_501) == 1
    assert not killed_a.exists()
    now_ms = int(time.time() * 1000)
    assert s.collect_staging(now_ms - 3_600_000) == 0  # a grace period keeps `fresh`
    assert fresh.exists() and (staging / "a-dir").is_dir()
    assert (root / "blobs/old").read_bytes() == b"{}"
    # The live writer still commits.
    assert live.commit("fs://blobs/live", "if-absent") is True
    assert (root / "blobs/live").read_bytes() == b"still writing"
    assert s.collect_staging(now_ms + 60_000) == 1  # now `fresh` is old enough
    assert [p.name for p in staging.iterdir()] == ["a-dir"]
    assert vars(s.list_objects("fs://", None, 10))["uris"] == ["fs://blobs/live", "fs://blobs/old"]
    # No staging directory at all: nothing to do.
    os.rmdir(staging / "a-dir")
    os.rmdir(staging)
    assert s.collect_staging(now_ms + 60_000) == 0


@pytest.mark.parametrize("backend", ["fs", "sqlite"])
def test_component_puts_leave_no_claims_and_gc_collects_stale_claims_and_staging(tmp_path, backend):
    if backend == "fs":
        root = tmp_path / "store"
        s = fs_store(root)
    else:
        s = home_store(tmp_path / "home", config={})
        root = tmp_path / "home/objects"
    md = s.metadata

    def now():
        return int(time.time() * 1000)

    r = s.put('{"a":1}', bucket="c", name="x")["record"]
    assert md.stale_claims(I64_MAX, 1000) == []  # the put unpinned its URI
    assert md.claim_delete(r["location"]["uri"], now(), now() + 1000) is False  # its record uses it
    # What killed processes leave: an object whose put died before its record (expired pin), a
    # delete that died before finishing (expired claim), a staged write.
    (root / "out").mkdir()
    (root / "out/killed.json").write_bytes(b"{}")
    assert md.pin_object("fs://out/killed.json", "killed-put", 1, 2) is True
    assert md.claim_delete("fs://out/gone.json", 1, 2) is True
    staged = root / ".staging" / "1-killed-0"
    staged.write_bytes(b"partial")
    os.utime(staged, (1000, 1000))
    report = s.invoke("gc", {"staging_grace_ms": 60_000})
    assert report["blobs"] == ["fs://out/killed.json"]
    assert report["staging"] == 1
    assert not (root / "out/killed.json").exists()
    assert not staged.exists()
    assert md.stale_claims(I64_MAX, 1000) == []
    assert s.get("c/x")["data"]["val"] == '{"a":1}'


def test_sqlite_claims_persist_and_timestamps_beyond_i64_are_refused(tmp_path):
    file = str(tmp_path / "metadata.db")
    a = SqliteMetadata(file)
    a.insert_if_absent(record(ID1, U))
    assert a.pin_object("fs://p", "w1", 0, 12345678901234567) is True
    assert a.claim_delete("fs://d", 0, 777) is True
    for call in (lambda: a.pin_object("fs://q", "w", 0, I64_MAX + 1),
                 lambda: a.pin_object("fs://q", "w", U64_MAX, 1),
                 lambda: a.claim_delete("fs://q", 0, U64_MAX),
                 lambda: a.stale_claims(I64_MAX + 1, 10),
                 lambda: a.touch(ID1, U64_MAX)):
        with pytest.raises(BackendError) as ei:
            call()
        assert ei.value.tag == "invalid-argument", ei.value
    a.close()
    b = SqliteMetadata(file)
    assert vars(b.get_by_id(ID1))["logical-ref"] == f"noetl://artifacts/b/{ID1}"
    assert b.pin_object("fs://d", "w2", 776, 900) is False  # the delete claim survived
    assert b.claim_delete("fs://p", 12345678901234566, 1) is False  # the pin survived
    assert b.claim_delete(U, 0, 1) is False  # the record survived
    assert b.stale_claims(12345678901234567, 10) == ["fs://d", "fs://p"]
    assert b.stale_claims(I64_MAX, 10) == ["fs://d", "fs://p"]
    b.finish_delete("fs://d")
    b.unpin_object("fs://p", "w1")
    b.close()
    assert SqliteMetadata(file).stale_claims(I64_MAX, 10) == []
