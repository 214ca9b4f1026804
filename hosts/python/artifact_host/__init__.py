"""The artifact component in Python, on the `wasmtime` package's component API.

    from artifact_host import mem_store, fs_store, home_store, ArtifactError
    s = fs_store("/tmp/artifacts")  # or home_store(): the Rust CLI's $ARTIFACT_HOME, shared with it
    r = s.put(b'{"a":1}', bucket="demo", name="a.json", compression="gzip")
    s.get("demo/a.json")            # {'data': {'tag': 'json', 'val': '{"a":1}'}, 'meta': {...}}

Storage and metadata are Python objects (see `backends`); each `Store` is one component instance
over them. Values cross as plain Python: records are dicts with snake_case keys, variants are
`{'tag', 'val'}` dicts, options `None`. Errors raise `ArtifactError` (`.tag`, `.val`).

wasmtime-py charges ~48 bytes of a fixed per-call copy budget for each `list<u8>` element, so one
call moves at most ~2.6 MiB of bytes: `put`/`get` switch to the exported writer/reader resources
above `INLINE_MAX`, in `CHUNK`-sized calls.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from pathlib import Path

import wasmtime
from wasmtime import Engine, WasiConfig
from wasmtime.component import (
    Component, Linker, ListType, OptionType, Record, RecordType, ResourceHost, ResourceType,
    Variant, VariantType,
)

from . import _fastbytes
from .backends import BackendError, FsMetadata, FsStorage, MemMetadata, MemStorage, rec
from .sqlite import SqliteMetadata
from .digests import DigestingWriter, check_chunk_size, pieces
from .errors import ArtifactError, ArtifactTrap

__all__ = ["Store", "mem_store", "fs_store", "home_store", "ArtifactError", "ArtifactTrap",
           "MemStorage", "MemMetadata", "FsStorage", "FsMetadata", "SqliteMetadata", "BackendError",
           "CHUNK", "INLINE_MAX", "DEFAULT_HOME"]

_PKG = Path(__file__).resolve().parent
REPO = _PKG.parent.parent.parent
WASM = REPO / "target/guest/wasm32-wasip2/guest/artifact_component.wasm"
#: Whether this package runs from a checkout of the repository (hosts/python/artifact_host), the
#: only place where the .wasm may be built with cargo.
IN_REPO = (_PKG.parent.name == "python" and _PKG.parent.parent.name == "hosts"
           and (REPO / "Cargo.toml").is_file() and (REPO / "wit").is_dir())
#: The home of `home_store()` without `$ARTIFACT_HOME` (relative to the working directory), as for
#: the Rust CLI (`--home`, default `.artifacts`).
DEFAULT_HOME = ".artifacts"
ARTIFACTS = "artifact:store/artifacts@0.1.0"
STORAGE = "artifact:store/storage@0.1.0"
METADATA = "artifact:store/metadata@0.1.0"
CONFIG = "wasi:config/store@0.2.0-rc.1"
WRITER_TYPE = 1  # host resource type id of storage.writer

#: Chunk size of streamed reads and writes (bytes per component call).
CHUNK = 1 << 20
#: Bodies larger than this go through the writer / reader instead of one put / get call.
INLINE_MAX = 1 << 20
#: Largest `len` one storage.read hands back (the component loops on short reads).
STORAGE_READ_MAX = 1 << 20
#: Largest `len` one storage.read-chunks hands back (rounded down to whole chunks).
CHUNKED_READ_MAX = 16 << 20

FAST_BYTES = _fastbytes.install()


# ---------------------------------------------------------------------------------------------
# Value conversion

def py(v):
    """Component value → plain Python (dicts with snake_case keys, variants as {'tag', 'val'})."""
    if isinstance(v, Record):
        return {k.replace("-", "_"): py(x) for k, x in vars(v).items()}
    if isinstance(v, Variant):
        return {"tag": v.tag, "val": py(v.payload)}
    if isinstance(v, list):
        return [py(x) for x in v]
    return v


def _range(v):
    """`{start, end}` | `{start}` | `{suffix}` → WIT byte-range."""
    if "suffix" in v:
        return Variant("suffix", v["suffix"])
    if v.get("end") is not None:
        return Variant("bounded", rec(start=v["start"], end=v["end"]))
    return Variant("from", v["start"])


def wit(ty, v):
    """Plain Python → component value of type `ty` (records from dicts with snake_case keys;
    absent optional fields are `None`)."""
    if v is None or isinstance(v, (Record, Variant, ResourceHost, wasmtime.component.ResourceAny)):
        return v
    if isinstance(ty, OptionType):
        return wit(ty.payload, v)
    if isinstance(ty, RecordType):
        if not isinstance(v, dict):
            raise TypeError(f"expected a dict for a record, got {v!r}")
        fields = ty.fields
        known = {n.replace("-", "_") for n, _ in fields}
        unknown = set(v) - known
        if unknown:
            raise TypeError(f"unknown fields {sorted(unknown)}; expected {sorted(known)}")
        r = Record()
        for name, fty in fields:
            setattr(r, name, wit(fty, v.get(name.replace("-", "_"))))
        return r
    if isinstance(ty, VariantType) and isinstance(v, dict):
        if "tag" in v:
            case = dict(ty.cases)[v["tag"]]
            return Variant(v["tag"], None if case is None else wit(case, v.get("val")))
        return _range(v)
    if isinstance(ty, ListType) and isinstance(v, list):
        el = ty.element
        return [wit(el, x) for x in v]
    if isinstance(ty, ListType) and isinstance(v, str):
        return v.encode()
    if isinstance(ty, ListType) and isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    return v


# ---------------------------------------------------------------------------------------------
# The compiled component (once per process)

_lock = threading.Lock()
_engine = None
_component = None


def _native_component() -> bytes | None:
    """The component embedded in the optional native module (`_native.COMPONENT`), if any."""
    try:
        from . import _native
    except ImportError:
        return None
    b = getattr(_native, "COMPONENT", None)
    return bytes(b) if b else None


def _cache_dir() -> Path:
    """Where compiled code is cached outside a checkout."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "artifact_host"


