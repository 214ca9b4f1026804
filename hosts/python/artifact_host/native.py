"""The package's fast path: `artifact_host._native`, a PyO3 extension over the Rust host's
`Runtime` (the same wasmtime engine, embedded component and `fs` + SQLite store as the
`artifact` CLI). Same calls and shapes as the wasmtime-py `Store` (records are dicts with
snake_case keys, bodies `{'tag', 'val'}`, errors `ArtifactError`), but bytes cross once, as one
`bytes` object: hundreds of MB/s instead of wasmtime-py's ~3 MB/s.

    from artifact_host import open_home
    s = open_home()                       # $ARTIFACT_HOME, else .artifacts: the CLI's store
    ref = s.put(b"...", bucket="demo", name="a.bin")["result_ref"]
"""
from __future__ import annotations

import functools
import json
import os
import queue
import threading
from typing import Any, Iterable, Iterator

from .errors import ArtifactError

try:
    from . import _native
except ImportError:  # a checkout without the built extension, or a platform without a wheel
    _native = None

#: Whether the native extension is importable here.
AVAILABLE = _native is not None
#: Chunk size of `read` (bytes per chunk handed to Python).
CHUNK = 1 << 20


class _Stopped(Exception):
    """Raised into the extension's read when the consumer closed the generator."""


def _errors(fn):
    """Re-raises the extension's `Error(kind, message)` as `ArtifactError(kind, message)`."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _native.Error as e:
            kind, message = e.args
            raise ArtifactError(kind, message) from None
    return call


def _range(options: dict) -> dict:
    """`range={'start', 'end'} | {'start'} | {'suffix'}` → the extension's flat keywords."""
    r = options.pop("range", None)
    if r is None:
        return options
    unknown = set(r) - {"start", "end", "suffix"}
    if unknown:
        raise ArtifactError("invalid-argument", f"unknown range keys {sorted(unknown)}")
    return {**options, **r}


class NativeStore:
    """The store in `home` (default `$ARTIFACT_HOME`, else `.artifacts`), shared with the CLI,
    the Node package and other processes. Thread-safe; each call runs its own instance with
    the GIL released."""

    def __init__(self, home: str | os.PathLike | None = None):
        if _native is None:
            raise ImportError("artifact_host._native is not built (pip install the wheel)")
        home = home if home is not None else os.environ.get("ARTIFACT_HOME") or ".artifacts"
        self.home = os.path.abspath(home)
        self._s = _errors(_native.Store)(self.home)

    @_errors
    def put(self, data: bytes | bytearray | memoryview | str, **options) -> dict:
        """Stores `data`: `{'record', 'created', 'result_ref'}`."""
        if isinstance(data, str):
            data = data.encode()
        elif not isinstance(data, bytes):
            data = bytes(data)
        return json.loads(self._s.put(data, **options))

    @_errors
    def put_file(self, path: str | os.PathLike, **options) -> dict:
        """Streams a file into an artifact (read by the extension, never through Python)."""
        return json.loads(self._s.put_file(os.fspath(path), **options))

    @_errors
    def put_stream(self, chunks: Iterable[bytes], **options) -> dict:
        """Streams an iterable of `bytes` into an artifact."""
        return json.loads(self._s.put_stream(iter(chunks), **options))

    @_errors
    def get(self, ref: str, **options) -> dict:
        """Reads a body: `{'data': {'tag': 'json'|'text'|'bytes', 'val'}, 'meta': record}`."""
        tag, val, meta = self._s.get(ref, **_range(options))
        return {"data": {"tag": tag, "val": val}, "meta": json.loads(meta)}

    def get_bytes(self, ref: str, **options) -> bytes:
        """The logical body as bytes."""
        return self.get(ref, mode="bytes", **options)["data"]["val"]

    @_errors
    def get_file(self, ref: str, path: str | os.PathLike, **options) -> dict:
        """Writes the logical body to `path` (whole and verified, or no file); the record."""
        return json.loads(self._s.get_file(ref, os.fspath(path), **_range(options)))

    def read(self, ref: str, **options) -> Iterator[bytes]:
        """Streams the logical body in chunks of about `CHUNK` bytes (at most 4 in flight). A
        body that fails its check raises `ArtifactError('integrity', …)` after the chunks
        already yielded. Closing the generator early stops the read."""
        q: queue.Queue = queue.Queue(maxsize=4)
        stop = threading.Event()
        done = object()

        def sink(chunk):
            while not stop.is_set():
                try:
                    q.put(chunk, timeout=0.05)
                    return
                except queue.Full:
                    continue
            raise _Stopped()

        def run():
            try:
                self._s.get_stream(ref, sink, **_range(dict(options)))
                item = done
            except BaseException as e:  # handed to the consumer
                item = e
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.05)
                    return
                except queue.Full:
                    continue

        t = threading.Thread(target=run, daemon=True, name="artifact-read")
        t.start()
        try:
            while True:
                item = q.get()
                if item is done:
                    return
                if isinstance(item, BaseException):
                    if isinstance(item, _native.Error):
                        raise ArtifactError(*item.args) from None
                    raise item
                yield item
        finally:
            stop.set()
            t.join()

    @_errors
    def head(self, ref: str) -> dict:
        """The record, without reading the body."""
        return json.loads(self._s.head(ref))

    @_errors
    def find(self, bucket: str, name: str) -> dict:
        """The record of `bucket` + `name`."""
        return json.loads(self._s.find(bucket, name))

    @_errors
    def meta_json(self, ref: str) -> str:
        """The JSON the `artifact head` CLI prints as `meta` (the same text in every host)."""
        return self._s.meta_json(ref)

    @_errors
    def list(self, **query) -> dict:
        """`{'records': [...], 'next_cursor'}`; keywords as WIT `list-query` (snake_case)."""
        return json.loads(self._s.list(**query))

    @_errors
    def summary(self, bucket: str) -> dict:
        count, total = self._s.summary(bucket)
        return {"count": count, "total_bytes": total}

    @_errors
    def delete(self, ref: str) -> str:
        return self._s.delete(ref)

    @_errors
    def sign(self, ref: str, ttl_seconds: int, **options) -> str:
        return self._s.sign(ref, ttl_seconds, **options)

    @_errors
    def manifest_create(self, parts: list[str], **options) -> dict:
        return json.loads(self._s.manifest_create(list(parts), **options))

    @_errors
    def manifest_add(self, manifest: str, part: str, index: int | None = None) -> dict:
        return json.loads(self._s.manifest_add(manifest, part, index))

    @_errors
    def manifest_complete(self, manifest: str) -> dict:
        return json.loads(self._s.manifest_complete(manifest))


def open_home(home: str | os.PathLike | None = None) -> Any:
    """The store in `home`: the native extension when present, else the wasmtime-py host over
    the same files (`home_store`)."""
    if _native is not None and not os.environ.get("ARTIFACT_PY_PURE"):
        return NativeStore(home)
    from . import home_store
    return home_store(home)
