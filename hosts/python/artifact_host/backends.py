"""Storage and metadata backends in Python: in memory (dicts) and on disk (files).

They mirror the Rust host's semantics (src/backend.rs `mem`, host/src/storage/fs.rs): the same
URIs, the same listing order and cursors (`"{created_at}.{id}"`, ordered by (created_at, id)),
the same file layout (`fs://blobs/...` is `<root>/blobs/...`, staged in `<root>/.staging/` and
published by link or rename; `collect_staging` removes what killed writers left in `.staging/`).
Metadata also keeps the object claims of the deletion contract (wit/metadata.wit): pins and
delete claims on storage URIs.

Records are the component's own values (`wasmtime.component.Record` with kebab-case attributes);
the backends store and return them unchanged. Failures raise `BackendError(tag, message)`, which
the import glue turns into the WIT `error` variant.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import threading

from wasmtime.component import Record


class BackendError(Exception):
    """A WIT `types.error` raised by a backend: `tag` is the case name."""

    def __init__(self, tag: str, message: str):
        super().__init__(f"{tag}: {message}")
        self.tag = tag
        self.message = message


def rec(**fields) -> Record:
    """A component Record; keyword `a_b` becomes attribute `a-b`."""
    r = Record()
    for k, v in fields.items():
        setattr(r, k.replace("_", "-"), v)
    return r


def f(r: Record, name: str):
    """Attribute `name` (kebab-case) of a component Record."""
    return getattr(r, name)


_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def encode_cursor(created_at: int, id_: str) -> str:
    return f"{created_at}.{id_}"


def decode_cursor(c: str):
    t, dot, id_ = c.partition(".")
    if not dot or not t.isdigit() or not t.isascii() or not _ID.match(id_):
        raise BackendError("invalid-argument", f"malformed cursor {c!r}")
    return int(t), id_


def matches(q: Record, r: Record) -> bool:
    """`ListQuery::matches` of src/model.rs."""
    def eq(field, value):
        want = f(q, field)
        return want is None or want == value

    return (
        eq("bucket", r.bucket)
        and eq("name", r.name)
        and (f(q, "name-prefix") is None or r.name.startswith(f(q, "name-prefix")))
        and (f(q, "created-by") is None or f(r, "created-by") == f(q, "created-by"))
        and (f(q, "created-after") is None or f(r, "created-at") >= f(q, "created-after"))
        and (f(q, "created-before") is None or f(r, "created-at") < f(q, "created-before"))
        and eq("uri", r.location.uri)
        and (f(q, "expired-before") is None
             or (f(r, "expires-at") is not None and f(r, "expires-at") < f(q, "expired-before")))
    )


def page(records, q: Record) -> Record:
    """One `page` of `records` for list-query `q`, exactly as the Rust mem backend pages."""
    after = decode_cursor(q.cursor) if q.cursor is not None else None
    newest = q.order == "newest-first"
    key = lambda r: (f(r, "created-at"), r.id.encode())  # noqa: E731
    rows = sorted((r for r in records if matches(q, r)), key=key, reverse=newest)
    if after is not None:
        a = (after[0], after[1].encode())
        rows = [r for r in rows if (key(r) < a if newest else key(r) > a)]
    limit = min(max(q.limit, 1), 1000)
    out = rows[: limit + 1]
    nxt = None
    if len(out) > limit:
        out = out[:limit]
        nxt = encode_cursor(f(out[-1], "created-at"), out[-1].id)
    return rec(records=out, next_cursor=nxt)


def uri_page(uris, prefix: str, cursor, limit: int) -> Record:
    """An `object-page`: URIs under `prefix` after `cursor`, in UTF-8 byte order."""
    limit = min(max(limit, 1), 1000)
    c = cursor.encode() if cursor is not None else None
    out = []
    for u in sorted(uris, key=str.encode):
        if u.startswith(prefix) and (c is None or u.encode() > c):
            out.append(u)
            if len(out) > limit:
                break
    nxt = None
    if len(out) > limit:
        out = out[:limit]
        nxt = out[-1]
    return rec(uris=out, next_cursor=nxt)


class _MemWriter:
    def __init__(self, objects, lock):
        self.objects, self.lock, self.parts = objects, lock, []

    def write(self, chunk: bytes):
        if self.parts is None:
            raise BackendError("storage", "writer is finished")
        self.parts.append(bytes(chunk))

    def commit(self, uri: str, publish: str) -> bool:
        if self.parts is None:
            raise BackendError("storage", "writer is finished")
        body, self.parts = b"".join(self.parts), None
        with self.lock:
            if publish == "if-absent" and uri in self.objects:
                return False
            self.objects[uri] = body
            return True

    def abort(self):
        self.parts = None


class MemStorage:
    """Objects in a dict keyed by full URI, under one driver name (default `mem`)."""

    def __init__(self, driver: str = "mem"):
        self.driver = driver
        self.objects: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def drivers(self):
        return [self.driver]

    def create_writer(self, driver: str):
        if driver != self.driver:
            raise BackendError("invalid-argument", f"driver {driver!r} is not configured")
        return _MemWriter(self.objects, self.lock)

    def read(self, uri: str, offset: int, length: int) -> bytes:
        b = self.objects.get(uri)
        if b is None:
            raise BackendError("not-found", f"no object at {uri}")
        return b[offset: offset + length]

    def stat(self, uri: str):
        b = self.objects.get(uri)
        return None if b is None else len(b)

    def list_objects(self, prefix: str, cursor, limit: int):
        return uri_page(list(self.objects), prefix, cursor, limit)

    def delete(self, uri: str) -> bool:
        return self.objects.pop(uri, None) is not None

    def collect_staging(self, before: int) -> int:
        """Staged bytes live only in their writer (gone with it): nothing to collect."""
        return 0


class MemMetadata:
    """Records in a dict keyed by id; unique on id, logical ref and (bucket, name).

    Object claims: `pins` maps uri → {holder: until} and `deletes` maps uri → until (ms). Each
    method holds `lock`, so each is atomic."""

    def __init__(self):
        self.records: dict[str, Record] = {}
        self.pins: dict[str, dict[str, int]] = {}
        self.deletes: dict[str, int] = {}
        self.lock = threading.Lock()

    def changed(self):
        """Called after every change (FsMetadata persists here)."""

    def insert_if_absent(self, r: Record) -> Record:
        with self.lock:
            for x in self.records.values():
                if x.bucket == r.bucket and x.name == r.name:
                    return rec(record=x, created=False)
            for x in self.records.values():
                if x.id == r.id or f(x, "logical-ref") == f(r, "logical-ref"):
                    raise BackendError("conflict", f"id or ref of {r.id} already taken")
            self.records[r.id] = r
            self.changed()
            return rec(record=r, created=True)

    def update(self, r: Record):
        with self.lock:
            if r.id not in self.records:
                raise BackendError("not-found", f"no artifact with id {r.id}")
            self.records[r.id] = r
            self.changed()

    def get_by_id(self, id_: str):
        return self.records.get(id_)

    def get_by_ref(self, ref: str):
        return next((x for x in self.records.values() if f(x, "logical-ref") == ref), None)

    def get_by_name(self, bucket: str, name: str):
        return next((x for x in self.records.values() if x.bucket == bucket and x.name == name), None)

    def list(self, q: Record) -> Record:
        return page(list(self.records.values()), q)

    def summary(self, bucket: str) -> Record:
        rows = [x for x in self.records.values() if x.bucket == bucket]
        return rec(count=len(rows), total_bytes=sum(x.bytes for x in rows))

    def delete(self, id_: str) -> bool:
        with self.lock:
            had = self.records.pop(id_, None) is not None
            if had:
                self.changed()
            return had

    def touch(self, id_: str, at: int):
        pass

    # -- object claims (wit/metadata.wit, "the deletion contract") ----------------------------

    def pin_object(self, uri: str, holder: str, now: int, until: int) -> bool:
        """Pins `uri` for `holder` until `until`, unless a delete claim is live at `now`."""
        with self.lock:
            d = self.deletes.get(uri)
            if d is not None and d > now:
                return False
            self.pins.setdefault(uri, {})[holder] = until
            self.changed()
            return True

    def unpin_object(self, uri: str, holder: str):
        with self.lock:
            held = self.pins.get(uri)
            if held is None or held.pop(holder, None) is None:
                return
            if not held:
                del self.pins[uri]
            self.changed()

    def claim_delete(self, uri: str, now: int, until: int) -> bool:
        """Drops the URI's claims with `until <= now`, then claims it if nothing uses it."""
        with self.lock:
            dropped = False
            held = self.pins.get(uri)
            if held is not None:
                live = {h: u for h, u in held.items() if u > now}
                dropped = len(live) != len(held)
                if live:
                    self.pins[uri] = live
                else:
                    del self.pins[uri]
            d = self.deletes.get(uri)
            if d is not None and d <= now:
                del self.deletes[uri]
                dropped = True
            used = (uri in self.pins or uri in self.deletes
                    or any(x.location.uri == uri for x in self.records.values()))
            if not used:
                self.deletes[uri] = until
            if dropped or not used:
                self.changed()
            return not used

    def finish_delete(self, uri: str):
        """Ends the delete claim on `uri`, with the URI's pins that had expired by the claim's
        own `until` (no pin can be taken while the claim is live, so a pin that old is dead)."""
        with self.lock:
            d = self.deletes.pop(uri, None)
            if d is None:
                return
            held = self.pins.get(uri)
            if held is not None:
                live = {h: u for h, u in held.items() if u > d}
                if live:
                    self.pins[uri] = live
                else:
                    del self.pins[uri]
            self.changed()

    def stale_claims(self, before: int, limit: int) -> list[str]:
        """Distinct URIs with a pin or delete claim whose `until <= before`, ascending (UTF-8
        byte order), at most `limit` clamped to 1..1000."""
        with self.lock:
            uris = {u for u, held in self.pins.items() if any(x <= before for x in held.values())}
            uris.update(u for u, x in self.deletes.items() if x <= before)
        return sorted(uris, key=str.encode)[: min(max(limit, 1), 1000)]


