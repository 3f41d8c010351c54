#!/usr/bin/python3
"""raftkv vs redis-server side by side; driven by bench/run.sh.

usage: bench.py RAFTKV_SERVER_BINARY

Environment:
  N           requests per redis-benchmark run (default 50000)
  ROUNDS      throughput rounds; the best of them is reported (default 2)
  KEYS        keys loaded for the memory and restart parts (default 1000000)
  BUDGET      seconds the whole run may take (default 280); a part that
              would not fit is skipped and reported as such
  KEEP_TMP=1  keep the temporary directory (data dirs, server logs)
  PARTS       comma-separated subset of throughput,memory,restart (default
              all; restart needs memory, which loads the keys)
  RESTARTS    restarts measured after SIGTERM and after kill -9 (default 3)
  RAFTKV_ARGS extra raftkv-server options, e.g. "--snapshot-threshold 1000"

Everything listens on 127.0.0.1 on free ports; every process started here
is killed on exit, whatever happens.
"""

import atexit
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

RAFTKV = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("RAFTKV_SERVER")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
REDIS_BENCH = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"

N = int(os.environ.get("N", "50000"))
ROUNDS = int(os.environ.get("ROUNDS", "2"))
PARTS = set(os.environ.get("PARTS", "throughput,memory,restart").split(","))
RESTARTS = int(os.environ.get("RESTARTS", "3"))
RAFTKV_ARGS = os.environ.get("RAFTKV_ARGS", "").split()
NKEYS = int(os.environ.get("KEYS", "1000000"))
BUDGET = float(os.environ.get("BUDGET", "280"))
T0 = time.monotonic()
DEADLINE = T0 + BUDGET

KEY_LEN = 16     # "key:" + 12 digits
VALUE_LEN = 32   # "v" + 31 digits
MSET_BATCH = 100

TARGETS = {"SET": 1.0, "MSET": 1.0, "INCR": 1.0, "GET": 0.8}
MEM_TARGET = 1.5
RESTART_TARGET = 3.0

_procs = []
_tmp = tempfile.mkdtemp(prefix="raftkv-bench-")


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=5)
            except Exception:
                pass
    if os.environ.get("KEEP_TMP") == "1":
        print(f"# kept {_tmp}")
    else:
        shutil.rmtree(_tmp, ignore_errors=True)


atexit.register(_cleanup)


def _on_signal(signum, frame):
    _cleanup()
    os._exit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


def remaining():
    return DEADLINE - time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def free_ports(n):
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


# --- a minimal RESP client (one command, one reply) -------------------------

def _enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port, timeout=10.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.s.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+",):
            return rest.decode()
        if t == b"-":
            return RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t in (b"$", b"="):
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t in (b"*", b"~", b">"):
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        if t == b"%":
            return {self._reply(): self._reply() for _ in range(int(rest))}
        if t == b"_":
            return None
        raise ValueError(f"unexpected reply {line!r}")

    def cmd(self, *args):
        self.s.sendall(_enc(*args))
        return self._reply()


def info(port, section):
    c = Conn(port)
    try:
        raw = c.cmd("INFO", section)
    finally:
        c.close()
    out = {}
    for ln in raw.decode().splitlines():
        if ":" in ln and not ln.startswith("#"):
            k, v = ln.split(":", 1)
            out[k] = v
    return out


