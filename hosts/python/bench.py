"""MB/s of get (and put) for 1 MiB and 64 MiB bodies. Not part of the tests.

    python3 hosts/python/bench.py            # bulk list<u8> conversion (default)
    ARTIFACT_PY_SLOW_BYTES=1 python3 hosts/python/bench.py --small   # stock wasmtime-py conversion
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from artifact_host import CHUNK, FAST_BYTES, mem_store  # noqa: E402


def timed(f, reps):
    f()
    t = time.perf_counter()
    for _ in range(reps):
        f()
    return (time.perf_counter() - t) / reps


def mbs(n, s):
    return f"{n / 1e6 / s:.1f} MB/s"


s = mem_store()
print(f"wasmtime-py list<u8> conversion: {'bulk' if FAST_BYTES else 'stock (element by element)'}")
one = os.urandom(1 << 20)
t = timed(lambda: s.put(one, content_type="application/octet-stream"), 3)
rid = s.put(one, content_type="application/octet-stream")["record"]["id"]
print(f"put 1 MiB (one call): {t * 1e3:.0f} ms = {mbs(len(one), t)}")
t = timed(lambda: s.get(rid, mode="bytes"), 10)
print(f"get 1 MiB (one call, verified): {t * 1e3:.0f} ms = {mbs(len(one), t)}")
if "--small" not in sys.argv:
    big = os.urandom(64 << 20)
    t0 = time.perf_counter()
    rid = s.put_stream([big], content_type="application/octet-stream")["record"]["id"]
    t = time.perf_counter() - t0
    print(f"put 64 MiB (writer, {CHUNK >> 10} KiB chunks): {t:.1f} s = {mbs(len(big), t)}")
    t = timed(lambda: s.get_bytes(rid), 1)
    print(f"get 64 MiB (reader, {CHUNK >> 10} KiB chunks, verified): {t:.1f} s = {mbs(len(big), t)}")
