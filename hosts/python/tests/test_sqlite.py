"""SqliteMetadata (artifact_host/sqlite.py): the Rust host's SQLite backend in Python. Listings
page exactly as MemMetadata's, records and errors are MemMetadata's, the database is the Rust
host's (schema.sql, user_version 1, its stored values), processes racing get-or-create on one home
agree on one artifact; and home_store, the component from the native module."""
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest

import artifact_host
from artifact_host import BackendError, MemMetadata, SqliteMetadata, home_store, py
from artifact_host.backends import encode_cursor, rec
from artifact_host.sqlite import prefix_successor, schema_path

HERE = Path(__file__).resolve().parent
I64_MAX = 2**63 - 1
U64_MAX = 2**64 - 1
ID1, ID2, ID3 = "01ARZ3NDEKTSV4RRFFQ69G5FAV", "01ARZ3NDEKTSV4RRFFQ69G5FAW", "01ARZ3NDEKTSV4RRFFQ69G5FAX"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(i: int) -> str:
    s = ""
    for _ in range(26):
        s = CROCKFORD[i % 32] + s
        i //= 32
    return s


def record(id_, bucket="b", name=None, uri="fs://blobs/u", created_at=1, **kw):
    fields = dict(id=id_, bucket=bucket, name=name or id_, logical_ref=f"noetl://artifacts/{bucket}/{name or id_}",
                  kind="result-ref", content_type="application/json", compression="none", bytes=2,
                  stored_bytes=2, sha256="a" * 64, location=rec(driver="fs", uri=uri), scope="permanent",
                  store_tier="fs", execution_id=None, created_by=None, created_at=created_at,
                  updated_at=created_at, expires_at=None, preview=None, extracted=None)
    fields.update(kw)
    return rec(**fields)


def query(**kw):
    fields = dict(bucket=None, name=None, name_prefix=None, created_by=None, created_after=None,
                  created_before=None, uri=None, expired_before=None, order="oldest-first", cursor=None,
                  limit=100)
    fields.update(kw)
    return rec(**fields)


def err_tag(fn):
    with pytest.raises(BackendError) as ei:
        fn()
    return ei.value.tag


@pytest.fixture
def md(tmp_path):
    m = SqliteMetadata(tmp_path / "metadata.db")
    yield m
    m.close()


# -- records -----------------------------------------------------------------------------------

def test_records_round_trip_every_field(md):
    r = record(ID1, bucket="bk", name="dir/é.json", kind="temp-ref", compression="gzip", bytes=I64_MAX,
               stored_bytes=0, scope="step", execution_id="E1", created_by="job", created_at=5,
               updated_at=6, expires_at=I64_MAX, preview='{"a":1}', extracted='{"k":"v"}')
    out = md.insert_if_absent(r)
    assert out.created is True and out.record is r
    for got in (md.get_by_id(ID1), md.get_by_ref("noetl://artifacts/bk/dir/é.json"),
                md.get_by_name("bk", "dir/é.json")):
        assert py(got) == py(r)
    assert md.get_by_id(ID2) is None and md.get_by_ref("noetl://x") is None and md.get_by_name("bk", "x") is None
    for kind in ("result-ref", "manifest"):
        x = record(ulid(100 + len(kind)), kind=kind)
        md.insert_if_absent(x)
        assert md.get_by_id(x.id).kind == kind


def test_insert_if_absent_returns_the_winner_and_conflicts_on_id_or_ref(md):
    a = record(ID1, name="n")
    assert md.insert_if_absent(a).created is True
    lost = md.insert_if_absent(record(ID2, name="n", created_at=9))  # same (bucket, name)
    assert lost.created is False and py(lost.record) == py(a)
    # The same id (or the same id and ref) under another name: no (bucket, name) winner.
    assert err_tag(lambda: md.insert_if_absent(record(ID1, name="other"))) == "conflict"
    clash = record(ID3, name="other2", logical_ref=getattr(a, "logical-ref"))
    assert err_tag(lambda: md.insert_if_absent(clash)) == "conflict"
    # The same id under the same (bucket, name): the winner, as MemMetadata.
    assert md.insert_if_absent(record(ID1, name="n")).created is False
    assert md.summary("b").count == 1 and md.get_by_id(ID3) is None