def wait_ping(port, proc, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            c = Conn(port, timeout=1.0)
            try:
                if c.cmd("PING") == "PONG":
                    return
            finally:
                c.close()
        except (OSError, ConnectionError, ValueError):
            pass
        time.sleep(0.02)
    raise RuntimeError(f"no PONG on port {port} within {timeout}s")


def tail(path, n=20):
    try:
        with open(path, "rb") as f:
            return b"".join(f.readlines()[-n:]).decode(errors="replace")
    except OSError:
        return ""


# --- servers ---------------------------------------------------------------

class Server:
    name = "?"

    def __init__(self):
        self.proc = None
        self.port = None

    def rss_kb(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for ln in f:
                    if ln.startswith("VmRSS:"):
                        return int(ln.split()[1])
        except OSError:
            pass
        return 0


class Redis(Server):
    name = "redis"

    def start(self):
        self.dir = os.path.join(_tmp, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_ports(1)[0]
        self.logf = os.path.join(self.dir, "redis.log")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", self.dir, "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--daemonize", "no",
             "--logfile", self.logf],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _procs.append(self.proc)
        wait_ping(self.port, self.proc, 10)


class Raftkv(Server):
    name = "raftkv"

    def __init__(self):
        super().__init__()
        self.dir = os.path.join(_tmp, "raftkv")
        self.logf = os.path.join(_tmp, "raftkv.log")

    def start(self, timeout=30):
        """Starts (or restarts on the same data dir); returns the spawn time."""
        for _ in range(5):
            self.port, peer, http = free_ports(3)
            with open(self.logf, "ab") as lf:
                t = time.monotonic()
                self.proc = subprocess.Popen(
                    [RAFTKV, "--id", "1", "--data-dir", self.dir,
                     "--redis", f"127.0.0.1:{self.port}",
                     "--peer", f"127.0.0.1:{peer}",
                     "--http", f"127.0.0.1:{http}", "--log-level", "warn"]
                    + RAFTKV_ARGS,
                    stdout=subprocess.DEVNULL, stderr=lf)
            _procs.append(self.proc)
            try:
                wait_ping(self.port, self.proc, timeout)
                return t
            except RuntimeError:
                if self.proc.poll() is None:
                    raise
                # a port was taken between probing and binding: retry
                if b"in use" not in tail(self.logf, 5).encode():
                    raise
        raise RuntimeError("could not start raftkv-server")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            return None


# --- the parts -------------------------------------------------------------

def run_benchmark(port, pipeline, test):
    """One redis-benchmark run of one test; None if it did not finish."""
    args = [REDIS_BENCH, "-h", "127.0.0.1", "-p", str(port), "-c", "50",
            "-n", str(N), "-t", test, "-q", "--csv"]
    if pipeline > 1:
        args += ["-P", str(pipeline)]
    t = min(remaining() - 60, 90.0)
    if t < 5:
        return None
    try:
        out = subprocess.run(args, capture_output=True, timeout=t,
                             text=True).stdout
    except subprocess.TimeoutExpired:
        log(f"{test} P={pipeline} port {port}: timed out after {t:.0f}s")
        return None
    for row in csv.reader(io.StringIO(out)):
        if len(row) >= 2 and row[0] != "test":
            try:
                return float(row[1])
            except ValueError:
                pass
    return None


def gen_load_file(path):
    """RESP for NKEYS keys of exactly KEY_LEN bytes, values of exactly
    VALUE_LEN bytes, in MSETs of MSET_BATCH pairs."""
    with open(path, "wb") as f:
        i = 0
        while i < NKEYS:
            n = min(MSET_BATCH, NKEYS - i)
            parts = [b"*%d\r\n$4\r\nMSET\r\n" % (1 + 2 * n)]
            for j in range(i, i + n):
                k = b"key:%012d" % j
                v = b"v%031d" % j
                parts.append(b"$16\r\n%s\r\n$32\r\n%s\r\n" % (k, v))
            f.write(b"".join(parts))
            i += n
    assert len(b"key:%012d" % (NKEYS - 1)) == KEY_LEN
    assert len(b"v%031d" % (NKEYS - 1)) == VALUE_LEN


def load(port, path):
    t = max(5.0, min(remaining() - 5, 150.0))
    with open(path, "rb") as f:
        t0 = time.monotonic()
        r = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(port),
                            "--pipe"], stdin=f, capture_output=True,
                           text=True, timeout=t)
    return time.monotonic() - t0, r.stdout.strip().splitlines()[-1:] or [""]


