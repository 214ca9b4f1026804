"""put / get / head round trips, ranges, streaming, typed errors, and the cross-host blob hashes."""
import hashlib
import json
import os
from pathlib import Path

import pytest

from artifact_host import ArtifactTrap, fs_store, home_store, mem_store
from util import load, pattern, raises_tag


def sha(b):
    return hashlib.sha256(b).hexdigest()


STORES = {
    "mem": lambda d: mem_store(),
    "fs": lambda d: fs_store(d),  # FsStorage(d) + FsMetadata(d/metadata.json)
    "sqlite": lambda d: home_store(d, config={}),  # FsStorage(d/objects) + SqliteMetadata(d/metadata.db)
}


@pytest.fixture(params=sorted(STORES))
def store(request, tmp_path):
    return STORES[request.param](tmp_path / "store")


def test_round_trip_every_mode_and_compression(store):
    for compression in ("none", "gzip", "deflate"):
        body = f'{{"compression":"{compression}","n":[1,2,3]}}'
        put = store.put(body, bucket="rt", name=f"doc-{compression}", compression=compression,
                        created_by="py-test")
        rec = put["record"]
        assert put["created"] is True
        assert rec["sha256"] == sha(body.encode())
        assert rec["bytes"] == len(body)
        assert rec["location"]["driver"] == store.storage.drivers()[0]
        assert json.loads(put["result_ref"])["ref"] == rec["logical_ref"]
        for ref in (rec["id"], f"rt/doc-{compression}", rec["logical_ref"], put["result_ref"]):
            assert store.get(ref)["data"] == {"tag": "json", "val": body}
            assert store.head(ref) == rec
        assert store.get(rec["id"], mode="text")["data"] == {"tag": "text", "val": body}
        assert store.get(rec["id"], mode="bytes")["data"]["val"] == body.encode()
        again = store.put('{"other":true}', bucket="rt", name=f"doc-{compression}")
        assert again["created"] is False and again["record"]["id"] == rec["id"]


def test_json_mode_returns_the_stored_text_unchanged(store):
    # Digits past float precision, a big integer, key order and duplicate keys: a json.loads
    # round trip would change them.
    body = '{"z":0.42451918914251396,"big":12345678901234567890123,"a":[1.0,-0e0,1E400],"z":"dup"}'
    assert json.dumps(json.loads(body), separators=(",", ":")) != body
    for compression in ("none", "gzip"):
        rid = store.put(body, bucket="json", name=f"raw-{compression}", compression=compression)["record"]["id"]
        assert store.get(rid)["data"] == {"tag": "json", "val": body}
        assert store.get(rid, mode="json")["data"] == {"tag": "json", "val": body}
        assert store.get_bytes(rid, mode="json") == body.encode()


def test_ranges(store):
    body = pattern(70_000)
    for compression in ("none", "gzip"):
        rid = store.put(body, compression=compression, content_type="application/octet-stream")["record"]["id"]

        def got(r):
            return store.get(rid, mode="bytes", range=r)["data"]["val"]

        assert got({"start": 1000, "end": 1999}) == body[1000:2000]
        assert got({"start": 69_990}) == body[69_990:]
        assert got({"suffix": 5}) == body[-5:]
        assert got({"tag": "bounded", "val": {"start": 0, "end": 0}}) == body[:1]
        with raises_tag("range-not-satisfiable") as ei:
            got({"start": 70_000})
        assert ei.value.val == 70_000


def test_typed_errors(store):
    with raises_tag("not-found"):
        store.get("b/missing")
    with raises_tag("invalid-ref"):
        store.head("Bad Ref")
    with raises_tag("invalid-argument"):
        store.put("{}", bucket="Bad Bucket")
    with raises_tag("decode"):
        store.put("{}", compression="gzip", precompressed=True)
    rid = store.put("not json", bucket="e", name="text", content_type="text/plain")["record"]["id"]
    with raises_tag("decode"):
        store.get(rid)  # default mode is json
    with raises_tag("too-large") as ei:
        store.get(rid, max_bytes=3)
    assert ei.value.val["limit"] == 3
    with raises_tag("conflict"):
        store.put("x", bucket="e", name="text", if_exists="fail")
    with raises_tag("invalid-argument"):
        store.put("{}", store="nosuchdriver")
    with pytest.raises(TypeError):
        store.put("{}", no_such_option=1)


def test_streaming_large_body(store):
    body = os.urandom(3 << 20)  # over the ~2.6 MiB a single wasmtime-py result can carry
    put = store.put(body, name="big.bin", compression="gzip", content_type="application/octet-stream")
    assert put["record"]["bytes"] == len(body)
    assert put["record"]["sha256"] == sha(body)
    assert store.get("default/big.bin", mode="bytes")["data"]["val"] == body  # through the reader
    part = store.get_bytes(put["record"]["id"], chunk=10, range={"start": 2 << 20, "end": (2 << 20) + 99})
    assert part == body[2 << 20: (2 << 20) + 100]
    with store.open_writer(name="aborted") as w:
        w.write(b"123")
        w.abort()
    with raises_tag("not-found"):
        store.head("default/aborted")


def test_trap_gives_a_fresh_instance():
    s = mem_store()
    s.put(b"{}", name="kept")
    rid = s.put(os.urandom(4 << 20), name="big")["record"]["id"]
    with pytest.raises(ArtifactTrap):
        s.call("get", rid, {"mode": "bytes"})  # 4 MiB in one result is over wasmtime-py's copy budget
    assert s.get("default/kept")["data"]["val"] == "{}"


@pytest.mark.parametrize("kind", ["fs", "sqlite"])
def test_fs_persistence_and_integrity(tmp_path, kind):
    root = tmp_path / "p"
    rec = STORES[kind](root).put('{"persist":1}', bucket="p", name="x")["record"]
    b = STORES[kind](root)
    assert b.get("p/x")["data"]["val"] == '{"persist":1}'
    (Path(b.storage.root) / rec["location"]["uri"][len("fs://"):]).write_bytes(b'{"persist":2}')
    with raises_tag("integrity"):
        b.get("p/x")
    with raises_tag("integrity"):
        b.get_bytes("p/x")


@pytest.mark.parametrize("how", ["put", "writer"])
def test_cross_host_blob_hashes(tmp_path, how):
    """Blobs hash exactly as the Rust host stored them (hosts/blobs.json)."""
    for i, c in enumerate(load("hosts/blobs.json")["cases"]):
        body = c["body_text"].encode() if "body_text" in c else pattern(c["body_size"])
        root = tmp_path / f"{how}-{i}"
        s = fs_store(root)
        opts = dict(compression=c["compression"], content_type="application/octet-stream")
        rec = (s.put(body, **opts) if how == "put" else s.put_stream([body], chunk=100_000, **opts))["record"]
        what = f'{how} {c["compression"]} {len(body)}'
        assert rec["sha256"] == c["sha256"], what
        assert rec["location"]["uri"] == c["uri"], what
        assert rec["stored_bytes"] == c["stored_bytes"], what
        assert sha((root / c["uri"][len("fs://"):]).read_bytes()) == c["stored_sha256"], what