def test_update_delete_summary_touch(md):
    a, b = record(ID1, name="a", bytes=10), record(ID2, name="b", bytes=32)
    md.insert_if_absent(a)
    md.insert_if_absent(b)
    assert py(md.summary("b")) == {"count": 2, "total_bytes": 42}
    assert py(md.summary("nothing")) == {"count": 0, "total_bytes": 0}
    md.update(record(ID1, name="a", bytes=11, updated_at=7))
    assert md.get_by_id(ID1).bytes == 11 and getattr(md.get_by_id(ID1), "updated-at") == 7
    assert err_tag(lambda: md.update(record(ID3, name="c"))) == "not-found"
    assert err_tag(lambda: md.update(record(ID1, name="b"))) == "conflict"  # takes b's (bucket, name)
    assert md.get_by_id(ID1).name == "a"
    assert md.access(ID1) == (None, 0)
    md.touch(ID1, 50)
    md.touch(ID1, 40)  # never moves back
    md.touch(ID3, 60)  # no such artifact: nothing
    assert md.access(ID1) == (50, 2) and md.access(ID3) is None
    assert md.delete(ID1) is True and md.delete(ID1) is False
    assert md.get_by_id(ID1) is None and md.summary("b").count == 1


def test_integers_beyond_i64_are_invalid_arguments(md):
    for field in ("bytes", "stored_bytes", "created_at", "updated_at", "expires_at"):
        assert err_tag(lambda: md.insert_if_absent(record(ID1, **{field: I64_MAX + 1}))) == "invalid-argument"
    md.insert_if_absent(record(ID1))
    assert err_tag(lambda: md.update(record(ID1, bytes=U64_MAX))) == "invalid-argument"
    assert err_tag(lambda: md.touch(ID1, I64_MAX + 1)) == "invalid-argument"
    assert err_tag(lambda: md.list(query(cursor=f"{U64_MAX + 1}.{ID1}"))) == "invalid-argument"
    assert err_tag(lambda: md.list(query(cursor="12.not-an-id"))) == "invalid-argument"


def test_threads_racing_insert_if_absent_agree_on_one_winner(md):
    results, barrier = [], threading.Barrier(8)

    def run(i):
        barrier.wait()
        results.append(md.insert_if_absent(record(ulid(1000 + i), name="same")))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.created for r in results) == 1
    assert len({r.record.id for r in results}) == 1
    assert md.summary("b").count == 1


# -- listing -----------------------------------------------------------------------------------

NAMES = ["a", "a/b", "a/c", "ab", "b", "é", "éa", "a\ud7ff", "a\ud7ff\x00", "a\ue000", "a\U0010ffff",
         "a\U0010ffffx", "\U0010ffff", "\U0010ffff\U0010ffff", "t042/x", "t0420", "t042", "%_*", "A"]


def populate(*backends):
    """The same records in each backend: ties on created_at, two buckets, producers, expiries."""
    i = 0
    for bucket in ("b1", "b2"):
        for j, name in enumerate(NAMES):
            i += 1
            r = record(ulid(7 * i), bucket=bucket, name=name, uri=f"fs://blobs/{j % 4}",
                       created_at=1000 + (i * 37) % 11, created_by=("p", "q", None)[i % 3],
                       expires_at=(None, 1005, 2000)[i % 3])
            for m in backends:
                m.insert_if_absent(r)


def pages(m, q):
    out, cursor = [], None
    while True:
        p = m.list(rec(**{**vars(q), "cursor": cursor}))
        out.append(([r.id for r in p.records], getattr(p, "next-cursor")))
        cursor = getattr(p, "next-cursor")
        if cursor is None:
            return out
        assert len(out) < 200


def test_listing_pages_exactly_as_mem_metadata(md):
    mem = MemMetadata()
    populate(mem, md)
    filters = [{}, {"bucket": "b1"}, {"bucket": "b2", "name": "ab"}, {"name": "é"}, {"created_by": "p"},
               {"created_after": 1003}, {"created_before": 1005}, {"created_after": 1002, "created_before": 1004},
               {"uri": "fs://blobs/1"}, {"expired_before": 1006}, {"expired_before": 3000},
               {"created_after": U64_MAX}, {"created_after": I64_MAX + 1}, {"created_before": U64_MAX},
               {"expired_before": U64_MAX}, {"name_prefix": ""}]
    filters += [{"name_prefix": p} for p in sorted(set(NAMES) | {"a\ud7ff", "t042/", "\U0010ffff", "zz"})]
    filters += [{"bucket": "b1", "name_prefix": p} for p in ("a", "a\U0010ffff", "é", "t042")]
    checked = 0
    for f in filters:
        for order in ("oldest-first", "newest-first"):
            for limit in (0, 1, 3, 1000):
                q = query(order=order, limit=limit, **f)
                want = pages(mem, q)
                assert pages(md, q) == want, (f, order, limit)
                checked += sum(len(ids) for ids, _ in want)
    assert checked > 2_000
    # Records come back whole, in order.
    q = query(bucket="b2", order="newest-first", limit=1000)
    assert [py(r) for r in md.list(q).records] == [py(r) for r in mem.list(q).records]


