#!/usr/bin/env python3
"""Soak test of `artifact serve`: steady signed reads mixed with forged requests, slow and stalled
readers, half-open connections and connection bursts, against one server process, for a fixed
time. Outside CI, beside the benchmarks (scripts/soak.sh builds the binary and runs this).

    python3 scripts/soak.py --artifact target/debug/artifact [--duration 180] [--burst 1000]
        [--json OUT.json] [--serve-arg=--max-instances=16 ...] [--strict]

Python 3.11, standard library only: asyncio over raw sockets on 127.0.0.1 (no HTTP library, so
every byte the server sends or withholds is seen as such).

Setup: a temporary ARTIFACT_HOME with four artifacts put by the CLI (4 KiB, 1 MiB, 32 MiB, and a
~1 MiB CSV stored with gzip), signing keys in ARTIFACT_SIGNING_KEYS / ARTIFACT_ACTIVE_KID (as
host/tests/it/edge.rs does), `artifact serve --listen 127.0.0.1:0` (address read from the
`artifact serve: listening on http://ADDR` line on stderr), URLs signed by `artifact sign`.
Forgeries that need a valid MAC (expired, unknown id) are minted here with the same HMAC.

Load, all at once for --duration seconds:
  valid      GET/HEAD at --rate per second (Range, If-None-Match, If-Modified-Since, gzip
             negotiation, a range-signed URL) from --keepalive-clients keep-alive connections
             and one-shot `Connection: close` connections (--close-share of the requests);
             bodies are checked byte for byte.
  forged     --forged-rate per second: bad sig, unknown kid, expired, tampered id, unknown id,
             malformed id, unsigned, POST; expected 403/404/400/405.
  slow       --slow-readers downloads of the 32 MiB artifact, each read at 1-2 MB/s.
  stalled    --stalled readers: request the 32 MiB artifact, read the head, stop reading and
             hold the socket until the server lets go of it (seen in /proc) or the run ends.
  half-open  --half-open connections that never complete a request (nothing sent, a partial
             request line, partial headers, headers trickled one byte per --trickle-interval,
             a keep-alive connection idle after one response), held until the server closes
             them, then reopened.
  bursts     every --burst-interval seconds, --burst connections opened at once, then one valid
             GET sent on each at the same moment.

Every request attempt is classified: answered (by status), 503 with / without Retry-After,
unexpected 5xx (any 5xx but 503 with Retry-After), dropped (closed or reset before a complete
status line), connect failed, timed out (no head within --timeout), truncated (body cut after
the head); answers also get checked for the expected status and the exact bytes. The server is
sampled every 0.5 s (/proc/PID/status VmRSS, VmHWM, Threads; /proc/PID/fd) and its stderr is
read continuously (access-log lines vs other lines).

Output: a Markdown report on stdout (progress on stderr), optionally JSON (--json). Exit status
0 when the harness ran (the report is the product), 2 when the harness itself failed, and with
--strict 1 when any request was dropped, failed to connect, timed out, was truncated or got an
unexpected 5xx, when a forged request was answered 2xx/3xx, or when the server exited or stopped
listening during the run (this script never signals it before the end: a stop means someone else
did, or it failed).

The server gets the open-file limits of the calling shell (--server-nofile N sets both its soft
and hard limit to N, e.g. 1024 as on many hosts; the server itself raises its soft limit to the
hard one); the client raises its own to the hard limit. Everything runs on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import ctypes
import errno
import gzip
import hashlib
import hmac
import json
import math
import os
import random
import re
import resource
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"
MiB = 1 << 20
# A well-formed artifact id that names nothing (host/tests/it/edge.rs uses the same one).
GHOST_ID = "01M84EG4VHHF84MF34ZRCQAC3P"
SCHEME = "ARTIFACT-HMAC-SHA256"
LISTEN_RE = re.compile(r"^artifact serve: listening on http://(\S+):(\d+)\s*$")
ACCESS_RE = re.compile(rb'^\S+ "[A-Z]+ [^"]*" (\d{3}) ')
# Errors of the client's own making (not the server's): they are reported apart.
CLIENT_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL, errno.ENOBUFS, errno.ENOMEM}
TCP_CLOSE_WAIT, TCP_CLOSE = 8, 7

# What the request table shows, in order (JSON has every counter).
COLS = ["attempts", "answered", "503_retry_after", "503_no_retry_after", "unexpected_5xx",
        "dropped", "connect_failed", "timed_out", "truncated", "wrong_status", "corrupt"]
KIND_LABELS = {"valid": "valid (steady)", "forged": "forged", "burst": "burst GET",
               "slow": "slow reader (32 MiB)", "stalled": "stalled reader (32 MiB)"}
HELD_LABELS = {"idle": "half-open: nothing sent", "partial-line": "half-open: partial request line",
               "partial-headers": "half-open: partial headers", "trickle": "half-open: headers trickled",
               "idle-keepalive": "idle keep-alive after a response", "stalled": "stalled reader after head"}


class HarnessError(Exception):
    """The soak tool itself could not do its job (exit status 2)."""


class ConnectFailed(Exception):
    def __init__(self, reason: str, client_side: bool = False):
        super().__init__(reason)
        self.reason, self.client_side = reason, client_side


class Dropped(Exception):
    """Closed or reset before a complete status line."""


class Truncated(Exception):
    """The status line arrived, the rest of the response did not."""

    def __init__(self, reason: str, status: int):
        super().__init__(reason)
        self.status = status


class TimedOut(Exception):
    pass


def ename(e: BaseException) -> str:
    if isinstance(e, OSError) and e.errno:
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__


def now() -> float:
    return time.monotonic()


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))]


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def mint(key: bytes, kid: str, art_id: str, exp: int, method: str = "GET", rng: str = "") -> str:
    """The path `artifact sign` would print (src/sign.rs: HMAC-SHA256 over the canonical string)."""
    msg = f"{SCHEME}\n{method}\n{art_id}\n{exp}\n{rng}\n{kid}".encode()
    path = f"/v1/artifacts/{art_id}?exp={exp}&kid={kid}&sig={b64url(hmac.new(key, msg, hashlib.sha256).digest())}"
    if rng:
        path += f"&range={rng}"
    if method == "HEAD":
        path += "&method=HEAD"
    return path


def query_param(path: str, name: str) -> str:
    m = re.search(rf"[?&]{name}=([^&]*)", path)
    if not m:
        raise HarnessError(f"signed URL without {name}: {path}")
    return m.group(1)


# ---------------------------------------------------------------- setup: store, keys, server


class Fixture:
    """A temporary ARTIFACT_HOME with the artifacts, the keys and the environment to use them."""

    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="artifact-soak-")
        self.key1, self.key2, self.rogue = os.urandom(32), os.urandom(16), os.urandom(32)
        keys = f"k1:{base64.b64encode(self.key1).decode()},k2:{base64.b64encode(self.key2).decode()}"
        env = dict(os.environ)
        for k in ("ARTIFACT_STORAGE", "ARTIFACT_METADATA", "ARTIFACT_BASE_URL", "ARTIFACT_CACHE_DIR"):
            env.pop(k, None)
        env.update(ARTIFACT_HOME=os.path.join(self.dir, "store"), ARTIFACT_SIGNING_KEYS=keys,
                   ARTIFACT_ACTIVE_KID="k1")
        if args.cache_dir:
            os.makedirs(args.cache_dir, exist_ok=True)
            env["ARTIFACT_CACHE_DIR"] = os.path.abspath(args.cache_dir)
        self.env = env
        self.data: dict[str, bytes] = {}
        self.ids: dict[str, str] = {}

    def cli(self, *args: str, timeout: float = 900) -> str:
        cmd = [self.args.artifact, *args]
        try:
            p = subprocess.run(cmd, env=self.env, cwd=self.dir, capture_output=True, timeout=timeout,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"{shlex.join(cmd)}: no answer in {timeout:.0f} s") from None
        if p.returncode != 0:
            raise HarnessError(f"{shlex.join(cmd)} exited {p.returncode}: "
                               f"{p.stderr.decode(errors='replace').strip()[-2000:]}")
        return p.stdout.decode()

    def put_all(self):
        rnd = random.Random(0x50A4)
        self.data["small"] = rnd.randbytes(4096)
        self.data["mid"] = rnd.randbytes(MiB)
        self.data["big"] = rnd.randbytes(32 * MiB)
        rows, n, size = ["id,name,price,comment\n"], 0, 22
        while size < MiB:
            row = f"{n},item-{n},{n * 3 % 1000}.{n % 100:02d},{'lorem ipsum ' * (n % 5)}\n"
            rows.append(row)
            size += len(row)
            n += 1
        self.data["text"] = "".join(rows).encode()
        specs = [("small", "small.bin", "application/octet-stream", []),
                 ("mid", "mid.bin", "application/octet-stream", []),
                 ("big", "big.bin", "application/octet-stream", []),
                 ("text", "prices.csv", "text/csv", ["--compression", "gzip"])]
        for key, name, ctype, extra in specs:
            path = os.path.join(self.dir, name)
            with open(path, "wb") as f:
                f.write(self.data[key])
            out = self.cli("put", path, "--name", name, "--content-type", ctype, *extra)
            try:
                meta = json.loads(out)["meta"]
            except (ValueError, KeyError) as e:
                raise HarnessError(f"artifact put {name}: unexpected output ({e}): {out[:500]}") from None
            if meta.get("bytes") != len(self.data[key]):
                raise HarnessError(f"artifact put {name}: {meta.get('bytes')} bytes stored, not {len(self.data[key])}")
            self.ids[key] = meta["id"]
            os.remove(path)

    def sign(self, base: str, key: str, *extra: str) -> str:
        ttl = int(self.args.duration + self.args.grace + 3600)
        url = self.cli("sign", self.ids[key], "--base-url", base, "--ttl", f"{ttl}s", *extra).strip()
        if not url.startswith(base + "/v1/artifacts/"):
            raise HarnessError(f"artifact sign printed {url!r}")
        return url[len(base):]

    def cleanup(self):
        if self.args.keep_home:
            print(f"[soak] kept {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class StderrReader(threading.Thread):
    """Reads the server's stderr to the end (so the pipe never fills): finds the listening line,
    counts access-log lines by status and other lines by message shape, optionally tees to a file."""

    def __init__(self, pipe, log_path: str | None):
        super().__init__(daemon=True, name="server-stderr")
        self.pipe, self.log = pipe, open(log_path, "wb") if log_path else None
        self.lock = threading.Lock()
        self.listening = threading.Event()
        self.addr: tuple[str, int] | None = None
        self.access = collections.Counter()
        self.other = collections.Counter()
        self.other_example: dict[str, str] = {}
        self.first_lines: list[str] = []
        self.t0 = time.monotonic()
        self.after_load = False  # set when the load stops: the lines after it are counted apart
        self.other_after = 0
        self.stopped_at: float | None = None

    def run(self):
        # Byte-level work only: a server in trouble can print a million lines in seconds.
        digits = b"0123456789"
        try:
            for raw in self.pipe:
                if self.log:
                    self.log.write(b"%9.3f " % (time.monotonic() - self.t0) + raw)
                if len(self.first_lines) < 20:
                    self.first_lines.append(raw.decode("utf-8", "replace").rstrip())
                if not raw.startswith(b"artifact serve: "):
                    m = ACCESS_RE.match(raw)
                    if m:
                        with self.lock:
                            self.access[m.group(1)] += 1
                        continue
                shape = raw[:160].translate(None, digits).rstrip()
                with self.lock:
                    self.other[shape] += 1
                    if shape not in self.other_example:
                        self.other_example[shape] = raw[:300].decode("utf-8", "replace").rstrip()
                    if self.after_load:
                        self.other_after += 1
                if raw.startswith(b"artifact serve: listening on ") and self.addr is None:
                    lm = LISTEN_RE.match(raw.decode("utf-8", "replace"))
                    if lm:
                        self.addr = (lm.group(1), int(lm.group(2)))
                        self.listening.set()
                elif raw.startswith(b"artifact serve: stopped") and self.stopped_at is None:
                    self.stopped_at = time.monotonic()
        finally:
            if self.log:
                self.log.close()
            self.listening.set()

    def snapshot(self) -> dict:
        with self.lock:
            return {"access_lines": sum(self.access.values()),
                    "access_by_status": {k.decode(): v for k, v in sorted(self.access.items())},
                    "other_lines": sum(self.other.values()),
                    "other_lines_after_load": self.other_after,
                    "other_top": [{"count": c, "example": self.other_example[s]}
                                  for s, c in self.other.most_common(8)]}


def _child_setup(nofile: int | None):
    """Runs in the forked server before exec: its open-file limit, and death with the harness."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        prctl = None

    def setup():
        if nofile:
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            want = nofile if hard == resource.RLIM_INFINITY else min(nofile, hard)
            # Soft and hard: `artifact serve` raises its soft limit to the hard one at start.
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
        if prctl is not None:
            prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    return setup