def _wasm() -> tuple[bytes, Path]:
    """The component's bytes and the directory its compiled code is cached in: `$ARTIFACT_WASM`,
    else (in a checkout) the repository's .wasm, built with cargo first unless
    `$ARTIFACT_NO_CARGO`, else the native module's embedded component."""
    wasm = os.environ.get("ARTIFACT_WASM")
    if wasm:
        return Path(wasm).read_bytes(), (WASM.parent if IN_REPO else _cache_dir())
    if IN_REPO and not os.environ.get("ARTIFACT_NO_CARGO"):
        # Cheap when up to date; keeps the .wasm in step with src/.
        try:
            subprocess.run(["cargo", "build", "--profile", "guest", "--locked", "--target", "wasm32-wasip2",
                            "-p", "artifact-component", "--lib", "--target-dir", "target/guest"],
                           cwd=REPO, check=True)
        except FileNotFoundError:  # no cargo: an existing .wasm or the native module's
            if not WASM.is_file() and _native_component() is None:
                raise
    if IN_REPO and WASM.is_file():
        return WASM.read_bytes(), WASM.parent
    native = _native_component()
    if native is not None:
        return native, _cache_dir()
    raise FileNotFoundError(
        "no artifact component: set $ARTIFACT_WASM to artifact_component.wasm, or install the "
        "package with its native module (artifact_host._native)"
        + (f", or build {WASM}" if IN_REPO else ""))


def component():
    """(engine, component), compiled on first use; compiled code is cached next to the .wasm."""
    global _engine, _component
    with _lock:
        if _component is None:
            wasm, cache_dir = _wasm()
            _engine = Engine()
            key = hashlib.sha256(wasm + wasmtime.__name__.encode()).hexdigest()[:16]
            cache = cache_dir / f"artifact_component.py-{_wasmtime_version()}-{key}.cwasm"
            if cache.exists():
                try:
                    _component = Component.deserialize_file(_engine, str(cache))
                except Exception:
                    _component = None
            if _component is None:
                _component = Component(_engine, wasm)
                try:
                    cache.parent.mkdir(parents=True, exist_ok=True)
                    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
                    tmp.write_bytes(bytes(_component.serialize()))
                    os.replace(tmp, cache)
                except OSError:
                    pass
        return _engine, _component


def _wasmtime_version() -> str:
    try:
        from importlib.metadata import version
        return version("wasmtime")
    except Exception:
        return "unknown"


# ---------------------------------------------------------------------------------------------
# Imports

def _err(e: BackendError):
    return Variant(e.tag, e.message)