# ---------------------------------------------------------------------------------------------
# Files

SCHEME = "fs://"
STAGING = ".staging"
MAX_READ_LEN = 64 << 20
_counter = itertools.count()
# Staging files of this process's unfinished writers: never collected, however old.
_live_staged: set[str] = set()


def _object_path(uri: str) -> str:
    if not uri.startswith(SCHEME):
        raise BackendError("invalid-argument", f"{uri!r} is not an fs:// URI")
    rel = uri[len(SCHEME):]

    def bad(why):
        return BackendError("invalid-argument", f"invalid object URI {uri!r}: {why}")

    if not rel:
        raise bad("empty path")
    if len(rel.encode()) > 1024:
        raise bad("path too long")
    if rel.startswith("/"):
        raise bad("absolute paths are not allowed")
    if "\\" in rel or "\0" in rel:
        raise bad("backslash or NUL in path")
    for i, seg in enumerate(rel.split("/")):
        if seg == "":
            raise bad("empty path segment")
        if seg in (".", ".."):
            raise bad("relative path segment")
        if seg == STAGING and i == 0:
            raise bad("reserved path")
    return rel


def _io(op, path, e):
    return BackendError("storage", f"{op} {path}: {e}")


class _FsWriter:
    def __init__(self, root: str, staged: str, fh):
        self.root, self.staged, self.fh = root, staged, fh

    def write(self, chunk: bytes):
        if self.fh is None:
            raise BackendError("storage", "writer is finished")
        try:
            self.fh.write(chunk)
        except OSError as e:
            raise _io("write", self.staged, e)

    def commit(self, uri: str, publish: str) -> bool:
        if self.fh is None:
            raise BackendError("storage", "writer is finished")
        dest = os.path.join(self.root, _object_path(uri))
        fh, self.fh = self.fh, None
        try:
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if publish == "if-absent":
                try:
                    os.link(self.staged, dest)
                except FileExistsError:
                    if os.path.isdir(dest):
                        raise BackendError("storage", f"publish {dest}: a directory is in the way")
                    return False
            else:
                if os.path.isdir(dest):
                    raise BackendError("storage", f"publish {dest}: a directory is in the way")
                os.replace(self.staged, dest)
            return True
        except OSError as e:
            raise _io("publish", dest, e)
        finally:
            fh.close()
            try:
                os.unlink(self.staged)
            except OSError:
                pass
            _live_staged.discard(self.staged)

    def abort(self):
        if self.fh is not None:
            self.fh.close()
            self.fh = None
            try:
                os.unlink(self.staged)
            except OSError:
                pass
            _live_staged.discard(self.staged)


