"""Shared harness for raftkv's end-to-end tests.

- RaftkvServer / RedisServer: real processes on 127.0.0.1 with free ports
  and a temporary directory each. Every process started here is killed at
  exit, whatever happens (atexit + explicit stop()).
- Resp: a raw RESP2/RESP3 client that sends one command as a multibulk and
  parses exactly one reply into typed Python values.
- Tap, free_ports, tmpdir, track, wait_for: tests/testlib.py's, shared
  with the other harnesses.

The raftkv-server binary comes from $RAFTKV_SERVER or argv[1].
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib  # noqa: E402

SERVER = os.environ.get("RAFTKV_SERVER") or (
    sys.argv[1] if len(sys.argv) > 1 else None)
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

# Every process started here is tracked, and every temporary directory made
# here is removed, at exit (testlib).
Tap, free_ports, tmpdir, track, wait_for = (testlib.Tap, testlib.free_ports, testlib.tmpdir,
                                            testlib.track, testlib.wait_for)


def ping_ok(port, timeout=1.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

class StartupError(AssertionError):
    pass


class RaftkvServer:
    """One raftkv-server process. The data dir survives restarts; ports are
    kept across restarts (re-picked only if the first start collides)."""

    def __init__(self, data_dir=None, extra=None, env=None, binary=None):
        assert SERVER or binary, "set RAFTKV_SERVER or pass the binary as argv[1]"
        self.binary = binary or SERVER
        self.root = tmpdir("raftkv-it-")
        self.data_dir = data_dir or os.path.join(self.root, "data")
        self.log = os.path.join(self.root, "server.log")
        self.extra = list(extra or [])
        self.env = env
        self.proc = None
        self.port = self.peer_port = self.http_port = None
        self._pick_ports()

    def _pick_ports(self):
        self.port, self.peer_port, self.http_port = free_ports(3)

    def args(self):
        return [self.binary, "--id", "1", "--data-dir", self.data_dir,
                "--redis", "127.0.0.1:%d" % self.port,
                "--peer", "127.0.0.1:%d" % self.peer_port,
                "--http", "127.0.0.1:%d" % self.http_port] + self.extra

    def spawn(self, args=None, env=None):
        """Starts the process without waiting for it."""
        e = dict(os.environ)
        if self.env:
            e.update(self.env)
        if env:
            e.update(env)
        with open(self.log, "ab") as f:
            f.write(b"--- start\n")
        self.proc = track(subprocess.Popen(
            args or self.args(), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"), env=e))
        return self.proc

    def start(self, timeout=10, retries=3):
        """Starts and waits until PING answers; re-picks ports on collision."""
        for attempt in range(retries):
            self.spawn()
            end = time.time() + timeout
            while time.time() < end:
                if self.proc.poll() is not None:
                    break
                if ping_ok(self.port):
                    return self
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.kill9()
                raise StartupError("raftkv did not answer PING within %ss\n%s"
                                   % (timeout, self.log_tail()))
            tail = self.log_tail()
            if "in use" in tail or "EADDRINUSE" in tail or "address already" in tail.lower():
                if attempt + 1 < retries:
                    self._pick_ports()
                    continue
            raise StartupError("raftkv exited with %s at startup\n%s"
                               % (self.proc.returncode, tail))
        raise StartupError("raftkv could not start")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Graceful stop; returns the exit code (kills after timeout)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("raftkv did not exit within %ss of signal %d"
                                     % (timeout, sig))
        return self.proc.returncode

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self):
        try:
            self.kill9()
        finally:
            pass

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=25):
        return "\n".join(self.log_text().splitlines()[-n:])

    def log_events(self):
        out = []
        for line in self.log_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def client(self, **kw):
        import redis
        kw.setdefault("socket_timeout", 30)
        kw.setdefault("socket_connect_timeout", 5)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def resp(self, timeout=30):
        return Resp(self.port, timeout=timeout)

    def info(self, section="raft"):
        return parse_info(self.resp().call_close("INFO", section))

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


class RedisServer:
    """A reference redis-server without persistence."""

    def __init__(self, extra=None):
        self.root = tmpdir("raftkv-it-redis-")
        self.log = os.path.join(self.root, "redis.log")
        self.extra = list(extra or [])
        self.proc = None
        self.port = None

    def start(self, timeout=10, retries=3):
        for _ in range(retries):
            self.port = free_ports(1)[0]
            self.proc = track(subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", self.root,
                 "--logfile", self.log] + self.extra,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
            end = time.time() + timeout
            while time.time() < end and self.proc.poll() is None:
                if ping_ok(self.port):
                    return self
                time.sleep(0.05)
            self.close()
        raise StartupError("redis-server did not start")

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def resp(self, timeout=30):
        return Resp(self.port, timeout=timeout)

    def client(self, **kw):
        import redis
        kw.setdefault("socket_timeout", 30)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)


def parse_info(text):
    if isinstance(text, (bytes, bytearray)):
        text = text.decode(errors="replace")
    out = {}
    for line in str(text).splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


# ---------------------------------------------------------------------------
# RESP client
# ---------------------------------------------------------------------------

class Simple(str):
    """+simple string"""

    def __repr__(self):
        return "+" + str.__repr__(self)


class Err(str):
    """-error"""

    def __repr__(self):
        return "-" + str.__repr__(self)


class NilArray:
    """*-1 (RESP2 null array)"""
    _inst = None

    def __new__(cls):
        if cls._inst is None:
            cls._inst = object.__new__(cls)
        return cls._inst

    def __repr__(self):
        return "*-1"


class Null3:
    """_ (RESP3 null)"""
    _inst = None

    def __new__(cls):
        if cls._inst is None:
            cls._inst = object.__new__(cls)
        return cls._inst

    def __repr__(self):
        return "_"


class Double(str):
    """,double (kept as its text so comparisons are exact)"""

    def __repr__(self):
        return "," + str(self)


class BigNum(str):
    def __repr__(self):
        return "(" + str(self)


class Verbatim(bytes):
    """=verbatim: .fmt is the 3-letter format, the value is the text"""
    fmt = b""

    def __repr__(self):
        return "=%s:%s" % (self.fmt.decode(), bytes.__repr__(self))


class Map(list):
    """%map as a list of (key, value) pairs (order preserved)"""

    def __repr__(self):
        return "%{" + ", ".join("%r: %r" % kv for kv in self) + "}"


class RSet(list):
    def __repr__(self):
        return "~" + list.__repr__(self)


class Push(list):
    def __repr__(self):
        return ">" + list.__repr__(self)


class Attr(list):
    pass


class Closed(Exception):
    """The server closed the connection."""


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        elif isinstance(a, float):
            a = repr(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Resp:
    def __init__(self, port, timeout=30, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, *args):
        self.sock.sendall(encode(*args))

    def call(self, *args):
        self.send(*args)
        return self.read()

    def call_close(self, *args):
        try:
            return self.call(*args)
        finally:
            self.close()

    def _fill(self):
        d = self.sock.recv(1 << 20)
        if not d:
            raise Closed("connection closed by server")
        if self.pos > 0 and self.pos == len(self.buf):
            self.buf = bytearray()
            self.pos = 0
        self.buf += d

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def _bytes(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
            raise ValueError("bulk not terminated by CRLF")
        self.pos += n + 2
        return data

    def read(self):
        """Parses exactly one reply (attributes are skipped)."""
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return Simple(rest.decode(errors="surrogateescape"))
        if t == b"-":
            return Err(rest.decode(errors="surrogateescape"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            return self._bytes(n)
        if t == b"*":
            n = int(rest)
            if n < 0:
                return NilArray()
            return [self.read() for _ in range(n)]
        if t == b"_":
            return Null3()
        if t == b",":
            return Double(rest.decode())
        if t == b"#":
            return rest == b"t"
        if t == b"(":
            return BigNum(rest.decode())
        if t == b"=":
            data = self._bytes(int(rest))
            v = Verbatim(data[4:])
            v.fmt = data[:3]
            return v
        if t == b"%":
            n = int(rest)
            return Map((self.read(), self.read()) for _ in range(n))
        if t == b"~":
            return RSet(self.read() for _ in range(int(rest)))
        if t == b">":
            return Push(self.read() for _ in range(int(rest)))
        if t == b"|":
            n = int(rest)
            for _ in range(2 * n):
                self.read()
            return self.read()
        raise ValueError("unknown RESP type byte %r in line %r" % (t, line))

    def is_closed(self, timeout=3.0):
        """True if the server closes the connection (EOF) within timeout,
        consuming and discarding anything it sends meanwhile."""
        end = time.time() + timeout
        old = self.sock.gettimeout()
        try:
            while time.time() < end:
                self.sock.settimeout(max(0.05, end - time.time()))
                try:
                    d = self.sock.recv(65536)
                except socket.timeout:
                    return False
                except ConnectionResetError:
                    return True
                if not d:
                    return True
            return False
        finally:
            self.sock.settimeout(old)


def same(a, b):
    """Exact equality including reply types (bool is not int, Simple is not
    bytes, ...)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, Verbatim):
        return a.fmt == b.fmt and bytes(a) == bytes(b)
    return a == b


# ---------------------------------------------------------------------------
# TAP
# ---------------------------------------------------------------------------

def note(msg):
    """A TAP comment line (shown in meson's log)."""
    for line in str(msg).splitlines():
        print("# " + line)
    sys.stdout.flush()


