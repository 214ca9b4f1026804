"""MB/s of put and get for 1 MiB and 64 MiB bodies, side by side on the package's two paths over
one home (objects/ + metadata.db, the Rust CLI's layout): the native extension (`open_home`) and
the wasmtime-py host (`home_store`). Not part of the tests.

    bash scripts/wheel.sh --profile benchmark && python3 -m venv /tmp/v \\
        && /tmp/v/bin/pip install hosts/python/dist/*.whl && /tmp/v/bin/python hosts/python/bench.py
    python3 hosts/python/bench.py --pure    # from the checkout: the wasmtime-py path only
    ARTIFACT_PY_SLOW_BYTES=1 python3 hosts/python/bench.py --pure --small  # stock list<u8> conversion
"""
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# The installed package (with its native extension) first, else this checkout's.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
try:
    import artifact_host
except ImportError:
    sys.path.insert(0, HERE)
    import artifact_host

from artifact_host import CHUNK, FAST_BYTES, home_store  # noqa: E402
from artifact_host.native import AVAILABLE, NativeStore  # noqa: E402


def median(f, reps):
    f()  # warm-up
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]


def row(what, n, s):
    print(f"{what:<58} {s * 1e3:9.1f} ms  {n / 1e6 / s:7.1f} MB/s", flush=True)


def bench(label, s, sizes):
    opts = {"content_type": "application/octet-stream", "bucket": "bench"}
    for size, reps in sizes:
        tag = "1 MiB" if size == 1 << 20 else f"{size >> 20} MiB"
        # Fresh bodies each time: content addressing makes a repeated body cheaper to put.
        bodies = iter([os.urandom(size) for _ in range(reps + 1)])
        seq = iter(range(1 << 30))
        t = median(lambda: s.put(next(bodies), name=f"{tag}-{label}-{next(seq)}", **opts), reps)
        row(f"{label} put {tag}", size, t)
        rid = s.put(os.urandom(size), name=f"{tag}-{label}-get", **opts)["record"]["id"]
        row(f"{label} get {tag} (verified)", size, median(lambda: s.get_bytes(rid), reps))
        if label == "native":
            got = median(lambda: sum(len(c) for c in s.read(rid)), reps)
            row(f"{label} read {tag} (streamed to Python, {CHUNK >> 10} KiB chunks)", size, got)


def main():
    home = tempfile.mkdtemp(prefix="artifact-pybench-")
    small = "--small" in sys.argv
    sizes = [(1 << 20, 10)] + ([] if small else [(64 << 20, 3)])
    try:
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, artifact_host from {artifact_host.__file__}")
        if AVAILABLE and "--pure" not in sys.argv:
            bench("native", NativeStore(home), sizes)
        else:
            print("native extension: not built here (see the docstring)")
        print(f"wasmtime-py list<u8> conversion: {'bulk' if FAST_BYTES else 'stock (element by element)'}")
        # wasmtime-py: 64 MiB takes tens of seconds here; one repetition.
        bench("wasmtime-py", home_store(home, config={}), [(1 << 20, 3)] + ([] if small else [(64 << 20, 1)]))
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