class FsStorage:
    """Objects as files under `root` (driver `fs`), the layout of the Rust host's fs storage."""

    def __init__(self, root: str):
        os.makedirs(root, exist_ok=True)
        self.root = os.path.realpath(root)
        self.staging = os.path.join(self.root, STAGING)
        os.makedirs(self.staging, exist_ok=True)

    def path_of(self, uri: str) -> str:
        return os.path.join(self.root, _object_path(uri))

    def drivers(self):
        return ["fs"]

    def create_writer(self, driver: str):
        if driver != "fs":
            raise BackendError("invalid-argument", f"driver {driver!r} is not configured")
        os.makedirs(self.staging, exist_ok=True)
        staged = os.path.join(self.staging, f"{os.getpid()}-{os.urandom(6).hex()}-{next(_counter)}")
        try:
            fh = open(staged, "xb", buffering=256 << 10)
        except OSError as e:
            raise _io("create staging file", staged, e)
        _live_staged.add(staged)
        return _FsWriter(self.root, staged, fh)

    def read(self, uri: str, offset: int, length: int) -> bytes:
        p = self.path_of(uri)
        try:
            with open(p, "rb") as fh:
                fh.seek(offset)
                return fh.read(min(length, MAX_READ_LEN))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise BackendError("not-found", f"no object at {uri}")
        except OSError as e:
            raise _io("read", p, e)

    def stat(self, uri: str):
        p = self.path_of(uri)
        try:
            return os.path.getsize(p) if os.path.isfile(p) else None
        except OSError:
            return None

    def list_objects(self, prefix: str, cursor, limit: int):
        if not prefix.startswith(SCHEME):
            raise BackendError("invalid-argument", f"{prefix!r} is not an fs:// prefix")
        rel = prefix[len(SCHEME):]
        dirs = rel.split("/")[:-1]
        if rel.startswith("/") or "\\" in rel or "\0" in rel or any(s in ("", ".", "..") for s in dirs):
            raise BackendError("invalid-argument", f"invalid prefix {prefix!r}")
        base = "/".join(dirs) + "/" if dirs else ""
        uris = []
        for dirpath, dirnames, filenames in os.walk(os.path.join(self.root, base)):
            reldir = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            relbase = "" if reldir == "." else reldir + "/"
            if relbase == "":
                dirnames[:] = [d for d in dirnames if d != STAGING]
            uris.extend(SCHEME + relbase + n for n in filenames if "\\" not in n)
        return uri_page(uris, prefix, cursor, limit)

    def delete(self, uri: str) -> bool:
        p = self.path_of(uri)
        try:
            if os.path.isdir(p):
                return False
            os.unlink(p)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as e:
            raise _io("delete", p, e)
        d = os.path.dirname(p)
        while d != self.root and d.startswith(self.root + os.sep):
            try:
                os.rmdir(d)
            except OSError:
                break
            d = os.path.dirname(d)
        return True

    def collect_staging(self, before: int) -> int:
        """Removes the regular files in `<root>/.staging/` last modified before `before` (ms
        since the epoch), except those of this process's unfinished writers. A staged file's
        mtime is at or after the moment its write began, so writes begun at or after `before`
        are never touched; committed objects live outside `.staging/` and are never looked at."""
        limit_ns = before * 1_000_000
        removed = 0
        try:
            entries = list(os.scandir(self.staging))
        except FileNotFoundError:
            return 0
        except OSError as e:
            raise _io("list", self.staging, e)
        for ent in entries:
            if ent.path in _live_staged:
                continue
            try:
                if not ent.is_file(follow_symlinks=False):
                    continue
                if ent.stat(follow_symlinks=False).st_mtime_ns >= limit_ns:
                    continue
                os.unlink(ent.path)
                removed += 1
            except FileNotFoundError:
                continue  # removed meanwhile (committed, aborted or collected)
            except OSError as e:
                raise _io("collect", ent.path, e)
        return removed