class Server:
    def __init__(self, fx: Fixture, args, nofile: int | None):
        self.cmd = [args.artifact, "serve", "--listen", f"{HOST}:0", *args.serve_arg]
        self.proc = subprocess.Popen(self.cmd, env=fx.env, cwd=fx.dir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True, preexec_fn=_child_setup(nofile))
        self.pid = self.proc.pid
        self.stderr = StderrReader(self.proc.stderr, args.server_log)
        self.stderr.start()

    def wait_listening(self, timeout: float) -> tuple[str, int]:
        if not self.stderr.listening.wait(timeout) or self.stderr.addr is None:
            rc = self.proc.poll()
            lines = "\n".join(self.stderr.first_lines)
            why = f"exited with {rc}" if rc is not None else f"did not print its address in {timeout:.0f} s"
            raise HarnessError(f"{shlex.join(self.cmd)} {why}:\n{lines}")
        host, port = self.stderr.addr
        if host != HOST:
            raise HarnessError(f"server listens on {host}, not {HOST}")
        return host, port

    def limits_nofile(self) -> str:
        try:
            with open(f"/proc/{self.pid}/limits") as f:
                for line in f:
                    if line.startswith("Max open files"):
                        soft, hard = line.split()[3:5]
                        return f"{soft}/{hard}"
        except OSError:
            pass
        return "?"

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)  # its own session: the server and anything it spawned
            except OSError:
                self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.stderr.join(timeout=5)


# ---------------------------------------------------------------- /proc sampling