def test_cursors_beyond_i64(md):
    mem = MemMetadata()
    populate(mem, md)
    for order, n in (("oldest-first", 0), ("newest-first", 2 * len(NAMES))):
        q = query(order=order, cursor=encode_cursor(I64_MAX + 1, ID1), limit=1000)
        assert len(md.list(q).records) == len(mem.list(q).records) == n


def test_prefix_successor():
    assert prefix_successor("t042/") == "t0420"
    assert prefix_successor("a\ud7ff") == "a\ue000"
    assert prefix_successor("a\U0010ffff") == "b"
    assert prefix_successor("\U0010ffff") is None
    for p in ("t042/", "é", "a\ud7ff", "z\U0010ffff"):
        hi = prefix_successor(p).encode()
        for ext in ("", "\x00", "x", "\U0010ffff\U0010ffff"):
            assert (p + ext).encode() < hi


# -- the Rust host's database ------------------------------------------------------------------

def schema_objects():
    text = schema_path().read_text(encoding="utf-8")
    tables = re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", text)
    indexes = re.findall(r"CREATE INDEX IF NOT EXISTS (\w+)", text)
    dropped = re.findall(r"DROP INDEX IF EXISTS (\w+)", text)
    assert tables == ["artifacts", "object_claims"] and len(indexes) >= 5
    return tables, indexes, dropped


def master(path, kind):
    with sqlite3.connect(path) as c:
        return {n for (n,) in c.execute("SELECT name FROM sqlite_master WHERE type = ?", (kind,))}


def test_schema_is_the_repository_file():
    assert schema_path() in artifact_host.sqlite.SCHEMA_PATHS
    if not (Path(artifact_host.__file__).parent / "schema.sql").is_file():
        assert schema_path() == artifact_host.REPO / "host/src/metadata/schema.sql"