def _to_json(r: Record) -> dict:
    out = {}
    for k, v in vars(r).items():
        out[k] = _to_json(v) if isinstance(v, Record) else v
    return out


def _from_json(d: dict) -> Record:
    r = Record()
    for k, v in d.items():
        setattr(r, k, _from_json(v) if isinstance(v, dict) else v)
    return r


class FsMetadata(MemMetadata):
    """MemMetadata persisted to one JSON file, rewritten atomically on every change:
    `{"records": [...], "pins": [{uri, holder, until}], "deletes": [{uri, until}]}`. A file
    holding a bare list of records (the format before object claims) loads without claims.
    One process at a time (no locking across processes)."""

    def __init__(self, file: str):
        super().__init__()
        self.file = file
        os.makedirs(os.path.dirname(os.path.abspath(file)), exist_ok=True)
        if os.path.exists(file):
            with open(file, encoding="utf-8") as fh:
                doc = json.load(fh)
            if isinstance(doc, list):
                doc = {"records": doc}
            for d in doc.get("records", []):
                self.records[d["id"]] = _from_json(d)
            for c in doc.get("pins", []):
                self.pins.setdefault(c["uri"], {})[c["holder"]] = c["until"]
            for c in doc.get("deletes", []):
                self.deletes[c["uri"]] = c["until"]

    def changed(self):
        tmp = f"{self.file}.{os.getpid()}.tmp"
        doc = {
            "records": [_to_json(r) for r in self.records.values()],
            "pins": [{"uri": u, "holder": h, "until": x}
                     for u, held in self.pins.items() for h, x in held.items()],
            "deletes": [{"uri": u, "until": x} for u, x in self.deletes.items()],
        }
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(doc, fh)
            os.replace(tmp, self.file)
        except OSError as e:
            raise BackendError("metadata", f"persist {self.file}: {e}")
