"""The installed packages, away from this checkout, over one home shared by every host.

- The wheel (`bash scripts/wheel.sh` → hosts/python/dist) installs into a fresh venv and runs
  put / get / head from a directory outside the repository, on both paths (native and
  wasmtime-py), with no `$ARTIFACT_WASM` and no cargo.
- Cross-host: Python puts, Node and the Rust CLI get and list; Node makes a manifest, Python
  resolves it; `artifact head`, Node's `recordJson` and Python's `meta_json` print the same JSON;
  8 processes of mixed hosts race get-or-create on one (bucket, name): one artifact.

Needs the wheel, `hosts/node` built (`npm ci && npm run build`) and the CLI (`$ARTIFACT_CLI`,
else target/debug/artifact). Skipped when any is missing, unless `ARTIFACT_REQUIRE_PACKAGES=1`
(scripts/test.sh), which makes a missing piece a failure.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from util import REPO

DIST = REPO / "hosts/python/dist"
NODE = REPO / "hosts/node"


def _missing(why):
    if os.environ.get("ARTIFACT_REQUIRE_PACKAGES"):
        pytest.fail(why)
    pytest.skip(why)


def _cli():
    for p in (os.environ.get("ARTIFACT_CLI"), REPO / "target/debug/artifact"):
        if p and Path(p).is_file():
            return str(p)
    _missing("no artifact CLI ($ARTIFACT_CLI or target/debug/artifact)")


def _clean_env(**extra):
    """The environment of a user's process: no variables pointing into this checkout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ARTIFACT_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    wheels = sorted(DIST.glob("artifact_store-*.whl"))
    if not wheels:
        _missing("no wheel in hosts/python/dist (bash scripts/wheel.sh)")
    root = tmp_path_factory.mktemp("venv")
    # Copied out of the checkout first: the install must not depend on where the wheel was built.
    wheel = root / wheels[-1].name
    shutil.copy(wheels[-1], wheel)
    subprocess.run([sys.executable, "-m", "venv", str(root / "v")], check=True)
    py = root / "v/bin/python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, cwd=root)
    return py


