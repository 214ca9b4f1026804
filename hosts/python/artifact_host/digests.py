"""SHA-256 for the storage host side of WIT `storage` (`writer.digests`, `read-chunks`): computed
here, by hashlib (natively), over the bytes a backend accepted or returned, for every backend."""

from __future__ import annotations

import hashlib

from .backends import BackendError

MIN_CHUNK = 64 << 10
MAX_CHUNK = 16 << 20


def check_chunk_size(size: int) -> int:
    """`invalid-argument` unless `size` is a power of two from 64 KiB to 16 MiB."""
    if not (MIN_CHUNK <= size <= MAX_CHUNK) or size & (size - 1):
        raise BackendError("invalid-argument", f"chunk size {size} is not a power of two from 64 KiB to 16 MiB")
    return size


def pieces(data: bytes, chunk: int) -> bytes:
    """SHA-256 of each `chunk`-byte piece of `data`, concatenated (the WIT `chunks` field)."""
    view = memoryview(data)
    return b"".join(hashlib.sha256(view[i:i + chunk]).digest() for i in range(0, len(data), chunk))


class DigestingWriter:
    """A backend writer that digests what it accepts: the whole and each `chunk`-byte piece."""

    def __init__(self, inner, chunk: int):
        self.inner, self.chunk = inner, chunk
        self.whole, self.cur = hashlib.sha256(), hashlib.sha256()
        self.in_cur, self.size, self.done = 0, 0, []

    def write(self, data):
        self.inner.write(data)
        view = memoryview(data)
        self.whole.update(view)
        self.size += len(view)
        at = 0
        while at < len(view):
            take = min(self.chunk - self.in_cur, len(view) - at)
            self.cur.update(view[at:at + take])
            self.in_cur += take
            at += take
            if self.in_cur == self.chunk:
                self.done.append(self.cur.digest())
                self.cur, self.in_cur = hashlib.sha256(), 0

    def digests(self) -> dict:
        chunks = self.done + ([self.cur.digest()] if self.in_cur else [])
        # hashlib has no BLAKE3: SHA-256 chunk digests only (WIT `digests.blake3-chunks`).
        return {"size": self.size, "sha256": self.whole.digest(), "chunks": b"".join(chunks), "blake3_chunks": None}

    def commit(self, uri, publish):
        return self.inner.commit(uri, publish)

    def abort(self):
        self.inner.abort()
