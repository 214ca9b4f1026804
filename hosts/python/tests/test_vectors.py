"""The shared vectors (tests/vectors.json) through the component, as each section's `how` says."""
import json

import pytest

from artifact_host import mem_store
from util import load, pattern, raises_tag

V = load("tests/vectors.json")
SECTIONS = {k: v for k, v in V.items() if isinstance(v, dict) and "how" in v}


def fresh():
    """Every section is a fresh store with a storage driver named `fs` (kept in memory, as
    src/vectors.rs does)."""
    return mem_store(driver="fs")


def written(s):
    return len(s.storage.objects) + len(s.metadata.records)


def run_logical_uris(sec):
    s = fresh()
    for c in sec["valid"]:
        with raises_tag("not-found", c["uri"]):
            s.head(c["uri"])
    for c in sec["invalid"]:
        with raises_tag(c["error"], f'{c["uri"]} ({c["why"]})'):
            s.head(c["uri"])


def run_refs(sec):
    s = fresh()
    for c in sec["cases"]:
        with raises_tag(c.get("error", "not-found"), repr(c["input"])):
            s.head(c["input"])


def run_ranges(sec):
    s = fresh()
    for compression in ("none", "gzip", "deflate"):
        for c in sec["cases"]:
            body = pattern(c["size"])
            rid = s.put(body, compression=compression, content_type="application/octet-stream")["record"]["id"]
            what = f'{c["range"]} of {c["size"]} ({compression})'
            if "error" in c:
                with raises_tag(c["error"], what) as ei:
                    s.get(rid, mode="bytes", range=c["range"])
                if c["error"] == "range-not-satisfiable":
                    assert ei.value.val == c["size"], what
                continue
            want = body[c["offset"]: c["offset"] + c["len"]]
            got = s.get(rid, mode="bytes", range=c["range"])["data"]
            assert got == {"tag": "bytes", "val": want}, what
            # The streaming reader gives the same bytes in small chunks.
            assert s.get_bytes(rid, chunk=7, range=c["range"]) == want, what


def run_ttls(sec):
    s = fresh()
    for c in sec["cases"]:
        if "error" in c:
            with raises_tag(c["error"], repr(c["ttl"])):
                s.put(b"{}", ttl=c["ttl"])
            continue
        r = s.put(b"{}", ttl=c["ttl"])["record"]
        if c["ms"] is None:
            assert r["expires_at"] is None, c["ttl"]
        else:
            assert r["expires_at"] - r["created_at"] == c["ms"], c["ttl"]


def run_templates(sec):
    s = fresh()
    for c in sec["cases"]:
        before = written(s)
        opts = dict(c["put"], store=c["template"])
        if "error" in c:
            with raises_tag(c["error"], f'{c["template"]} ({c["why"]})'):
                s.put(sec["body_text"], **opts)
            assert written(s) == before, f'nothing written for {c["template"]}'
        else:
            assert s.put(sec["body_text"], **opts)["record"]["location"]["uri"] == c["rendered"]


def run_precompressed(sec):
    for c in sec["cases"]:
        s = fresh()
        opts = dict(compression=c["compression"], precompressed=True, content_type="text/plain",
                    max_bytes=c.get("max_bytes"))
        data = bytes.fromhex(c["stored_hex"])
        if "error" in c:
            with raises_tag(c["error"], c["about"]):
                s.put(data, **opts)
            assert written(s) == 0, c["about"]
            continue
        r = s.put(data, **opts)["record"]
        assert r["bytes"] == c["bytes"], c["about"]
        assert r["sha256"] == c["sha256"], c["about"]
        assert s.storage.objects[r["location"]["uri"]].hex() == c["stored_hex"], c["about"]
        assert s.get(r["id"], mode="text")["data"] == {"tag": "text", "val": c["text"]}, c["about"]


def run_externalize(sec):
    s = fresh()
    for c in sec["cases"]:
        o = c.get("options", {})
        e = s.invoke("externalize", c["input_text"], {
            "inline_max_bytes": o.get("inline_max_bytes"),
            "preview_max_bytes": o.get("preview_max_bytes"),
            "select": o.get("select", []),
            "put": o.get("put", {}),
        })
        x, what = c["expect"], c["name"]
        assert json.loads(e["preview"]) == x["preview"], what
        assert json.loads(e["extracted"]) == x["extracted"], what
        if "error" in x:
            assert e["error"] and e["error"]["tag"] == x["error"], what
            assert e["inline"] is None and e["result_ref"] is None, what
            continue
        assert e["error"] is None, f'{what}: {e["error"]}'
        if "inline_text" in x:
            assert e["inline"] == x["inline_text"] and e["result_ref"] is None, what
        if x.get("stored"):
            assert e["inline"] is None, what
            ref = json.loads(e["result_ref"])
            assert ref["meta"]["bytes"] == x["bytes"], what
            assert ref["meta"]["sha256"] == x["sha256"], what
            if x.get("ref_prefix"):
                assert ref["ref"].startswith(x["ref_prefix"]), what
            for k, v in x.get("meta", {}).items():
                assert ref["meta"][k] == v, f"meta.{k}: {what}"
            assert s.get(e["result_ref"])["data"]["val"] == c["input_text"].strip(), what


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_vectors(name):
    runner = globals().get(f"run_{name}")
    if runner is None:
        pytest.skip(f"no runner for section {name} in the Python host yet")
    runner(SECTIONS[name])