def run_py(py, code, cwd, **env):
    out = subprocess.run([str(py), "-c", textwrap.dedent(code)], cwd=cwd, env=_clean_env(**env),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"python failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def run_node(code, cwd, **env):
    if not (NODE / "gen").is_dir() or not (NODE / "node_modules").is_dir():
        _missing("hosts/node is not built (npm ci && npm run build)")
    script = Path(cwd) / "x.mjs"
    script.write_text(f"import * as a from {json.dumps(str(NODE / 'index.js'))};\n" + textwrap.dedent(code))
    out = subprocess.run(["node", str(script)], cwd=cwd, env=_clean_env(**env), capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, f"node failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def run_cli(args, home, cwd):
    out = subprocess.run([_cli(), "--home", str(home), *args], cwd=cwd, capture_output=True, timeout=600,
                         env=_clean_env())
    assert out.returncode == 0, f"artifact {args} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def test_wheel_installs_and_runs_away_from_the_checkout(venv, tmp_path):
    home = tmp_path / "home"
    out = run_py(venv, """
        import artifact_host as ah, json, os
        assert "site-packages" in ah.__file__, ah.__file__
        assert not ah.IN_REPO
        s = ah.open_home()
        assert type(s).__name__ == "NativeStore", type(s)
        body = bytes(range(256)) * 4096 * 3            # 3 MiB
        p = s.put(body, bucket="pkg", name="b.bin", content_type="application/octet-stream")
        assert p["created"] and json.loads(p["result_ref"])["meta"]["bytes"] == len(body)
        assert s.get_bytes("pkg/b.bin") == body
        assert s.get("pkg/b.bin", mode="bytes", range={"start": 10, "end": 19})["data"]["val"] == body[10:20]
        assert b"".join(s.read("pkg/b.bin")) == body
        assert s.head("pkg/b.bin")["sha256"] == p["record"]["sha256"]
        try:
            s.get("pkg/missing"); raise SystemExit("no error")
        except ah.ArtifactError as e:
            assert e.kind == "not-found", e
        # A misspelt option is refused, not ignored.
        try:
            s.put(b"x", bucket="pkg", nmae="typo.bin"); raise SystemExit("no error")
        except ah.ArtifactError as e:
            assert e.kind == "invalid-argument" and "nmae" in str(e), e
        # A reader closed early stops its thread (and the instance behind it).
        import threading
        g = s.read("pkg/b.bin"); next(g); g.close()
        assert not [t for t in threading.enumerate() if t.name == "artifact-read"]
        # The wasmtime-py path over the same home, with the component the wheel carries.
        pure = ah.home_store()
        assert pure.head("pkg/b.bin") == s.head("pkg/b.bin")
        assert pure.get("pkg/b.bin", mode="bytes", range={"start": 0, "end": 99})["data"]["val"] == body[:100]
        print(p["record"]["id"])
    """, cwd=tmp_path, ARTIFACT_HOME=str(home))
    rid = out.strip().splitlines()[-1]
    # The same home through the Rust CLI.
    meta = json.loads(run_cli(["head", "pkg/b.bin"], home, tmp_path))["meta"]
    assert meta["id"] == rid and meta["bytes"] == 3 << 20
    # One flipped byte on disk: every read path of the package says so, none hands out the body.
    blob = home / "objects" / meta["storage"]["uri"].removeprefix("fs://")
    raw = bytearray(blob.read_bytes())
    raw[len(raw) // 2] ^= 1
    blob.write_bytes(bytes(raw))
    run_py(venv, """
        import artifact_host as ah, os
        s = ah.open_home()
        for what, f in [("get", lambda: s.get_bytes("pkg/b.bin")),
                        ("read", lambda: b"".join(s.read("pkg/b.bin"))),
                        ("get_file", lambda: s.get_file("pkg/b.bin", "out.bin"))]:
            try:
                f(); raise SystemExit(f"{what}: no error")
            except ah.ArtifactError as e:
                assert e.kind == "integrity", (what, e)
        assert os.listdir(".") == [] or not [n for n in os.listdir(".") if n.startswith(("out.bin", ".out.bin"))]
    """, cwd=tmp_path, ARTIFACT_HOME=str(home))


def test_hosts_share_one_home(venv, tmp_path):
    home = tmp_path / "home"
    # Python puts.
    rid = run_py(venv, """
        import artifact_host as ah
        s = ah.open_home()
        print(s.put(b'{"rows":[1,2,3]}', bucket="x", name="rows.json", compression="gzip")["record"]["id"])
    """, cwd=tmp_path, ARTIFACT_HOME=str(home)).strip()
    # Node gets and lists, then makes a manifest of two parts of its own.
    node = json.loads(run_node("""
        const s = await a.homeStore(process.env.ARTIFACT_HOME);
        const got = s.get('x/rows.json', { mode: 'text' }).data.val;
        const names = s.artifacts.list({ bucket: 'x', order: 'oldest-first', limit: 10 }).records.map((r) => r.name);
        const p1 = s.put('{"part":1}', { bucket: 'x', name: 'p1.json' }).record.id;
        const p2 = s.put('{"part":2}', { bucket: 'x', name: 'p2.json' }).record.id;
        const m = s.artifacts.manifestCreate({ strategy: 'append', put: { bucket: 'x', name: 'all.json' } }, [p1, p2]);
        console.log(JSON.stringify({ got, names, manifest: m.record.id, meta: a.recordJson(s.head('x/rows.json')) }));
    """, tmp_path, ARTIFACT_HOME=str(home)))
    assert node["got"] == '{"rows":[1,2,3]}' and node["names"] == ["rows.json"]
    # The Rust CLI gets and lists.
    assert run_cli(["get", "x/rows.json", "--mode", "text"], home, tmp_path)
    listed = run_cli(["ls", "x", "--json"], home, tmp_path).decode()
    assert rid in listed and node["manifest"] in listed
    cli_meta = json.loads(run_cli(["head", "x/rows.json"], home, tmp_path))["meta"]
    # Python resolves Node's manifest; all three print the same JSON for one artifact.
    out = json.loads(run_py(venv, f"""
        import artifact_host as ah, json
        s = ah.open_home()
        print(json.dumps({{"all": s.get({node["manifest"]!r}, mode="json")["data"]["val"],
                          "meta": json.loads(s.meta_json("x/rows.json"))}}))
    """, cwd=tmp_path, ARTIFACT_HOME=str(home)))
    assert [v["part"] for v in _objects_with(json.loads(out["all"]), "part")] == [1, 2], out["all"]
    assert out["meta"] == cli_meta == node["meta"]


def _objects_with(v, key):
    """Every JSON object inside `v` holding `key`, in document order."""
    if isinstance(v, dict):
        if key in v:
            return [v]
        return [o for x in v.values() for o in _objects_with(x, key)]
    if isinstance(v, list):
        return [o for x in v for o in _objects_with(x, key)]
    return []


def test_mixed_hosts_racing_get_or_create_make_one_artifact(venv, tmp_path):
    home = tmp_path / "home"
    go = tmp_path / "go"
    wait = f"import os, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.005)\n"
    procs = []
    env = _clean_env(ARTIFACT_HOME=str(home))
    # Compile caches first, so that the race is not decided by who compiles fastest.
    run_py(venv, "import artifact_host as ah; ah.open_home().list(); ah.home_store().invoke('summary', 'race')", cwd=tmp_path,
           ARTIFACT_HOME=str(home))
    for i in range(3):  # native
        code = wait + f"import artifact_host as ah\nprint(ah.open_home().put(b'py{i}', bucket='race', name='one')['record']['id'])"
        procs.append(subprocess.Popen([str(venv), "-c", code], cwd=tmp_path, env=env, stdout=subprocess.PIPE))
    for i in range(2):  # wasmtime-py over the same files
        code = wait + f"import artifact_host as ah\nprint(ah.home_store().put(b'pure{i}', bucket='race', name='one')['record']['id'])"
        procs.append(subprocess.Popen([str(venv), "-c", code], cwd=tmp_path, env=env, stdout=subprocess.PIPE))
    for i in range(2):  # Node
        script = tmp_path / f"race{i}.mjs"
        script.write_text(f"import * as a from {json.dumps(str(NODE / 'index.js'))};\nimport fs from 'node:fs';\n"
                          f"const s = await a.homeStore(process.env.ARTIFACT_HOME);\n"
                          f"while (!fs.existsSync({json.dumps(str(go))})) await new Promise((r) => setTimeout(r, 5));\n"
                          f"console.log(s.put('node{i}', {{ bucket: 'race', name: 'one' }}).record.id);\n")
        procs.append(subprocess.Popen(["node", str(script)], cwd=tmp_path, env=env, stdout=subprocess.PIPE))
    body = tmp_path / "cli.bin"
    body.write_bytes(b"cli")
    cli_code = wait + (f"import subprocess, json\nout = subprocess.run([{_cli()!r}, 'put', {str(body)!r}, '--bucket', 'race', "
                       f"'--name', 'one'], capture_output=True, check=True).stdout\nprint(json.loads(out)['meta']['id'])")
    procs.append(subprocess.Popen([sys.executable, "-c", cli_code], cwd=tmp_path, env=env, stdout=subprocess.PIPE))
    assert len(procs) == 8
    go.touch()
    ids = []
    for p in procs:
        out, _ = p.communicate(timeout=600)
        assert p.returncode == 0
        ids.append(out.decode().strip().splitlines()[-1])
    assert len(set(ids)) == 1, ids
    page = json.loads(run_py(venv, "import artifact_host as ah, json; print(json.dumps(ah.open_home().list(bucket='race')))",
                             cwd=tmp_path, ARTIFACT_HOME=str(home)))
    assert [r["id"] for r in page["records"]] == ids[:1]