def test_threads_opening_one_new_file_at_once_all_open_it(tmp_path):
    """Connections opening one new file at once (as processes sharing a new home do): none
    answers "database is locked" while another turns the file to WAL."""
    errors = []
    for round_ in range(40):
        path = str(tmp_path / f"{round_}.db")
        start = threading.Barrier(6)

        def opener():
            start.wait()
            try:
                SqliteMetadata(path).close()
            except BackendError as e:
                errors.append(f"{round_}: {e}")

        threads = [threading.Thread(target=opener) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


def test_a_new_database_is_the_rust_hosts(tmp_path):
    path = str(tmp_path / "nested/dir/metadata.db")
    m = SqliteMetadata(path)
    m.insert_if_absent(record(ID1, kind="temp-ref"))
    tables, indexes, dropped = schema_objects()
    assert set(tables) <= master(path, "table")
    assert set(indexes) <= master(path, "index")
    assert not set(dropped) & master(path, "index")
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA user_version").fetchone() == (1,)
        assert c.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        # Stored as the Rust host stores it.
        assert c.execute("SELECT kind, access_count FROM artifacts").fetchall() == [("temp_ref", 0)]
    m.close()
    m = SqliteMetadata(path)  # reopening migrates nothing and keeps everything
    assert m.get_by_id(ID1).kind == "temp-ref"
    m.close()


def test_a_database_written_by_the_rust_host_opens(tmp_path):
    """A database as the Rust host leaves it: its schema (with the index the schema now drops),
    its value spellings (`result_ref`, compression ''), ANALYZE statistics, a claim."""
    path = str(tmp_path / "metadata.db")
    c = sqlite3.connect(path)
    c.execute("PRAGMA journal_mode = WAL")
    c.executescript(schema_path().read_text(encoding="utf-8"))
    c.execute("DROP INDEX artifacts_bucket_name_created")
    c.execute("CREATE INDEX artifacts_bucket_name ON artifacts (bucket, name)")
    c.execute("INSERT INTO artifacts (id, bucket, name, logical_ref, kind, content_type, compression, bytes, "
              "stored_bytes, sha256, driver, uri, scope, store_tier, execution_id, created_by, created_at, "
              "updated_at, expires_at, preview, extracted, accessed_at, access_count) VALUES "
              "(?, 'r', 'x.json', 'noetl://artifacts/r/x.json', 'result_ref', 'application/json', '', 7, 7, ?, "
              "'fs', 'fs://blobs/x', 'workflow', 'fs', NULL, 'rust', 10, 11, NULL, NULL, NULL, 12, 3)",
              (ID1, "b" * 64))
    c.execute("INSERT INTO object_claims VALUES ('fs://blobs/y', 'w', 5)")
    c.execute("ANALYZE")
    c.execute("PRAGMA user_version = 1")
    c.commit()
    c.close()
    m = SqliteMetadata(path)
    r = m.get_by_name("r", "x.json")
    assert (r.id, r.kind, r.compression, r.scope, getattr(r, "created-by"), r.bytes) == \
        (ID1, "result-ref", "none", "workflow", "rust", 7)
    assert m.access(ID1) == (12, 3)
    assert m.stale_claims(5, 10) == ["fs://blobs/y"]
    assert [x.id for x in m.list(query(bucket="r", name_prefix="x")).records] == [ID1]
    assert "artifacts_bucket_name" not in master(path, "index")
    assert "artifacts_bucket_name_created" in master(path, "index")
    m.close()


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    path = str(tmp_path / "metadata.db")
    SqliteMetadata(path).close()
    with sqlite3.connect(path) as c:
        c.execute("PRAGMA user_version = 2")
    with pytest.raises(BackendError) as ei:
        SqliteMetadata(path)
    assert ei.value.tag == "metadata" and "version 2" in ei.value.message
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA user_version").fetchone() == (2,)


def test_a_row_no_record_can_hold_is_a_metadata_error(md, tmp_path):
    md.insert_if_absent(record(ID1))
    with sqlite3.connect(md.path) as c:
        c.execute("UPDATE artifacts SET kind = 'nonsense'")
    assert err_tag(lambda: md.get_by_id(ID1)) == "metadata"
    assert err_tag(lambda: md.list(query())) == "metadata"
    with sqlite3.connect(md.path) as c:
        c.execute("UPDATE artifacts SET kind = 'manifest', bytes = -1")
    assert err_tag(lambda: md.get_by_id(ID1)) == "metadata"
    assert err_tag(lambda: SqliteMetadata("")) == "invalid-argument"


# -- processes sharing a home ------------------------------------------------------------------

RACER = """
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from artifact_host import home_store
home, tag, ready, go, n = sys.argv[2:]
s = home_store(home, config={})
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.0005)
out = []
for i in range(int(n)):
    r = s.put(json.dumps({"by": tag, "i": i}), bucket="race", name=f"n{i}")
    out.append([r["record"]["id"], r["created"], r["record"]["sha256"]])
print(json.dumps(out))
"""


def test_processes_racing_get_or_create_on_one_home_agree(tmp_path):
    home, n = tmp_path / "home", 12
    home_store(home, config={})  # the component compiled (and its code cached) once, up front
    go = tmp_path / "go"
    procs = []
    for tag in ("p1", "p2"):
        ready = tmp_path / f"ready-{tag}"
        p = subprocess.Popen([sys.executable, "-c", RACER, str(HERE.parent), str(home), tag, str(ready), str(go),
                              str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append((p, ready))
    deadline = time.time() + 120
    while not all(r.exists() for _, r in procs):
        assert all(p.poll() is None for p, _ in procs), [p.communicate() for p, _ in procs]
        assert time.time() < deadline
        time.sleep(0.01)
    go.touch()
    results = []
    for p, _ in procs:
        out, errs = p.communicate(timeout=120)
        assert p.returncode == 0, errs
        results.append(json.loads(out))
    a, b = results
    for i in range(n):
        assert a[i][0] == b[i][0] and a[i][2] == b[i][2], i  # the same artifact
        assert a[i][1] + b[i][1] == 1, i  # created exactly once
    s = home_store(home, config={})
    assert s.invoke("list", {"bucket": "race", "order": "oldest-first", "limit": 100})["records"].__len__() == n
    assert py(s.metadata.summary("race"))["count"] == n
    for i in range(n):
        body = json.loads(s.get(f"race/n{i}")["data"]["val"])
        assert body["i"] == i and s.head(f"race/n{i}")["id"] == a[i][0]


# -- home_store and the component ---------------------------------------------------------------

def test_home_store_defaults_to_artifact_home_then_dot_artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("ARTIFACT_HOME", str(tmp_path / "h"))
    s = home_store(config={})
    assert s.metadata.path == str(tmp_path / "h/metadata.db")
    assert s.storage.root == os.path.realpath(tmp_path / "h/objects")
    monkeypatch.delenv("ARTIFACT_HOME")
    monkeypatch.chdir(tmp_path)
    s = home_store(config={})
    assert s.metadata.path == str(tmp_path / ".artifacts/metadata.db")
    s.put("{}", bucket="d", name="x")
    assert (tmp_path / ".artifacts/objects").is_dir()


def test_home_store_config_comes_from_the_environment(tmp_path, monkeypatch):
    for k in list(os.environ):
        if k.startswith("ARTIFACT_CONFIG_") or k in ("ARTIFACT_SIGNING_KEYS", "ARTIFACT_ACTIVE_KID"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("ARTIFACT_CONFIG_MAX_BYTES", "123")
    monkeypatch.setenv("ARTIFACT_ACTIVE_KID", "k1")
    assert home_store(tmp_path).config == {"max_bytes": "123", "active_kid": "k1"}
    assert home_store(tmp_path, config={"a": 1}).config == {"a": 1}


def test_home_store_moves_an_older_homes_objects_into_objects(tmp_path):
    home = tmp_path / "old"
    (home / "blobs/sha256/aa").mkdir(parents=True)
    (home / "blobs/sha256/aa/x").write_bytes(b"x")
    (home / "results/E1").mkdir(parents=True)
    (home / "cache").mkdir()
    (home / "metadata.db").write_bytes(b"")  # an older home always has its database
    s = home_store(home, config={})
    assert (home / "objects/blobs/sha256/aa/x").read_bytes() == b"x"
    assert (home / "objects/results/E1").is_dir()
    assert (home / "cache").is_dir() and (home / "metadata.db").is_file()
    assert not (home / "blobs").exists() and not (home / ".objects.migrating").exists()
    assert s.storage.read("fs://blobs/sha256/aa/x", 0, 10) == b"x"
    home_store(home, config={})  # idempotent
    # A directory that is not an older home (no metadata.db) keeps its files.
    plain = tmp_path / "project"
    (plain / "src").mkdir(parents=True)
    (plain / "README").write_bytes(b"r")
    home_store(plain, config={})
    assert (plain / "README").read_bytes() == b"r" and (plain / "src").is_dir()
    assert (plain / "objects").is_dir() and not (plain / "objects/README").exists()


def test_the_component_from_the_native_module(tmp_path, monkeypatch):
    """Outside a checkout with no $ARTIFACT_WASM, the native module's embedded component is used;
    cargo is never run."""
    wasm = artifact_host.WASM if "ARTIFACT_WASM" not in os.environ else Path(os.environ["ARTIFACT_WASM"])
    if not wasm.is_file():
        pytest.skip("no .wasm to embed")
    monkeypatch.setattr(artifact_host, "IN_REPO", False)
    monkeypatch.delenv("ARTIFACT_WASM", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("cargo was run"))
    monkeypatch.setitem(sys.modules, "artifact_host._native", None)  # no native module
    with pytest.raises(FileNotFoundError, match="ARTIFACT_WASM"):
        artifact_host._wasm()
    native = types.ModuleType("artifact_host._native")
    native.COMPONENT = wasm.read_bytes()
    monkeypatch.setitem(sys.modules, "artifact_host._native", native)
    assert artifact_host._wasm() == (native.COMPONENT, tmp_path / "cache/artifact_host")
    monkeypatch.setattr(artifact_host, "_component", None)
    monkeypatch.setattr(artifact_host, "_engine", None)
    s = home_store(tmp_path / "h", config={})
    assert s.put("[1]", bucket="n", name="x")["created"] is True
    assert s.get("n/x")["data"]["val"] == "[1]"
    assert list((tmp_path / "cache/artifact_host").glob("*.cwasm"))
