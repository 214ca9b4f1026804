"""Bulk conversion of `list<u8>` for wasmtime-py's component API.

wasmtime-py 50 converts a `list<u8>` one element at a time through Python objects (about 1 MB/s).
Each element is a 32-byte `wasmtime_component_val_t` (kind byte at offset 0, value at offset 8),
so a byte list can be built and read with two strided slice operations on a bytearray and one
memmove, which is what this module patches into `ListType` for `u8` elements. It only patches
when the struct layout is the one checked here; set ARTIFACT_PY_SLOW_BYTES=1 to keep stock
behaviour (for comparison).
"""
import ctypes
import os

from wasmtime import _ffi as ffi
from wasmtime.component import _types

VAL = ffi.wasmtime_component_val_t
STRIDE = ctypes.sizeof(VAL)
VALUE_OFFSET = VAL.of.offset + ffi.wasmtime_component_valunion_t.u8.offset
KIND_U8 = ffi.WASMTIME_COMPONENT_U8.value
KIND_LIST = ffi.WASMTIME_COMPONENT_LIST.value

_orig_to_c = _types.ListType.convert_to_c
_orig_from_c = _types.ListType.convert_from_c
patched = False


_kind_cache = b""


def _kinds(n: int) -> memoryview:
    global _kind_cache
    if len(_kind_cache) < n:
        _kind_cache = bytes((KIND_U8,)) * max(n, 1 << 20)
    return memoryview(_kind_cache)[:n]


def _to_c(self, store, val, ptr):
    if not isinstance(val, (bytes, bytearray, memoryview)) or not self._is_bytes():
        return _orig_to_c(self, store, val, ptr)
    n = len(val)
    raw = ffi.wasmtime_component_vallist_t()
    ffi.wasmtime_component_vallist_new_uninit(raw, n)
    if n:
        # Write kinds and values straight into the uninitialised array (other bytes are unused).
        mem = memoryview((ctypes.c_char * (n * STRIDE)).from_address(ctypes.addressof(raw.data.contents))).cast("B")
        mem[0::STRIDE] = _kinds(n)
        mem[VALUE_OFFSET::STRIDE] = val
    ptr.contents.kind = ffi.WASMTIME_COMPONENT_LIST
    ptr.contents.of.list = raw


def _from_c(self, c):
    if not self._is_bytes():
        return _orig_from_c(self, c)
    assert c.kind == KIND_LIST
    n = c.of.list.size
    try:
        if n == 0:
            return b""
        return ctypes.string_at(c.of.list.data, n * STRIDE)[VALUE_OFFSET::STRIDE]
    finally:
        ffi.wasmtime_component_vallist_delete(ctypes.byref(c.of.list))


def install() -> bool:
    """Patches ListType once; returns whether bulk conversion is active."""
    global patched
    if patched:
        return True
    if os.environ.get("ARTIFACT_PY_SLOW_BYTES") or STRIDE != 32 or VAL.kind.offset != 0:
        return False
    _types.ListType.convert_to_c = _to_c
    _types.ListType.convert_from_c = _from_c
    patched = True
    return True