def _fallible(fn):
    """Host function returning `result<T, error>` where T is not an option: a BackendError
    becomes the `err` case."""
    def call(_store, *args):
        try:
            return fn(*args)
        except BackendError as e:
            return _err(e)
    return call


def _infallible(fn):
    """Host function returning `result<option<T>, error>`: wasmtime-py cannot lower the `err`
    case of those (its untagged `option` accepts any value), so a BackendError traps."""
    def call(_store, *args):
        return fn(*args)
    return call


def _define_imports(linker: Linker, storage, metadata, config: dict, writers: dict):
    next_rep = [1]

    def writer_dtor(_store, rep):
        w = writers.pop(rep, None)
        if w is not None:
            w.abort()

    def create_writer(driver, chunk_size):
        w = DigestingWriter(storage.create_writer(driver), check_chunk_size(chunk_size))
        rep = next_rep[0]
        next_rep[0] += 1
        writers[rep] = w
        return ResourceHost.own(rep, WRITER_TYPE)

    def method(fn):
        def call(store, self_, *args):
            w = writers[self_.to_host(store).rep]  # ends the borrow
            try:
                return fn(w, *args)
            except BackendError as e:
                return _err(e)
        return call

    def stat(uri):
        size = storage.stat(uri)
        return None if size is None else rec(size=size)

    def read_chunks(uri, offset, length, chunk_size):
        chunk = check_chunk_size(chunk_size)
        want = min(length, max(CHUNKED_READ_MAX // chunk, 1) * chunk)
        parts, got = [], 0
        while got < want:
            ask = want - got
            part = storage.read(uri, offset + got, ask)
            if not part:
                break
            parts.append(part)
            got += len(part)
            # Short is the end: every backend serves up to 64 MiB per read, and `want` is no
            # more. (Asking again would open the file a second time to find nothing.)
            if len(part) < ask:
                break
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        return rec(bytes=data, chunks=pieces(data, chunk))

    with linker.root() as root:
        with root.add_instance(STORAGE) as st:
            st.add_resource("writer", ResourceType.host(WRITER_TYPE), writer_dtor)
            st.add_func("[method]writer.write", method(lambda w, chunk: w.write(chunk)))
            st.add_func("[method]writer.digests", method(lambda w: rec(**w.digests())))
            st.add_func("[method]writer.commit", method(lambda w, uri, publish: w.commit(uri, publish)))
            st.add_func("[method]writer.abort", method(lambda w: w.abort()))
            st.add_func("drivers", lambda _s: list(storage.drivers()))
            st.add_func("create-writer", _fallible(create_writer))
            st.add_func("read", _fallible(lambda uri, off, n: storage.read(uri, off, min(n, STORAGE_READ_MAX))))
            st.add_func("read-chunks", _fallible(read_chunks))
            st.add_func("stat", _infallible(stat))
            st.add_func("list-objects", _fallible(storage.list_objects))
            st.add_func("delete", _fallible(storage.delete))
            # A backend without persistent staging has nothing to collect.
            st.add_func("collect-staging", _fallible(getattr(storage, "collect_staging", lambda _before: 0)))
        with root.add_instance(METADATA) as md:
            md.add_func("insert-if-absent", _fallible(metadata.insert_if_absent))
            md.add_func("update", _fallible(metadata.update))
            md.add_func("get-by-id", _infallible(metadata.get_by_id))
            md.add_func("get-by-ref", _infallible(metadata.get_by_ref))
            md.add_func("get-by-name", _infallible(metadata.get_by_name))
            md.add_func("list", _fallible(metadata.list))
            md.add_func("summary", _fallible(metadata.summary))
            md.add_func("delete", _fallible(metadata.delete))
            md.add_func("touch", _fallible(metadata.touch))
            md.add_func("pin-object", _fallible(metadata.pin_object))
            md.add_func("unpin-object", _fallible(metadata.unpin_object))
            md.add_func("claim-delete", _fallible(metadata.claim_delete))
            md.add_func("finish-delete", _fallible(metadata.finish_delete))
            md.add_func("stale-claims", _fallible(metadata.stale_claims))
        with root.add_instance(CONFIG) as cfg:
            cfg.add_func("get", lambda _s, key: None if key not in config else str(config[key]))
            cfg.add_func("get-all", lambda _s: [(k, str(v)) for k, v in config.items()])


# ---------------------------------------------------------------------------------------------
# The store

class Store:
    """One component instance over `storage` and `metadata` backends (and `wasi:config` values)."""

    def __init__(self, storage, metadata, config: dict | None = None):
        self.storage, self.metadata, self.config = storage, metadata, dict(config or {})
        self._instantiate()

    def _instantiate(self):
        engine, comp = component()
        self._writers: dict[int, object] = {}
        linker = Linker(engine)
        linker.add_wasip2()
        _define_imports(linker, self.storage, self.metadata, self.config, self._writers)
        self._store = wasmtime.Store(engine)
        self._store.set_wasi(WasiConfig())  # no args, env, stdio or preopens
        self._instance = linker.instantiate(self._store, comp)
        self._iface = self._instance.get_export_index(self._store, ARTIFACTS)
        self._funcs = {}

    def _func(self, name):
        fn = self._funcs.get(name)
        if fn is None:
            idx = self._instance.get_export_index(self._store, name, self._iface)
            if idx is None:
                raise AttributeError(f"{ARTIFACTS} exports no {name}")
            fn = self._funcs[name] = self._instance.get_func(self._store, idx)
        return fn

    def call(self, name: str, *args):
        """Calls export `name` (e.g. `"list"`, `"[method]reader.read"`) with plain-Python or
        component arguments; returns the raw component value, raising ArtifactError for `err`."""
        fn = self._func(name)
        params = fn.type(self._store).params
        vals = [wit(ty, a) for (_, ty), a in zip(params, args)]
        try:
            res = fn(self._store, *vals)
            fn.post_return(self._store)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as e:
            self._instantiate()  # state lives in the backends: a fresh instance is transparent
            raise ArtifactTrap(str(e)) from e
        if isinstance(res, Variant):  # no export's ok type is a variant
            raise ArtifactError(res.tag, py(res.payload))
        return res

    def invoke(self, name: str, *args):
        """`call`, with the result converted to plain Python."""
        return py(self.call(name, *args))

    # -- put / get / head -----------------------------------------------------------------

    def put(self, data: bytes | str, **options) -> dict:
        """Stores a body; returns {'record', 'created', 'result_ref'}. Options are the WIT
        put-options in snake_case. Bodies over INLINE_MAX stream through the writer."""
        if isinstance(data, str):
            data = data.encode()
        if len(data) > INLINE_MAX:
            return self.put_stream([data], **options)
        return self.invoke("put", bytes(data), options)

    def get(self, ref: str, **options) -> dict:
        """Reads a body: {'data': {'tag': 'json'|'text'|'bytes', 'val'}, 'meta'}. In bytes mode,
        bodies over INLINE_MAX are read through the reader."""
        if options.get("mode") == "bytes":
            meta = self.head(ref)
            if meta["bytes"] > INLINE_MAX:
                return {"data": {"tag": "bytes", "val": self.get_bytes(ref, **options)}, "meta": meta}
        return self.invoke("get", ref, options)

    def head(self, ref: str) -> dict:
        """The record, without reading the body."""
        return self.invoke("head", ref)

    # -- streaming ------------------------------------------------------------------------

    def open_reader(self, ref: str, **options) -> "Reader":
        return Reader(self, self.call("open-reader", ref, options))

    def read(self, ref: str, chunk: int = CHUNK, **options):
        """Yields the logical body in chunks (full reads are verified at the end)."""
        with self.open_reader(ref, **options) as r:
            while True:
                b = r.read(chunk)
                if not b:
                    return
                yield b

    def get_bytes(self, ref: str, chunk: int = CHUNK, **options) -> bytes:
        options.setdefault("mode", "bytes")
        return b"".join(self.read(ref, chunk, **options))

    def open_writer(self, **options) -> "Writer":
        return Writer(self, self.call("open-writer", options))

    def put_stream(self, chunks, chunk: int = CHUNK, **options) -> dict:
        """Stores a body given as an iterable of bytes through the writer."""
        with self.open_writer(**options) as w:
            for c in chunks:
                w.write(c, chunk)
            return w.finish()

    def put_file(self, path, **options) -> dict:
        def chunks():
            with open(path, "rb") as fh:
                while b := fh.read(CHUNK):
                    yield b
        return self.put_stream(chunks(), **options)


class _Resource:
    def __init__(self, store: Store, handle):
        self.store, self.handle = store, handle

    def close(self):
        if self.handle is not None:
            h, self.handle = self.handle, None
            try:
                h.drop(self.store._store)
            except (wasmtime.Trap, wasmtime.WasmtimeError):
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Reader(_Resource):
    """The exported `reader` resource."""

    def meta(self) -> dict:
        return self.store.invoke("[method]reader.meta", self.handle)

    def read(self, max_bytes: int = CHUNK) -> bytes:
        return self.store.call("[method]reader.read", self.handle, max_bytes)


class Writer(_Resource):
    """The exported `writer` resource."""

    def write(self, data, chunk: int = CHUNK):
        data = memoryview(data.encode() if isinstance(data, str) else data)
        for i in range(0, len(data), chunk):
            self.store.call("[method]writer.write", self.handle, bytes(data[i: i + chunk]))

    def finish(self) -> dict:
        return self.store.invoke("[method]writer.finish", self.handle)

    def abort(self):
        self.store.call("[method]writer.abort", self.handle)


def mem_store(driver: str = "mem", config: dict | None = None) -> Store:
    """A store kept in memory; `driver` is the storage driver name."""
    return Store(MemStorage(driver), MemMetadata(), config)


def fs_store(root, config: dict | None = None) -> Store:
    """A store under `root`: blobs as files (driver `fs`), records in `root/metadata.json`."""
    root = str(root)
    return Store(FsStorage(root), FsMetadata(os.path.join(root, "metadata.json")), config)


def home_store(home=None, config: dict | None = None) -> Store:
    """The store in an `ARTIFACT_HOME`, as the Rust CLI opens it and shareable with it (and with
    other processes): objects under `home/objects` (driver `fs`; a home of the older layout,
    objects directly in the home, is migrated first), metadata in the SQLite database
    `home/metadata.db`. `home` defaults to `$ARTIFACT_HOME`, else `.artifacts`; `config` to the
    `wasi:config` values the CLI takes from the environment (`ARTIFACT_SIGNING_KEYS`,
    `ARTIFACT_ACTIVE_KID`, `ARTIFACT_CONFIG_<KEY>`)."""
    home = Path(os.path.abspath(home if home is not None else os.environ.get("ARTIFACT_HOME") or DEFAULT_HOME))
    objects = _objects_root(home)
    return Store(FsStorage(str(objects)), SqliteMetadata(str(home / "metadata.db")),
                 _config_from_env() if config is None else config)


def _config_from_env() -> dict:
    """`wasi:config` values from the environment, as the Rust CLI takes them."""
    out = {k[len("ARTIFACT_CONFIG_"):].lower(): v for k, v in os.environ.items()
           if k.startswith("ARTIFACT_CONFIG_")}
    for var, key in (("ARTIFACT_SIGNING_KEYS", "signing_keys"), ("ARTIFACT_ACTIVE_KID", "active_kid")):
        if var in os.environ:
            out[key] = os.environ[var]
    return out


# Entries of a home that are not objects (host/src/home.rs).
_HOME_OWN = {"objects", "metadata.db", "metadata.db-wal", "metadata.db-shm", "metadata.db-journal", "cache"}
_MIGRATING = ".objects.migrating"


def _utf8(name: str) -> bool:
    """Whether a file name is valid UTF-8 (home.rs leaves other names where they are)."""
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _objects_root(home: Path) -> Path:
    """`home/objects`, after moving the objects of an older home (directly in the home) there,
    exactly as host/src/home.rs `objects_root`: into `.objects.migrating`, then one rename."""
    objects = home / "objects"
    if objects.is_dir():
        return objects
    try:
        with os.scandir(home) as it:
            old = [e for e in it if e.name not in _HOME_OWN and e.name != _MIGRATING and _utf8(e.name)]
    except FileNotFoundError:
        old = []
    except OSError as e:
        raise BackendError("storage", f"read home {home}: {e}") from None
    staging = home / _MIGRATING
    # Only a store moves: an older home always has its metadata.db (home.rs).
    if (not old or not (home / "metadata.db").is_file()) and not staging.exists():
        return objects
    try:
        staging.mkdir(parents=True, exist_ok=True)
        for e in old:
            os.rename(e.path, staging / e.name)
        os.rename(staging, objects)
    except OSError as e:
        raise BackendError("storage", f"migrate {home} to its objects/ layout: {e}") from None
    return objects


from .native import NativeStore, open_home  # noqa: E402  (native.py imports home_store lazily)

__all__ += ["NativeStore", "open_home"]