def dir_summary(d):
    snaps, segs, total = 0, 0, 0
    for root, _, files in os.walk(d):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                continue
            if f.startswith("snapshot-") and not f.endswith(".meta"):
                snaps += 1
            elif f.startswith("open-") or f[:1].isdigit():
                segs += 1
    return f"{total / 2**20:.1f} MiB, {snaps} snapshot(s), {segs} segment file(s)"


def fmt_ratio(r, target):
    if r is None:
        return "n/a"
    ok = "ok" if r >= target else "BELOW"
    return f"{r:5.2f}x (target >= {target:.1f}x: {ok})"


def main():
    if not RAFTKV or not os.access(RAFTKV, os.X_OK):
        print(f"raftkv-server binary not found: {RAFTKV!r}")
        return 2
    log(f"raftkv-server: {RAFTKV}")
    log(f"N={N} KEYS={NKEYS} BUDGET={BUDGET:.0f}s tmp={_tmp}")
    redis, rk = Redis(), Raftkv()
    redis.start()
    try:
        rk.start()
    except RuntimeError as e:
        print(f"raftkv-server did not start: {e}\n{tail(rk.logf)}")
        return 1
    log(f"redis-server (appendonly yes, appendfsync always) on {redis.port}; "
        f"raftkv on {rk.port}")

    # 1. throughput: per test, redis and raftkv back to back (the order
    # flips every round so that noise is shared); best of ROUNDS each.
    results = {}
    for rnd in range(ROUNDS if "throughput" in PARTS else 0):
        for pipeline in (1, 16):
            for test in ("set", "get", "incr", "mset"):
                order = (redis, rk) if (rnd + pipeline) % 2 else (rk, redis)
                for srv in order:
                    r = run_benchmark(srv.port, pipeline, test)
                    if r is None:
                        continue
                    key = (srv.name, pipeline, test.upper())
                    results[key] = max(results.get(key, 0.0), r)
            log(f"round {rnd + 1}/{ROUNDS} P={pipeline}: "
                + " ".join(f"{t}={results.get(('redis', pipeline, t), 0):.0f}/"
                           f"{results.get(('raftkv', pipeline, t), 0):.0f}"
                           for t in ("SET", "GET", "INCR", "MSET"))
                + " (redis/raftkv, best so far)")
    if results:
        print()
        print(f"requests/s, best of {ROUNDS} (redis-benchmark -c 50 -n {N} "
              "-t <test> [-P 16] -q --csv; redis: appendfsync always)")
        print(f"{'test':<6} {'P':>3} {'redis':>12} {'raftkv':>12}  raftkv/redis")
        for pipeline in (1, 16):
            for t in ("SET", "GET", "INCR", "MSET"):
                a = results.get(("redis", pipeline, t))
                b = results.get(("raftkv", pipeline, t))
                r = b / a if a and b else None
                print(f"{t:<6} {pipeline:>3} {a or 0:>12.0f} {b or 0:>12.0f}  "
                      f"{fmt_ratio(r, TARGETS[t])}")
        print(flush=True)

    # 2. memory with NKEYS keys
    if "memory" not in PARTS:
        return 0
    if remaining() < 60:
        log("skip memory and restart: time budget")
        return 0
    for srv in (redis, rk):
        c = Conn(srv.port, timeout=60)
        c.cmd("FLUSHALL")
        c.close()
    time.sleep(0.5)
    base = {s.name: (int(info(s.port, "memory").get("used_memory", 0)),
                     s.rss_kb() * 1024) for s in (redis, rk)}
    path = os.path.join(_tmp, "load.resp")
    gen_load_file(path)
    log(f"load file: {NKEYS} keys ({KEY_LEN}-byte keys, {VALUE_LEN}-byte "
        f"values) as MSETs of {MSET_BATCH}, {os.path.getsize(path)} bytes")
    for srv in (redis, rk):
        secs, last = load(srv.port, path)
        log(f"loaded {srv.name} in {secs:.1f}s: {last[0]}")
    mem = {}
    for srv in (redis, rk):
        im = info(srv.port, "memory")
        c = Conn(srv.port)
        n = c.cmd("DBSIZE")
        v = c.cmd("GET", "key:%012d" % (NKEYS // 2))
        c.close()
        mem[srv.name] = (int(im.get("used_memory", 0)),
                         int(im.get("used_memory_rss", 0)), srv.rss_kb() * 1024)
        log(f"{srv.name}: DBSIZE={n} used_memory={mem[srv.name][0]} "
            f"used_memory_rss={mem[srv.name][1]} VmRSS={mem[srv.name][2]} "
            f"(empty: used_memory={base[srv.name][0]} VmRSS={base[srv.name][1]}) "
            f"GET ok={v == b'v%031d' % (NKEYS // 2)}")
    ru = mem["redis"][0]
    print()
    print(f"memory with {NKEYS} keys (16-byte keys, 32-byte values), "
          f"compared with redis used_memory = {ru / 2**20:.1f} MiB")
    for label, val in (("raftkv used_memory", mem["raftkv"][0]),
                       ("raftkv used_memory_rss", mem["raftkv"][1]),
                       ("raftkv VmRSS (/proc)", mem["raftkv"][2])):
        r = val / ru if ru else None
        ok = "ok" if r is not None and r <= MEM_TARGET else "ABOVE"
        rs = f"{r:5.2f}x" if r is not None else "  n/a"
        print(f"  {label:<24} {val / 2**20:8.1f} MiB  {rs} "
              f"(target <= {MEM_TARGET}x: {ok})")
    print(f"  {'redis used_memory_rss':<24} {mem['redis'][1] / 2**20:8.1f} MiB")
    print(flush=True)

    # 3. restart time with NKEYS keys: RESTARTS times each way, median
    key, want = "key:%012d" % (NKEYS - 1), b"v%031d" % (NKEYS - 1)
    restarts = (("SIGTERM", signal.SIGTERM), ("kill -9", signal.SIGKILL))
    for how, sig in restarts if "restart" in PARTS else ():
        times = []
        for _ in range(RESTARTS):
            if remaining() < 25:
                log(f"skip restart after {how}: time budget")
                break
            rc = rk.stop(sig)
            log(f"raftkv stopped with {how}: exit {rc}; data dir: "
                f"{dir_summary(rk.dir)}")
            try:
                t = rk.start(timeout=min(40.0, remaining() - 2))
            except RuntimeError as e:
                print(f"restart after {how}: FAILED ({e})\n{tail(rk.logf)}")
                return 1
            got = None
            while time.monotonic() - t < 40:
                try:
                    c = Conn(rk.port, timeout=5)
                    got = c.cmd("GET", key)
                    c.close()
                    if got == want:
                        break
                except (OSError, ConnectionError):
                    pass
                time.sleep(0.01)
            dt = time.monotonic() - t
            c = Conn(rk.port)
            n = c.cmd("DBSIZE")
            c.close()
            if got != want:
                print(f"restart after {how}: GET {key} = {got!r} after "
                      f"{dt:.2f}s, DBSIZE {n}: DATA LOST")
                return 1
            times.append(dt)
            log(f"GET {key} answered correctly {dt:.2f}s after spawn "
                f"(DBSIZE {n})")
        if times:
            med = sorted(times)[len(times) // 2]
            ok = "ok" if med < RESTART_TARGET else "ABOVE"
            print(f"restart after {how} with {NKEYS} keys: first correct GET "
                  f"after {med:.2f}s (median of "
                  f"{', '.join(f'{x:.2f}' for x in times)}; target < "
                  f"{RESTART_TARGET:.0f}s: {ok})", flush=True)
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