def read_status(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
            elif k == "Threads":
                out[k] = int(v)
    return out


def server_sockets(pid: int, server_port: int) -> tuple[int, dict[int, int], bool]:
    """(socket fds the server holds, {client port: inode} of the TCP sockets on the server port that
    the server still holds, whether it still has its listening socket). A socket the server closed
    is gone from its fds (its kernel remainder, if any, shows inode 0 in /proc/net/tcp)."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(f"{fd_dir}/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(int(link[8:-1]))
    held, listening = {}, False
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) < 10 or int(parts[1].rsplit(":", 1)[1], 16) != server_port:
                continue
            inode = int(parts[9])
            if inode and inode in inodes:
                if parts[3] == "0A":
                    listening = True
                else:
                    held[int(parts[2].rsplit(":", 1)[1], 16)] = inode
    return len(inodes), held, listening


def tcp_state(sock: socket.socket) -> int | None:
    try:
        return struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[:1])[0]
    except OSError:
        return None


# ---------------------------------------------------------------- HTTP over raw sockets


class Conn:
    __slots__ = ("sock", "reader", "writer", "port", "uses")

    def __init__(self, sock, reader, writer):
        self.sock, self.reader, self.writer, self.uses = sock, reader, writer, 0
        self.port = sock.getsockname()[1]

    def close(self):
        self.writer.transport.close()

    def abort(self):
        self.writer.transport.abort()


class Resp:
    __slots__ = ("status", "headers", "body", "keepalive")

    def __init__(self, status, headers, body, keepalive):
        self.status, self.headers, self.body, self.keepalive = status, headers, body, keepalive


def parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/(\d\.\d) (\d{3})", lines[0])
    if not m:
        raise Dropped(f"not HTTP: {lines[0][:40]!r}")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    return int(m.group(2)), m.group(1), headers


async def read_head(conn: Conn, timeout: float) -> tuple[int, str, dict[str, str]]:
    try:
        async with asyncio.timeout(timeout):
            head = await conn.reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        p = e.partial
        m = re.match(rb"HTTP/\d\.\d (\d{3})[^\r\n]*\r\n", p)
        if m:
            raise Truncated("closed inside the head", int(m.group(1))) from None
        raise Dropped("closed before any byte" if not p else "closed inside the status line") from None
    except TimeoutError:
        raise TimedOut("no response head") from None
    except asyncio.LimitOverrunError:
        raise Truncated("head too long", 0) from None
    except OSError as e:
        raise Dropped(f"{ename(e)} before the status line") from None
    return parse_head(head)


async def read_body(conn: Conn, method: str, status: int, version: str, headers: dict, timeout: float,
                    keep: bool = True) -> tuple[bytes, bool]:
    """The body (empty when not kept) and whether the connection may be reused."""
    keepalive = version == "1.1" and "close" not in headers.get("connection", "").lower()
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return b"", keepalive
    r = conn.reader
    try:
        async with asyncio.timeout(timeout):
            if "chunked" in headers.get("transfer-encoding", "").lower():
                parts = []
                while True:
                    size = int((await r.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
                    if size == 0:
                        while await r.readuntil(b"\r\n") != b"\r\n":
                            pass
                        break
                    chunk = await r.readexactly(size)
                    if keep:
                        parts.append(chunk)
                    await r.readexactly(2)
                return b"".join(parts), keepalive
            if "content-length" in headers:
                n = int(headers["content-length"])
                if keep:
                    return await r.readexactly(n), keepalive
                while n > 0:
                    chunk = await r.read(min(n, 1 << 18))
                    if not chunk:
                        raise asyncio.IncompleteReadError(b"", n)
                    n -= len(chunk)
                return b"", keepalive
            return await r.read(), False
    except asyncio.IncompleteReadError:
        raise Truncated("body cut short", status) from None
    except TimeoutError:
        raise Truncated(f"body not complete in {timeout:.0f} s", status) from None
    except (OSError, ValueError, asyncio.LimitOverrunError) as e:
        raise Truncated(f"body: {ename(e)}", status) from None


# ---------------------------------------------------------------- bookkeeping


class Stats:
    def __init__(self):
        self.kinds: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.status: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.subs: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.reasons: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.lat: dict[str, list[float]] = collections.defaultdict(list)
        self.examples: dict[str, list[dict]] = collections.defaultdict(list)
        self.aborted = collections.Counter()
        self.skipped = collections.Counter()

    def example(self, what: str, **kw):
        if len(self.examples[what]) < 5:
            self.examples[what].append(kw)


class Spec:
    """One request to make: method, path, headers, expected statuses, a check of the answer."""
    __slots__ = ("kind", "sub", "method", "path", "headers", "expect", "check")

    def __init__(self, kind, sub, method, path, headers=(), expect=(200,), check=None):
        self.kind, self.sub, self.method, self.path = kind, sub, method, path
        self.headers, self.expect, self.check = tuple(headers), frozenset(expect), check


# ---------------------------------------------------------------- the soak itself


class Soak:
    def __init__(self, args, fx: Fixture, server: Server, port: int):
        self.args, self.fx, self.server, self.port = args, fx, server, port
        self.addr = (HOST, port)
        self.hostport = f"{HOST}:{port}"
        self.stats = Stats()
        self.stop = asyncio.Event()
        self.tasks: set[asyncio.Task] = set()
        self.inflight = 0
        self.samples: list[dict] = []
        self.lags: list[float] = []
        self.held: dict[str, dict] = collections.defaultdict(
            lambda: {"opened": 0, "closed_by_server": [], "close_how": collections.Counter(),
                     "open_at_end": [], "connect_failed": 0})
        self.held_open = collections.Counter()
        self.watch: dict[int, list] = {}  # client port -> [conn, closed event, how, time watched]
        self.bursts: list[dict] = []
        self.server_exit: dict | None = None
        self.listener_gone: float | None = None
        self.interrupted = False
        self.client_errors = collections.Counter()
        self.fd_peak = self.sock_peak = 0
        self.t0 = now()
        self.t_end = None

    # ---- plumbing

    def elapsed(self) -> float:
        return now() - self.t0

    def spawn(self, coro) -> asyncio.Task:
        t = asyncio.create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self._done)
        return t

    def _done(self, t: asyncio.Task):
        self.tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            e = t.exception()
            self.client_errors[f"task failed: {type(e).__name__}: {e}"[:200]] += 1

    async def sleep(self, secs: float) -> bool:
        """Sleeps unless stopping; True when the run is stopping."""
        if secs > 0 and not self.stop.is_set():
            try:
                async with asyncio.timeout(secs):
                    await self.stop.wait()
            except TimeoutError:
                pass
        return self.stop.is_set()

    async def connect(self, rcvbuf: int | None = None, limit: int = 1 << 18) -> Conn:
        loop = asyncio.get_running_loop()
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except OSError as e:
            raise ConnectFailed(ename(e), e.errno in CLIENT_ERRNOS) from None
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if rcvbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            async with asyncio.timeout(self.args.connect_timeout):
                await loop.sock_connect(sock, self.addr)
            reader, writer = await asyncio.open_connection(sock=sock, limit=limit)
            return Conn(sock, reader, writer)
        except TimeoutError:
            sock.close()
            raise ConnectFailed("connect timeout") from None
        except OSError as e:
            sock.close()
            raise ConnectFailed(ename(e), e.errno in CLIENT_ERRNOS) from None
        except BaseException:
            sock.close()
            raise

    def request_bytes(self, method: str, path: str, headers=(), close: bool = False) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.hostport}", "User-Agent: artifact-soak"]
        lines += [f"{k}: {v}" for k, v in headers]
        if method in ("POST", "PUT"):
            lines.append("Content-Length: 0")
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    # ---- classification

    def fail(self, kind: str, sub: str, what: str, reason: str, extra: collections.Counter | None = None):
        c = self.stats.kinds[kind]
        c["attempts"] += 1
        c[what] += 1
        self.stats.subs[f"{kind}/{sub}"][what] += 1
        self.stats.reasons[f"{kind}/{what}"][reason] += 1
        self.stats.example(f"{kind}/{what}", sub=sub, reason=reason, t=round(self.elapsed(), 1))
        if extra is not None:
            extra[what] += 1

    def connect_failed(self, kind: str, sub: str, e: ConnectFailed, extra=None):
        if e.client_side:
            self.client_errors[f"connect: {e.reason}"] += 1
            self.stats.kinds[kind]["client_error"] += 1
            return
        self.fail(kind, sub, "connect_failed", e.reason, extra)

    def answered(self, spec: Spec, resp: Resp, latency: float | None, lat_key: str | None, extra=None,
                 extra_lat: list | None = None):
        kind, st = spec.kind, resp.status
        c = self.stats.kinds[kind]
        c["attempts"] += 1
        c["answered"] += 1
        self.stats.status[kind][st] += 1
        sub = self.stats.subs[f"{kind}/{spec.sub}"]
        sub["answered"] += 1
        sub[f"status {st}"] += 1
        if extra is not None:
            extra["answered"] += 1
            extra[f"status {st}"] += 1
        bad = None
        if st == 503:
            bad = "503_retry_after" if "retry-after" in resp.headers else "503_no_retry_after"
            if bad == "503_no_retry_after":
                c["unexpected_5xx"] += 1
                if extra is not None:
                    extra["unexpected_5xx"] += 1
        elif st >= 500:
            bad = "unexpected_5xx"
        elif st not in spec.expect:
            bad = "wrong_status"
            if kind == "forged" and st < 400:
                c["forged_accepted"] += 1
                self.stats.example("forged/accepted", sub=spec.sub, status=st)
        elif spec.check is not None and not spec.check(resp):
            bad = "corrupt"
        if bad:
            c[bad] += 1
            sub[bad] += 1
            if extra is not None:
                extra[bad] += 1
            ct = resp.headers.get("content-type", "")
            body = (resp.body[:200].decode("utf-8", "replace") if ("json" in ct or "text" in ct)
                    else f"{len(resp.body)} bytes of {ct or 'no content-type'}")
            self.stats.example(f"{kind}/{bad}", sub=spec.sub, status=st, t=round(self.elapsed(), 1), body=body)
        elif latency is not None and lat_key:
            self.stats.lat[lat_key].append(latency)
        if latency is not None and extra_lat is not None:  # a burst's own figures: every answer
            extra_lat.append(latency)

    def classify_exc(self, spec: Spec, e: Exception, extra=None, reused: bool = False):
        if isinstance(e, ConnectFailed):
            self.connect_failed(spec.kind, spec.sub, e, extra)
        elif isinstance(e, Dropped):
            self.fail(spec.kind, spec.sub, "dropped", str(e) + (" (reused keep-alive)" if reused else ""), extra)
            if reused:
                self.stats.kinds[spec.kind]["dropped_on_reused_conn"] += 1
        elif isinstance(e, Truncated):
            self.fail(spec.kind, spec.sub, "truncated", f"{e.status}: {e}", extra)
        elif isinstance(e, TimedOut):
            self.fail(spec.kind, spec.sub, "timed_out", str(e), extra)
        else:
            raise e

    # ---- request mixes

    def valid_spec(self) -> Spec:
        fx, u = self.fx, self.urls
        small, mid, text = fx.data["small"], fx.data["mid"], fx.data["text"]
        r = random.random() * 100
        if r < 30:
            return Spec("valid", "GET 4 KiB", "GET", u["small"], check=lambda x: x.body == small)
        if r < 38:
            return Spec("valid", "GET 1 MiB", "GET", u["mid"], check=lambda x: x.body == mid)
        if r < 48:
            a = random.randrange(0, len(mid) - 65536)
            b = a + 65535
            return Spec("valid", "GET 1 MiB Range 64 KiB", "GET", u["mid"], [("Range", f"bytes={a}-{b}")], (206,),
                        lambda x, a=a, b=b: x.body == mid[a:b + 1]
                        and x.headers.get("content-range") == f"bytes {a}-{b}/{len(mid)}")
        if r < 54:
            return Spec("valid", "GET 4 KiB Range suffix", "GET", u["small"], [("Range", "bytes=-100")], (206,),
                        lambda x: x.body == small[-100:])
        if r < 62:
            return Spec("valid", "GET If-None-Match", "GET", u["small"], [("If-None-Match", self.etag)], (304,))
        if r < 68:
            return Spec("valid", "GET If-Modified-Since", "GET", u["small"],
                        [("If-Modified-Since", self.last_modified)], (304,))
        if r < 76:
            return Spec("valid", "HEAD 4 KiB", "HEAD", u["small"],
                        check=lambda x: x.headers.get("content-length") == str(len(small)))
        if r < 80:
            return Spec("valid", "HEAD 1 MiB", "HEAD", u["mid"],
                        check=lambda x: x.headers.get("content-length") == str(len(mid)))
        if r < 88:
            return Spec("valid", "GET gzip, Accept-Encoding: gzip", "GET", u["text"], [("Accept-Encoding", "gzip")],
                        check=lambda x: x.headers.get("content-encoding") == "gzip" and _gunzip(x.body) == text)
        if r < 93:
            return Spec("valid", "GET gzip, identity", "GET", u["text"],
                        check=lambda x: "content-encoding" not in x.headers and x.body == text)
        return Spec("valid", "GET range-signed URL", "GET", u["ranged"], expect=(206,),
                    check=lambda x: x.body == mid[:65536])

    def forged_spec(self) -> Spec:
        name, method, path, expect = random.choice(self.forgeries)
        return Spec("forged", name, method, path, expect=expect)

    def setup_urls(self, base: str):
        fx = self.fx
        self.urls = {k: fx.sign(base, k) for k in ("small", "mid", "big", "text")}
        self.urls["ranged"] = fx.sign(base, "mid", "--range", "0-65535")
        small_url = self.urls["small"]
        exp = int(query_param(small_url, "exp"))
        # The signer here must agree with `artifact sign`, or the MAC-valid forgeries mean nothing.
        mine = mint(fx.key1, "k1", fx.ids["small"], exp)
        self.own_signer_ok = mine == small_url
        sig = query_param(small_url, "sig")
        flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
        past = int(time.time()) - 60
        self.forgeries = [
            ("bad sig", "GET", small_url.replace(sig, flipped), (403,)),
            ("unknown kid", "GET", mint(fx.rogue, "k9", fx.ids["small"], exp), (403,)),
            ("tampered id", "GET", small_url.replace(fx.ids["small"], fx.ids["mid"]), (403,)),
            ("tampered exp", "GET", small_url.replace(f"exp={exp}", f"exp={exp + 3600}"), (403,)),
            ("unsigned", "GET", small_url.split("?")[0], (403,)),
            ("malformed id", "GET", "/v1/artifacts/not-an-id?exp=1", (400,)),
            ("POST", "POST", small_url, (405,)),
        ]
        if self.own_signer_ok:
            self.forgeries += [
                ("expired (valid MAC)", "GET", mint(fx.key1, "k1", fx.ids["small"], past), (403,)),
                ("HEAD-only URL used for GET", "GET", mint(fx.key1, "k1", fx.ids["small"], exp, "HEAD"), (403,)),
                ("unknown id (valid MAC)", "GET", mint(fx.key1, "k1", GHOST_ID, exp), (404,)),
            ]
        else:
            print("[soak] warning: this script's HMAC does not match `artifact sign`; "
                  "skipping the forgeries that need a valid MAC", file=sys.stderr)

    async def warm_up(self):
        """The server answers a signed GET correctly, and the validators for the conditional requests."""
        deadline = now() + 60
        while True:
            try:
                conn = await self.connect()
                try:
                    conn.writer.write(self.request_bytes("GET", self.urls["small"], close=True))
                    st, ver, hs = await read_head(conn, 60)
                    body, _ = await read_body(conn, "GET", st, ver, hs, 60)
                finally:
                    conn.abort()
                break
            except (ConnectFailed, Dropped, Truncated, TimedOut) as e:
                if now() > deadline:
                    raise HarnessError(f"warm-up GET failed: {type(e).__name__}: {e}") from None
                await asyncio.sleep(1)
        if st != 200 or body != self.fx.data["small"]:
            raise HarnessError(f"warm-up GET answered {st} with {len(body)} bytes: {body[:300]!r}")
        self.etag = hs.get("etag", '"none"')
        self.last_modified = hs.get("last-modified", "Thu, 01 Jan 1970 00:00:00 GMT")

    # ---- load generators

    async def one_shot(self, spec: Spec, lat_key: str | None = None):
        """A request on its own connection (Connection: close)."""
        self.inflight += 1
        conn = None
        try:
            t = now()
            conn = await self.connect()
            conn.writer.write(self.request_bytes(spec.method, spec.path, spec.headers, close=True))
            st, ver, hs = await read_head(conn, self.args.timeout)
            body, _ = await read_body(conn, spec.method, st, ver, hs, self.args.timeout)
            self.answered(spec, Resp(st, hs, body, False), now() - t, lat_key)
        except (ConnectFailed, Dropped, Truncated, TimedOut) as e:
            self.classify_exc(spec, e)
        except asyncio.CancelledError:
            self.stats.aborted[spec.kind] += 1
            raise
        finally:
            self.inflight -= 1
            if conn is not None:
                conn.abort()

    async def keepalive_worker(self, q: asyncio.Queue):
        conn = None
        try:
            while True:
                spec = await q.get()
                if spec is None:
                    return
                t = now()
                reused = conn is not None
                try:
                    if conn is None:
                        conn = await self.connect()
                    conn.writer.write(self.request_bytes(spec.method, spec.path, spec.headers))
                    st, ver, hs = await read_head(conn, self.args.timeout)
                    body, keep = await read_body(conn, spec.method, st, ver, hs, self.args.timeout)
                    conn.uses += 1
                    key = "GET 4 KiB, keep-alive" if spec.sub == "GET 4 KiB" else None
                    self.answered(spec, Resp(st, hs, body, keep), now() - t, key)
                    if not keep:
                        conn.close()
                        conn = None
                except (ConnectFailed, Dropped, Truncated, TimedOut) as e:
                    self.classify_exc(spec, e, reused=reused)
                    if conn is not None:
                        conn.abort()
                        conn = None
                except asyncio.CancelledError:
                    self.stats.aborted[spec.kind] += 1
                    raise
        finally:
            if conn is not None:
                conn.abort()

    async def paced(self, rate: float, what: str, fire):
        """Calls fire() `rate` times a second until stopping; a late loop skips (and counts) ticks."""
        if rate <= 0:
            return
        interval = 1.0 / rate
        nxt = now()
        while not self.stop.is_set():
            nxt += interval
            delay = nxt - now()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:
                self.stats.skipped[f"{what}: loop behind"] += int(-delay / interval)
                nxt = now()
            if not self.stop.is_set():
                fire()

    def fire_valid(self, q: asyncio.Queue):
        spec = self.valid_spec()
        if random.random() < self.args.close_share:
            if self.inflight >= self.args.max_inflight:
                self.stats.skipped["valid: one-shot in flight at the cap"] += 1
                return
            key = "GET 4 KiB, new connection" if spec.sub == "GET 4 KiB" else None
            self.spawn(self.one_shot(spec, key))
        elif q.qsize() >= 4 * self.args.keepalive_clients:
            self.stats.skipped["valid: keep-alive clients all busy"] += 1
        else:
            q.put_nowait(spec)

    def fire_forged(self):
        if self.inflight >= self.args.max_inflight:
            self.stats.skipped["forged: one-shot in flight at the cap"] += 1
            return
        self.spawn(self.one_shot(self.forged_spec()))

    async def slow_reader(self, i: int):
        big = self.fx.data["big"]
        spec = Spec("slow", "GET 32 MiB at 1-2 MB/s", "GET", self.urls["big"])
        await self.sleep(i * 0.7)
        while not self.stop.is_set():
            rate = random.uniform(1e6, 2e6)
            t = now()
            conn = None
            try:
                conn = await self.connect(rcvbuf=64 << 10, limit=64 << 10)
                conn.writer.write(self.request_bytes("GET", spec.path, close=True))
                st, ver, hs = await read_head(conn, self.args.timeout)
                if st != 200 or "content-length" not in hs:
                    body, _ = await read_body(conn, "GET", st, ver, hs, self.args.timeout)
                    self.answered(spec, Resp(st, hs, body, False), None, None)
                    await self.sleep(1)
                    continue
                n, got, same, t_body = int(hs["content-length"]), 0, True, now()
                while got < n:
                    if self.stop.is_set():
                        raise asyncio.CancelledError
                    try:
                        async with asyncio.timeout(self.args.timeout):
                            chunk = await conn.reader.read(min(65536, n - got))
                    except TimeoutError:
                        raise Truncated(f"stalled at {got} of {n} bytes after {now() - t:.1f} s", st) from None
                    except OSError as e:
                        raise Truncated(f"{ename(e)} at {got} of {n} bytes after {now() - t:.1f} s", st) from None
                    if not chunk:
                        raise Truncated(f"closed at {got} of {n} bytes after {now() - t:.1f} s", st)
                    same = same and chunk == big[got:got + len(chunk)]
                    got += len(chunk)
                    delay = t_body + got / rate - now()
                    if delay > 0:
                        await asyncio.sleep(delay)
                resp = Resp(st, hs, b"", False)
                spec.check = (lambda _x, same=same: same)
                self.answered(spec, resp, now() - t, "slow reader, whole 32 MiB (s)")
            except (ConnectFailed, Dropped, Truncated, TimedOut) as e:
                self.classify_exc(spec, e)
                await self.sleep(1)
            except asyncio.CancelledError:
                self.stats.aborted["slow"] += 1
                if self.stop.is_set():
                    return
                raise
            finally:
                if conn is not None:
                    conn.abort()

    async def hold(self, variant: str, conn: Conn, t_open: float, trickle: bool = False) -> bool:
        """Holds a connection that waits for the server; True when the server closed it."""
        h = self.held[variant]
        self.held_open[variant] += 1
        read = asyncio.ensure_future(conn.reader.read(65536))
        stopping = asyncio.ensure_future(self.stop.wait())
        try:
            while True:
                done, _ = await asyncio.wait({read, stopping}, return_when=asyncio.FIRST_COMPLETED,
                                             timeout=self.args.trickle_interval if trickle else None)
                if read in done:
                    try:
                        data = read.result()
                        m = re.match(rb"HTTP/\d\.\d (\d{3})", data)
                        how = f"answered {m.group(1).decode()}" if m else ("FIN" if not data else "other bytes")
                    except OSError as e:
                        how = ename(e)
                    h["closed_by_server"].append(now() - t_open)
                    h["close_how"][how] += 1
                    return True
                if stopping in done:
                    h["open_at_end"].append(now() - t_open)
                    return False
                try:
                    conn.writer.write(b"a")
                    await conn.writer.drain()
                except OSError as e:
                    h["closed_by_server"].append(now() - t_open)
                    h["close_how"][f"{ename(e)} on write"] += 1
                    return True
        finally:
            self.held_open[variant] -= 1
            read.cancel()
            stopping.cancel()

    async def half_open(self, i: int, variant: str):
        small = self.urls["small"]
        prefixes = {
            "idle": b"",
            "partial-line": f"GET {small[:40]}".encode(),
            "partial-headers": f"GET {small} HTTP/1.1\r\nHost: {self.hostport}\r\nUser-Agent: soak\r\n".encode(),
            "trickle": f"GET {small} HTTP/1.1\r\nHost: {self.hostport}\r\nX-Trickle: ".encode(),
        }
        await self.sleep(i * self.args.ramp / max(1, self.args.half_open))
        while not self.stop.is_set():
            t_open = now()
            conn = None
            try:
                conn = await self.connect(limit=1 << 16)
                if variant == "idle-keepalive":
                    spec = Spec("valid", "GET 4 KiB then idle", "GET", small, check=lambda x: x.body == self.fx.data["small"])
                    conn.writer.write(self.request_bytes("GET", small))
                    st, ver, hs = await read_head(conn, self.args.timeout)
                    body, keep = await read_body(conn, "GET", st, ver, hs, self.args.timeout)
                    self.answered(spec, Resp(st, hs, body, keep), None, None)
                    t_open = now()
                    self.held[variant]["opened"] += 1
                    if not keep:
                        self.held[variant]["close_how"]["not keep-alive"] += 1
                        await self.sleep(5)
                        continue
                else:
                    self.held[variant]["opened"] += 1
                    if prefixes[variant]:
                        conn.writer.write(prefixes[variant])
                if not await self.hold(variant, conn, t_open, trickle=variant == "trickle"):
                    return
            except ConnectFailed as e:
                if e.client_side:
                    self.client_errors[f"connect: {e.reason}"] += 1
                else:
                    self.held[variant]["connect_failed"] += 1
                    self.held[variant]["close_how"][f"connect failed: {e.reason}"] += 1
                await self.sleep(1)
            except (Dropped, Truncated, TimedOut) as e:
                self.classify_exc(Spec("valid", "GET 4 KiB then idle", "GET", small), e)
                await self.sleep(1)
            finally:
                if conn is not None:
                    conn.abort()
            await self.sleep(0.2)

    async def stalled_reader(self, i: int):
        spec = Spec("stalled", "GET 32 MiB, head only", "GET", self.urls["big"])
        await self.sleep(1 + i * 0.5)
        while not self.stop.is_set():
            conn = None
            try:
                t_open = now()
                conn = await self.connect(rcvbuf=16 << 10, limit=16 << 10)
                conn.writer.write(self.request_bytes("GET", spec.path))
                st, _, hs = await read_head(conn, self.args.timeout)
                self.answered(spec, Resp(st, hs, b"", False), now() - t_open, None)
                if st != 200:
                    await self.sleep(1)
                    continue
                h = self.held["stalled"]
                h["opened"] += 1
                self.held_open["stalled"] += 1
                closed = asyncio.Event()
                entry = [conn, closed, None, now()]
                self.watch[conn.port] = entry
                stopping = asyncio.ensure_future(self.stop.wait())
                waiting = asyncio.ensure_future(closed.wait())
                try:
                    await asyncio.wait({stopping, waiting}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stopping.cancel()
                    waiting.cancel()
                    self.watch.pop(conn.port, None)
                    self.held_open["stalled"] -= 1
                if closed.is_set():
                    h["closed_by_server"].append(now() - t_open)
                    h["close_how"][entry[2]] += 1
                else:
                    h["open_at_end"].append(now() - t_open)
                    return
            except (ConnectFailed, Dropped, Truncated, TimedOut) as e:
                self.classify_exc(spec, e)
                await self.sleep(1)
            finally:
                if conn is not None:
                    conn.abort()
            await self.sleep(0.5)

    async def burst(self, idx: int, n: int):
        rec = {"n": idx + 1, "at_s": round(self.elapsed(), 1), "conns": n}
        counts = collections.Counter()
        lats: list[float] = []
        t0 = now()
        spec = Spec("burst", "GET 4 KiB", "GET", self.urls["small"], check=lambda x: x.body == self.fx.data["small"])

        async def open_one():
            try:
                return await self.connect()
            except ConnectFailed as e:
                self.connect_failed("burst", spec.sub, e, counts)
                return None

        conns = await asyncio.gather(*(open_one() for _ in range(n)))
        rec["connect_s"] = round(now() - t0, 2)
        data = self.request_bytes("GET", spec.path, close=True)

        async def one(conn: Conn):
            try:
                t = now()
                conn.writer.write(data)
                st, ver, hs = await read_head(conn, self.args.timeout)
                body, _ = await read_body(conn, "GET", st, ver, hs, self.args.timeout)
                self.answered(spec, Resp(st, hs, body, False), now() - t, "burst GET 4 KiB (from send)", counts, lats)
            except (Dropped, Truncated, TimedOut) as e:
                self.classify_exc(spec, e, counts)
            except asyncio.CancelledError:
                self.stats.aborted["burst"] += 1
                raise
            finally:
                conn.abort()

        try:
            await asyncio.gather(*(one(c) for c in conns if c is not None))
        finally:
            for c in conns:
                if c is not None:
                    c.abort()
            rec.update(took_s=round(now() - t0, 2), p50_ms=_ms(pct(lats, 50)), p99_ms=_ms(pct(lats, 99)),
                       max_ms=_ms(max(lats) if lats else None), counts=dict(counts))
            self.bursts.append(rec)

    async def burst_scheduler(self):
        if self.args.burst <= 0:
            return
        at = min(self.args.burst_interval / 2, self.args.duration / 3)
        idx = 0
        while at < self.args.duration - 2:
            if await self.sleep(self.t0 + at - now()):
                return
            self.spawn(self.burst(idx, self.args.burst))
            idx += 1
            at += self.args.burst_interval

    # ---- observation

    def _sample(self, with_sockets: bool) -> dict:
        s = {"t": round(self.elapsed(), 2)}
        pid = self.server.pid
        try:
            s.update(read_status(pid))
            s["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
            if with_sockets:
                s["sockets"], s["held"], s["listening"] = server_sockets(pid, self.port)
        except (OSError, ValueError, StopIteration):
            s["gone"] = True
        return s

    async def sampler(self):
        loop = asyncio.get_running_loop()
        tick = 0
        while True:
            t = now()
            s = await loop.run_in_executor(None, self._sample, tick % 2 == 0)
            tick += 1
            held = s.pop("held", None)
            if s.pop("listening", True) is False and self.listener_gone is None and not self.stop.is_set():
                self.listener_gone = round(self.elapsed(), 1)
                print(f"[soak] the server no longer listens (at {self.listener_gone} s)", file=sys.stderr)
            if "gone" not in s:
                self.samples.append(s)
                self.fd_peak = max(self.fd_peak, s.get("fds", 0))
                self.sock_peak = max(self.sock_peak, s.get("sockets", 0))
            rc = self.server.proc.poll()
            if rc is not None:
                if self.server_exit is None:
                    self.server_exit = {"code": rc, "at_s": round(self.elapsed(), 1)}
                    print(f"[soak] the server exited with {rc} at {self.elapsed():.1f} s", file=sys.stderr)
                self.stop.set()
                return
            for port, entry in list(self.watch.items()):
                conn, closed, _, t_reg = entry
                if closed.is_set():
                    continue
                how = None
                st = tcp_state(conn.sock)
                if conn.reader.exception() is not None or conn.writer.transport.is_closing():
                    how = "reset"
                elif st == TCP_CLOSE_WAIT:
                    how = "FIN"
                elif st == TCP_CLOSE:
                    how = "reset"
                elif held is not None and t_reg < t and port not in held:  # sampled after it was watched
                    how = "server closed its socket (fd released)"
                if how:
                    entry[2] = how
                    closed.set()
            await asyncio.sleep(max(0.05, 0.5 - (now() - t)))

    async def lag_monitor(self):
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.1)
            self.lags.append(time.perf_counter() - t - 0.1)

    async def progress(self):
        if self.args.quiet:
            return
        while not await self.sleep(5):
            k = self.stats.kinds
            s = self.samples[-1] if self.samples else {}
            bad = sum(k[x][y] for x in k for y in ("dropped", "unexpected_5xx", "timed_out", "truncated", "connect_failed"))
            print(f"[soak] {self.elapsed():5.0f}s  valid {k['valid']['attempts']}  forged {k['forged']['attempts']}  "
                  f"burst {k['burst']['attempts']}  no-answer/5xx {bad}  held open {sum(self.held_open.values())}  "
                  f"rss {s.get('VmRSS', 0) / MiB:.0f} MiB  fds {s.get('fds', 0)}", file=sys.stderr)

    # ---- the run

    async def run(self):
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()

        def on_signal(sig):
            if sig == signal.SIGINT and not self.stop.is_set():
                print("\n[soak] interrupted: stopping, the report follows (Ctrl-C again to abort)", file=sys.stderr)
                self.interrupted = True
                self.stop.set()
            else:
                main.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)

        base = f"http://{self.hostport}"
        self.setup_urls(base)
        await self.warm_up()
        self.t0 = now()
        background = [asyncio.create_task(c) for c in (self.sampler(), self.lag_monitor(), self.progress())]
        q: asyncio.Queue = asyncio.Queue()
        workers = [asyncio.create_task(self.keepalive_worker(q)) for _ in range(self.args.keepalive_clients)]
        gens = [self.spawn(self.paced(self.args.rate, "valid", lambda: self.fire_valid(q))),
                self.spawn(self.paced(self.args.forged_rate, "forged", self.fire_forged)),
                self.spawn(self.burst_scheduler())]
        gens += [self.spawn(self.slow_reader(i)) for i in range(self.args.slow_readers)]
        gens += [self.spawn(self.stalled_reader(i)) for i in range(self.args.stalled)]
        variants = ["idle", "partial-line", "partial-headers", "trickle", "idle-keepalive"]
        gens += [self.spawn(self.half_open(i, variants[i % len(variants)])) for i in range(self.args.half_open)]
        try:
            await self.sleep(self.args.duration)
            self.stop.set()
            self.t_end = now()
            self.server.stderr.after_load = True
            # In-flight requests and bursts may finish within the grace period; then they are cut.
            for _ in workers:
                q.put_nowait(None)
            pending = set(self.tasks) | set(workers)
            if pending:
                _, pending = await asyncio.wait(pending, timeout=self.args.grace)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self.samples.append(self._sample(False))
        finally:
            for t in [*background, *workers, *self.tasks]:
                t.cancel()
            await asyncio.gather(*background, *workers, *self.tasks, return_exceptions=True)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        del gens


def _gunzip(b: bytes) -> bytes | None:
    try:
        return gzip.decompress(b)
    except (OSError, EOFError):
        return None


def _ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1000, 1)


# ---------------------------------------------------------------- report


def build_result(args, soak: Soak, server: Server, client_nofile: tuple, server_nofile: str, wall: float) -> dict:
    st = soak.stats
    kinds = {}
    for kind in ("valid", "forged", "burst", "slow", "stalled"):
        c = st.kinds.get(kind, collections.Counter())
        kinds[kind] = {**{k: c.get(k, 0) for k in COLS}, "forged_accepted": c.get("forged_accepted", 0),
                       "dropped_on_reused_conn": c.get("dropped_on_reused_conn", 0),
                       "client_error": c.get("client_error", 0), "aborted_at_end": st.aborted.get(kind, 0),
                       "by_status": {str(k): v for k, v in sorted(st.status.get(kind, {}).items())}}
    lat = {}
    small = st.lat.get("GET 4 KiB, keep-alive", []) + st.lat.get("GET 4 KiB, new connection", [])
    for key, vals in [("GET 4 KiB, all (steady)", small), *sorted(st.lat.items())]:
        scale = 1 if key.endswith("(s)") else 1000
        lat[key] = {"n": len(vals), "p50": _r(pct(vals, 50), scale), "p99": _r(pct(vals, 99), scale),
                    "max": _r(max(vals) if vals else None, scale), "unit": "s" if scale == 1 else "ms"}
    held = {}
    for v in ("idle", "partial-line", "partial-headers", "trickle", "idle-keepalive", "stalled"):
        h = soak.held.get(v)
        if h is None:
            continue
        cl, op = h["closed_by_server"], h["open_at_end"]
        held[v] = {"opened": h["opened"], "closed_by_server": len(cl), "close_s_p50": _r(pct(cl, 50), 1),
                   "close_s_max": _r(max(cl) if cl else None, 1), "close_how": dict(h["close_how"]),
                   "open_at_end": len(op), "open_at_end_max_s": _r(max(op) if op else None, 1),
                   "connect_failed": h["connect_failed"]}
    samples = [s for s in soak.samples if "VmRSS" in s]
    server_res = {
        "pid": server.pid, "nofile": server_nofile,
        "rss_peak": max((s["VmRSS"] for s in samples), default=None),
        "rss_start": samples[0]["VmRSS"] if samples else None,
        "rss_end": samples[-1]["VmRSS"] if samples else None,
        "hwm": max((s.get("VmHWM", 0) for s in samples), default=None),
        "fds_peak": soak.fd_peak or None, "fds_start": samples[0].get("fds") if samples else None,
        "fds_end": samples[-1].get("fds") if samples else None, "socket_fds_peak": soak.sock_peak or None,
        "threads_peak": max((s.get("Threads", 0) for s in samples), default=None),
        "exit": soak.server_exit, "stderr": server.stderr.snapshot(),
        "listener_gone_at_s": soak.listener_gone,
        "printed_stopped_at_s": (None if server.stderr.stopped_at is None
                                 else round(server.stderr.stopped_at - soak.t0, 1)),
    }
    tot = collections.Counter()
    for k in kinds.values():
        for c in COLS + ["forged_accepted"]:
            tot[c] += k[c]
    failures = {k: tot[k] for k in ("dropped", "connect_failed", "timed_out", "truncated", "unexpected_5xx",
                                    "forged_accepted") if tot[k]}
    if soak.server_exit:
        failures["server_exit"] = 1
    if soak.listener_gone is not None:
        failures["server_stopped_listening"] = 1
    lags = soak.lags
    return {
        "config": {"artifact": args.artifact, "server_cmd": server.cmd, "duration_s": args.duration,
                   "load_s": round((soak.t_end or now()) - soak.t0, 1), "wall_s": round(wall, 1),
                   "rate": args.rate, "forged_rate": args.forged_rate, "keepalive_clients": args.keepalive_clients,
                   "close_share": args.close_share, "burst": args.burst, "burst_interval": args.burst_interval,
                   "half_open": args.half_open, "stalled": args.stalled, "slow_readers": args.slow_readers,
                   "timeout_s": args.timeout, "client_nofile": f"{client_nofile[0]}/{client_nofile[1]}",
                   "interrupted": soak.interrupted, "own_signer_matches_cli": soak.own_signer_ok},
        "requests": kinds, "total": dict(tot), "latency": lat, "held": held, "bursts": soak.bursts,
        "server": server_res,
        "client": {"loop_lag_p99_ms": _ms(pct(lags, 99)), "loop_lag_max_ms": _ms(max(lags) if lags else None),
                   "skipped": dict(soak.stats.skipped), "errors": dict(soak.client_errors)},
        "reasons": {k: dict(v) for k, v in sorted(st.reasons.items())},
        "by_sub": {k: dict(v) for k, v in sorted(st.subs.items())},
        "examples": dict(st.examples),
        "strict_failures": failures,
        "samples": soak.samples,
    }


def _r(x, scale):
    return None if x is None else round(x * scale, 1 if scale != 1 else 2)


def _mib(b) -> str:
    return "–" if b is None else f"{b / MiB:.1f} MiB"


def _v(x) -> str:
    return "–" if x is None else f"{x:g}" if isinstance(x, float) else str(x)


def render(r: dict) -> str:
    c, out = r["config"], []
    srv = r["server"]
    out.append("## artifact serve soak\n")
    out.append(f"`{shlex.join(c['server_cmd'])}` (pid {srv['pid']}, open files {srv['nofile']}); "
               f"load {c['load_s']} s of {c['duration_s']} s asked, {c['wall_s']} s wall; "
               f"{c['rate']:g} valid/s ({c['keepalive_clients']} keep-alive clients, {c['close_share']:.0%} one-shot), "
               f"{c['forged_rate']:g} forged/s, burst {c['burst']} every {c['burst_interval']:g} s, "
               f"{c['half_open']} half-open, {c['stalled']} stalled, {c['slow_readers']} slow readers; "
               f"client timeout {c['timeout_s']:g} s, client open files {c['client_nofile']}."
               + (" **Interrupted.**" if c["interrupted"] else "") + "\n")
    if srv["exit"]:
        out.append(f"**The server exited with status {srv['exit']['code']} at {srv['exit']['at_s']} s.**\n")
    if srv["listener_gone_at_s"] is not None:
        out.append(f"**The server stopped listening at {srv['listener_gone_at_s']} s** (it was not told to by "
                   "this script; `artifact serve: stopped` printed at "
                   f"{_v(srv['printed_stopped_at_s'])} s): later connections are refused.\n")
    out.append("| requests | attempts | answered | by status | 503 + Retry-After | 503 without | unexpected 5xx "
               "| dropped | connect failed | timed out | truncated | wrong status | wrong bytes |")
    out.append("|---|" + "---:|" * 2 + "---|" + "---:|" * 9)
    tot = collections.Counter()
    for kind, k in r["requests"].items():
        if not k["attempts"] and not k["aborted_at_end"]:
            continue
        by = " ".join(f"{s}×{n}" for s, n in k["by_status"].items()) or "–"
        cells = [k[col] for col in COLS]
        for col in COLS:
            tot[col] += k[col]
        label = KIND_LABELS[kind]
        if kind == "forged" and k["forged_accepted"]:
            label += f" (**{k['forged_accepted']} accepted**)"
        out.append(f"| {label} | {cells[0]} | {cells[1]} | {by} | " + " | ".join(str(x) for x in cells[2:]) + " |")
    cells = [str(tot[col]) for col in COLS]
    out.append(f"| **total** | {cells[0]} | {cells[1]} | | " + " | ".join(cells[2:]) + " |")
    out.append("")
    aborted = {KIND_LABELS[k]: v["aborted_at_end"] for k, v in r["requests"].items() if v["aborted_at_end"]}
    if aborted:
        out.append("Cut by the end of the run (not counted above): "
                   + ", ".join(f"{k} ×{n}" for k, n in aborted.items()) + ".\n")
    reasons = [(k, v) for k, v in r["reasons"].items() if not k.endswith("/answered")]
    if reasons:
        out.append("Why: " + "; ".join(f"{k}: " + ", ".join(f"{why} ×{n}" for why, n in
                                                             sorted(v.items(), key=lambda x: -x[1])[:4])
                                       for k, v in reasons) + ".\n")
    wrong = {k: v for k, v in r["examples"].items()
             if k.endswith(("/wrong_status", "/corrupt", "/accepted", "/unexpected_5xx", "/503_no_retry_after"))}
    for k, v in wrong.items():
        e = v[0]
        out.append(f"- {k}: e.g. {e.get('sub')} → {e.get('status')} {e.get('body', '')[:120]!r}")
    if wrong:
        out.append("")
    out.append("| latency (answered as expected) | n | p50 | p99 | max |")
    out.append("|---|---:|---:|---:|---:|")
    for key, l in r["latency"].items():
        if l["n"]:
            u = " " + l["unit"]
            out.append(f"| {key.replace(' (s)', '')} | {l['n']} | {_v(l['p50'])}{u} | {_v(l['p99'])}{u} | {_v(l['max'])}{u} |")
    out.append("")
    if r["held"]:
        out.append("| held connections | opened | closed by server | after (p50 / max) | how | still open at end "
                   "| held at end (max) |")
        out.append("|---|---:|---:|---|---|---:|---:|")
        for v, h in r["held"].items():
            how = ", ".join(f"{k} ×{n}" for k, n in h["close_how"].items()) or "–"
            after = "–" if h["close_s_p50"] is None else f"{h['close_s_p50']:g} s / {h['close_s_max']:g} s"
            held_end = "–" if h["open_at_end_max_s"] is None else f"{h['open_at_end_max_s']:g} s"
            out.append(f"| {HELD_LABELS[v]} | {h['opened']} | {h['closed_by_server']} | {after} | {how} | "
                       f"{h['open_at_end']} | {held_end} |")
        out.append("")
    if r["bursts"]:
        out.append("| burst | at | conns | connected in | answered | by status | dropped | connect failed | timed out "
                   "| 5xx unexpected | p50 (answers) | p99 | took |")
        out.append("|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for b in sorted(r["bursts"], key=lambda b: b["n"]):
            cn = b["counts"]
            by = " ".join(f"{k[7:]}×{n}" for k, n in sorted(cn.items()) if k.startswith("status "))
            out.append(f"| {b['n']} | {b['at_s']:g} s | {b['conns']} | {b['connect_s']:g} s | {cn.get('answered', 0)} | "
                       f"{by or '–'} | {cn.get('dropped', 0)} | {cn.get('connect_failed', 0)} | {cn.get('timed_out', 0)} "
                       f"| {cn.get('unexpected_5xx', 0)} | {_v(b['p50_ms'])} ms | {_v(b['p99_ms'])} ms | {b['took_s']:g} s |")
        out.append("")
    se = srv["stderr"]
    out.append("| server | start | end | peak |")
    out.append("|---|---:|---:|---:|")
    out.append(f"| RSS | {_mib(srv['rss_start'])} | {_mib(srv['rss_end'])} | {_mib(srv['rss_peak'])} (VmHWM {_mib(srv['hwm'])}) |")
    out.append(f"| open fds | {_v(srv['fds_start'])} | {_v(srv['fds_end'])} | {_v(srv['fds_peak'])} "
               f"({_v(srv['socket_fds_peak'])} sockets) |")
    out.append(f"| threads | | | {_v(srv['threads_peak'])} |")
    out.append("")
    acc = " ".join(f"{k}×{n}" for k, n in se["access_by_status"].items()) or "–"
    out.append(f"Server stderr: {se['access_lines']} access-log lines ({acc}), {se['other_lines']} other lines "
               f"({se['other_lines_after_load']} of them after the load stopped, while this script closed its "
               "connections)" + (":" if se["other_top"] else "."))
    for o in se["other_top"]:
        out.append(f"- ×{o['count']}: `{o['example'][:200]}`")
    out.append("")
    cl = r["client"]
    note = f"Client: event-loop lag p99 {_v(cl['loop_lag_p99_ms'])} ms, max {_v(cl['loop_lag_max_ms'])} ms"
    if cl["skipped"]:
        note += "; not sent because the client's caps were full (in-flight one-shots, keep-alive queue): " + ", ".join(f"{k} ×{n}" for k, n in cl["skipped"].items())
    if cl["errors"]:
        note += "; **client errors** (not the server's): " + ", ".join(f"{k} ×{n}" for k, n in cl["errors"].items())
    if not c["own_signer_matches_cli"]:
        note += "; the MAC-valid forgeries were skipped (this script's HMAC differs from `artifact sign`)"
    out.append(note + ".\n")
    f = r["strict_failures"]
    out.append("`--strict`: " + ("would fail: " + ", ".join(f"{k} {n}" for k, n in f.items()) if f else "would pass")
               + ".")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("--artifact", required=True, help="the `artifact` binary")
    p.add_argument("--duration", type=float, default=180, help="seconds of load (default 180)")
    p.add_argument("--burst", type=int, default=1000, help="connections per burst, 0 for none (default 1000)")
    p.add_argument("--burst-interval", type=float, default=20, help="seconds between bursts (default 20)")
    p.add_argument("--json", metavar="OUT.json", help="also write the full result (with the /proc samples) here")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when a request was dropped, failed to connect, timed out, was truncated or got an "
                        "unexpected 5xx, a forgery was accepted, or the server exited or stopped listening")
    p.add_argument("--serve-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for `artifact serve`, repeatable: --serve-arg=--max-instances=16")
    p.add_argument("--rate", type=float, default=40, help="valid requests per second (default 40)")
    p.add_argument("--forged-rate", type=float, default=8, help="forged requests per second (default 8)")
    p.add_argument("--keepalive-clients", type=int, default=8, help="keep-alive connections for valid requests (default 8)")
    p.add_argument("--close-share", type=float, default=0.3,
                   help="share of valid requests sent on their own connection (default 0.3)")
    p.add_argument("--max-inflight", type=int, default=128,
                   help="one-shot requests in flight at most; past it ticks are skipped and counted (default 128)")
    p.add_argument("--slow-readers", type=int, default=4, help="32 MiB downloads read at 1-2 MB/s (default 4)")
    p.add_argument("--stalled", type=int, default=8, help="readers that stop after the head (default 8)")
    p.add_argument("--half-open", type=int, default=250, help="connections that never finish a request (default 250)")
    p.add_argument("--trickle-interval", type=float, default=5, help="seconds between trickled header bytes (default 5)")
    p.add_argument("--ramp", type=float, default=3, help="seconds over which half-open connections are opened (default 3)")
    p.add_argument("--timeout", type=float, default=30, help="client wait for a response head, and for a body (default 30)")
    p.add_argument("--connect-timeout", type=float, default=10, help="client wait for a connection (default 10)")
    p.add_argument("--grace", type=float, default=10, help="seconds in-flight requests get after the load stops (default 10)")
    p.add_argument("--server-nofile", type=int,
                   help="the server's open-file limit, soft and hard (default: this shell's, before the client raises its own)")
    p.add_argument("--cache-dir", help="compiled-code cache to reuse across runs (default: inside the temporary home)")
    p.add_argument("--startup-timeout", type=float, default=600, help="wait for the server's address (default 600)")
    p.add_argument("--server-log", metavar="PATH", help="also copy the server's stderr here, each line prefixed with seconds since its start")
    p.add_argument("--keep-home", action="store_true", help="keep the temporary ARTIFACT_HOME")
    p.add_argument("--seed", type=int, help="seed of the request mix")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    a = p.parse_args(argv)
    if a.duration <= 0:
        p.error("--duration must be positive")
    if not (os.path.isfile(a.artifact) and os.access(a.artifact, os.X_OK)):
        p.error(f"--artifact {a.artifact}: not an executable file")
    a.artifact = os.path.abspath(a.artifact)
    return a


def raise_nofile() -> tuple[int, int, int]:
    """Raises this process's soft open-file limit to the hard one; returns (old soft, soft, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    except (ValueError, OSError):
        new = soft
    return soft, new, hard


def main(argv=None) -> int:
    if sys.version_info < (3, 11):
        print("soak.py needs Python 3.11 or newer (asyncio.timeout)", file=sys.stderr)
        return 2
    args = parse_args(argv)
    if args.seed is not None:
        random.seed(args.seed)
    old_soft, soft, hard = raise_nofile()
    need = args.burst + args.half_open + args.stalled + args.slow_readers + args.keepalive_clients + args.max_inflight + 64
    if soft < need:
        print(f"[soak] warning: open-file limit {soft} is below the {need} connections this run may hold", file=sys.stderr)
    fx = Fixture(args)
    server = None
    started = now()
    try:
        print(f"[soak] putting artifacts into {fx.dir}", file=sys.stderr)
        fx.put_all()
        server = Server(fx, args, args.server_nofile or old_soft)
        _, port = server.wait_listening(args.startup_timeout)
        print(f"[soak] server pid {server.pid} on {HOST}:{port}; {args.duration:g} s of load", file=sys.stderr)
        server_nofile = server.limits_nofile()
        soak = Soak(args, fx, server, port)
        try:
            asyncio.run(soak.run())
        except asyncio.CancelledError:
            print("[soak] aborted", file=sys.stderr)
            return 2
        result = build_result(args, soak, server, (soft, hard), server_nofile, now() - started)
    except HarnessError as e:
        print(f"[soak] harness failure: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("[soak] aborted", file=sys.stderr)
        return 2
    finally:
        if server is not None:
            server.kill()
        fx.cleanup()
    result["server"]["stderr"] = server.stderr.snapshot()  # after the reader drained the pipe
    report = render(result)
    sys.stdout.write(report)
    sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
    return 1 if args.strict and result["strict_failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
