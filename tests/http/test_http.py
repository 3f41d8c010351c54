"""The HTTP surface of raftkv-server, exercised with curl against real
processes: probes, readiness, metrics, status, the dashboard's files,
operator actions, limits on malformed and slow requests, and a 3-node
cluster whose followers are paused with SIGSTOP (the leader's
/healthz/leader?timeout=1s must answer 503 within 1.1 s, and 200 again after
SIGCONT). Prints TAP. Every process started here is killed at exit."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib  # noqa: E402

SERVER = os.environ.get("RAFTKV_SERVER") or (sys.argv[1] if len(sys.argv) > 1 else None)
HERE = os.path.dirname(os.path.abspath(__file__))
LSAN_SUPP = os.path.join(HERE, "..", "..", "scripts", "lsan.supp")
TOKEN = "s3cret-token"

free_ports, track, wait_for, Tap = (testlib.free_ports, testlib.track, testlib.wait_for,
                                    testlib.Tap)


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------


class Node:
    def __init__(self, root, nid, ports):
        self.id = nid
        self.redis_port, self.peer_port, self.http_port = ports
        self.dir = os.path.join(root, "n%d" % nid)
        self.log = os.path.join(root, "n%d.log" % nid)
        self.proc = None

    def start(self, extra):
        args = [SERVER, "--id", str(self.id), "--data-dir", self.dir,
                "--redis", "127.0.0.1:%d" % self.redis_port,
                "--peer", "127.0.0.1:%d" % self.peer_port,
                "--http", "127.0.0.1:%d" % self.http_port] + extra
        env = os.environ.copy()
        if "ASAN_OPTIONS" in env and "LSAN_OPTIONS" not in env:
            env["LSAN_OPTIONS"] = "suppressions=" + os.path.abspath(LSAN_SUPP)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "ab"), env=env)
        track(self.proc)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    def status(self):
        code, body, _ = curl(self.url("/status"), timeout=2)
        return json.loads(body) if code == 200 else {}

    def stop(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def cont(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def log_tail(self, n=20):
        try:
            with open(self.log, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""


class Cluster:
    def __init__(self, n, extra=None):
        self.root = tempfile.mkdtemp(prefix="raftkv-http-")
        ports = free_ports(3 * n)
        self.nodes = [Node(self.root, i + 1, ports[3 * i:3 * i + 3]) for i in range(n)]
        spec = ",".join("%d=127.0.0.1:%d" % (x.id, x.peer_port) for x in self.nodes)
        http = ",".join("%d=127.0.0.1:%d" % (x.id, x.http_port) for x in self.nodes)
        self.extra = ["--cluster", spec, "--cluster-http", http,
                      "--admin-token", TOKEN] + (extra or [])

    def start(self):
        for node in self.nodes:
            node.start(self.extra)
        for node in self.nodes:
            wait_for(lambda: probe(node.url("/healthz")) == 200, 10,
                     "node %d's /healthz" % node.id)
        return self.wait_leader()

    def leader(self):
        for node in self.nodes:
            s = node.status()
            if s.get("role") == "leader" and s.get("ready"):
                return node
        return None

    def wait_leader(self, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            node = self.leader()
            if node is not None:
                return node
            time.sleep(0.05)
        raise AssertionError("no leader within %ss\n%s" % (
            timeout, "\n".join(x.log_tail(5) for x in self.nodes)))

    def close(self):
        """SIGTERM every node; each must exit 0 (a sanitizer report at exit
        fails the test)."""
        bad = []
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                try:
                    node.cont()
                    node.proc.terminate()
                    rc = node.proc.wait(timeout=15)
                except Exception:
                    node.proc.kill()
                    rc = "hung"
                if rc != 0:
                    bad.append("node %d exited %s:\n%s" % (node.id, rc, node.log_tail(30)))
        shutil.rmtree(self.root, ignore_errors=True)
        if bad:
            raise AssertionError("\n".join(bad))


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def curl(url, *args, timeout=10):
    """(status, body, seconds) of one curl request; status 0 if none."""
    out = subprocess.run(
        ["curl", "-s", "-S", "--max-time", str(timeout), "-o", "-", "-w",
         "\n%{http_code} %{time_total}", *args, url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout + 5)
    text = out.stdout.decode(errors="replace")
    body, _, tail = text.rpartition("\n")
    if body.endswith("\n"):
        body = body[:-1]
    code, secs = tail.split()
    return int(code), body, float(secs)


def probe(url):
    try:
        return curl(url, timeout=2)[0]
    except Exception:
        return 0


def raw(port, data, timeout=5, read_all=True):
    """Sends raw bytes and returns what came back until close or timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            got += chunk
            if not read_all:
                break
        return got
    finally:
        s.close()


tap = Tap()

# ---------------------------------------------------------------------------
# One node
# ---------------------------------------------------------------------------


def single_node_tests(c):
    n = c.nodes[0]

    def t_healthz():
        code, body, _ = curl(n.url("/healthz"))
        assert code == 200 and body == "ok", (code, body)
        out = subprocess.run(["curl", "-s", "-I", n.url("/healthz")],
                             stdout=subprocess.PIPE, timeout=10).stdout.decode()
        assert out.startswith("HTTP/1.1 200"), out
        assert "Content-Length: 3" in out, out

    def t_healthz_leader():
        code, body, _ = curl(n.url("/healthz/leader"))
        assert code == 200 and body.startswith("ok"), (code, body)
        code, body, _ = curl(n.url("/healthz/leader?timeout=250ms"),
                             "-H", "Accept: application/json")
        j = json.loads(body)
        assert code == 200 and j["ok"] and j["role"] == "leader", body
        assert j["leader_id"] == 1 and j["term"] >= 1, body
        code, _, _ = curl(n.url("/healthz/leader?timeout=1500"))
        assert code == 200
        code, body, _ = curl(n.url("/healthz/leader?timeout=soon"))
        assert code == 400, (code, body)

    def t_readyz():
        code, body, _ = curl(n.url("/readyz"))
        assert code == 200 and body == "ok", (code, body)
        code, body, _ = curl(n.url("/readyz?verbose"))
        lines = body.splitlines()
        assert code == 200 and lines[-1] == "ok", body
        for check in ("raft", "leader-known", "applied-committed", "linearizable-read"):
            assert "[+]%s ok" % check in lines, body

    def t_metrics():
        r = redis.Redis(host="127.0.0.1", port=n.redis_port, socket_timeout=5)
        assert r.set("k", "v") is True and r.get("k") == b"v"
        try:
            r.execute_command("INCR", "k")
        except redis.ResponseError:
            pass
        code, body, _ = curl(n.url("/metrics"))
        assert code == 200, code
        for name in ("raftkv_commands_total{cmd=\"set\"} 1",
                     "raftkv_command_errors_total{cmd=\"incr\"} 1",
                     "raftkv_command_duration_seconds_bucket{cmd=\"get\",le=\"+Inf\"} 1",
                     "raftkv_raft_role{role=\"leader\"} 1", "raftkv_raft_term ",
                     "raftkv_raft_commit_index ", "raftkv_raft_applied_index ",
                     "raftkv_raft_last_index ", "raftkv_raft_leader_changes_total ",
                     "raftkv_verify_probes_total ", "raftkv_verify_duration_seconds_count ",
                     "raftkv_verify_timeouts_total ", "raftkv_verify_refused_total ",
                     "raftkv_pending_reads ", "raftkv_forwarded_writes_total ",
                     "raftkv_forward_retries_total ", "raftkv_forward_unknown_total ",
                     "raftkv_snapshots_total ", "raftkv_snapshot_size_bytes ",
                     "raftkv_connections{kind=\"resp\"} ", "raftkv_memory_rss_bytes ",
                     "raftkv_memory_dataset_bytes ", "raftkv_event_loop_lag_seconds_count "):
            assert name in body, name
        # Every sample line is "name{labels} value" with a numeric value.
        for line in body.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                float(value)
                assert name.startswith("raftkv_"), line

    def t_status():
        code, body, _ = curl(n.url("/status"))
        s = json.loads(body)
        assert code == 200 and s["role"] == "leader" and s["id"] == 1, body
        assert s["addrs"]["http"] == "127.0.0.1:%d" % n.http_port, body
        assert s["admin_actions"] is True
        assert [m["id"] for m in s["members"]] == [1], body
        assert s["members"][0]["http"] == "127.0.0.1:%d" % n.http_port, body
        assert s["memory"]["rss_bytes"] > 0
        lim = s["limits"]
        for k in ("loop_lag_p99_ms", "loop_utilization", "heartbeat_gaps_warn",
                  "heartbeat_gaps_critical", "slow_disk_appends", "used_memory",
                  "maxmemory", "memory_shutdown_threshold_bytes", "oom_rejections",
                  "heavy_command_rejections", "client_output_buffer_disconnections"):
            assert k in lim, (k, lim)
        assert lim["heartbeat_gaps_critical"] == 0 and lim["used_memory"] > 0, lim

    def t_dashboard_files():
        code, body, _ = curl(n.url("/admin"))
        assert code == 200 and "raftkv" in body and "app.js" in body, body[:200]
        for f, ctype in (("app.js", "text/javascript"), ("style.css", "text/css")):
            code, body, _ = curl(n.url("/admin/" + f))
            assert code == 200 and len(body) > 100, (f, code)
            out = subprocess.run(["curl", "-s", "-I", n.url("/admin/" + f)],
                                 stdout=subprocess.PIPE, timeout=10).stdout.decode()
            assert "Content-Type: " + ctype in out, out
        assert curl(n.url("/admin/nope.js"))[0] == 404

    def t_admin_auth():
        url = n.url("/admin/api/transfer?id=0")
        assert curl(url, "-X", "POST")[0] == 401
        assert curl(url, "-X", "POST", "-H", "Authorization: Bearer wrong")[0] == 401
        assert curl(url)[0] == 405
        code, _, _ = curl(url, "-X", "OPTIONS")
        assert code == 204
        code, body, _ = curl(n.url("/admin/api/remove"), "-X", "POST",
                             "-H", "Authorization: Bearer " + TOKEN)
        assert code == 400, (code, body)
        # A lone voter cannot hand leadership to anyone: refused, not hung.
        code, body, _ = curl(url, "-X", "POST", "-H", "Authorization: Bearer " + TOKEN)
        assert code in (409, 503) and not json.loads(body)["ok"], (code, body)

    def t_malformed():
        port = n.http_port
        got = raw(port, b"GARBAGE\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 400"), got
        got = raw(port, b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 431"), got[:60]
        got = raw(port, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 414"), got[:60]
        got = raw(port, b"POST /healthz HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 413"), got[:60]
        got = raw(port, b"GET /healthz HTTP/1.1\r\nContent-Length: -1\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 400"), got[:60]
        got = raw(port, b"\x00\xff\r\n\r\n" * 10)
        assert got.startswith(b"HTTP/1.1 400"), got[:60]
        got = raw(port, b"DELETE /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 405"), got[:60]
        # Pipelined requests are answered in order on one connection.
        got = raw(port, b"GET /healthz HTTP/1.1\r\n\r\n"
                        b"GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert got.count(b"HTTP/1.1 ") == 2, got
        assert got.index(b"200 OK") < got.index(b"404 Not Found"), got
        assert curl(n.url("/healthz"))[0] == 200  # still alive

    def t_fuzz():
        # Mutated requests (bounded: 300, each half-closed after sending so
        # the server sees EOF at once) never take the node down.
        import random
        rnd = random.Random(4)
        seeds = [b"GET /healthz/leader?timeout=1s HTTP/1.1\r\nHost: x\r\n"
                 b"Accept: application/json\r\n\r\n",
                 b"POST /admin/api/transfer?id=2 HTTP/1.1\r\nAuthorization: Bearer x"
                 b"\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"]
        for i in range(300):
            data = bytearray(rnd.choice(seeds))
            for _ in range(rnd.randint(1, 8)):
                op = rnd.randint(0, 2)
                pos = rnd.randrange(len(data))
                if op == 0:
                    data[pos] = rnd.randrange(256)
                elif op == 1:
                    del data[pos:pos + rnd.randint(1, 10)]
                else:
                    data[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 10)))
            s = socket.create_connection(("127.0.0.1", n.http_port), timeout=5)
            try:
                s.sendall(bytes(data))
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
            except OSError:
                pass
            finally:
                s.close()
        assert curl(n.url("/healthz"))[0] == 200

    def t_limits():
        # Connections beyond the cap are refused with 503.
        socks = []
        try:
            for _ in range(256):
                socks.append(socket.create_connection(("127.0.0.1", n.http_port), timeout=5))
            time.sleep(0.2)
            # The answer comes at once, before any request is read.
            got = raw(n.http_port, b"", timeout=5)
            assert got.startswith(b"HTTP/1.1 503"), got[:60]
        finally:
            for s in socks:
                s.close()
        wait_for(lambda: probe(n.url("/healthz")) == 200, 5, "/healthz after the flood")

    def t_slow_client():
        # A request that does not arrive whole within 10 s gets 408.
        s = socket.create_connection(("127.0.0.1", n.http_port), timeout=15)
        try:
            t0 = time.time()
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            got = s.recv(4096)
            took = time.time() - t0
            assert got.startswith(b"HTTP/1.1 408"), got
            assert 9 < took < 12, took
        finally:
            s.close()
        assert curl(n.url("/healthz"))[0] == 200

    tap.run("single: /healthz GET and HEAD", t_healthz)
    tap.run("single: /healthz/leader, JSON and ?timeout=", t_healthz_leader)
    tap.run("single: /readyz and ?verbose", t_readyz)
    tap.run("single: /metrics names and format", t_metrics)
    tap.run("single: /status", t_status)
    tap.run("single: /admin and its embedded files", t_dashboard_files)
    tap.run("single: operator actions need the token", t_admin_auth)
    tap.run("single: malformed requests get 4xx, the node lives", t_malformed)
    tap.run("single: 300 mutated requests, the node lives", t_fuzz)
    tap.run("single: connection cap", t_limits)
    tap.run("single: slow client gets 408", t_slow_client)


# ---------------------------------------------------------------------------
# Three nodes
# ---------------------------------------------------------------------------


def cluster_tests(c, lead):
    others = [x for x in c.nodes if x is not lead]

    def t_roles():
        assert curl(lead.url("/healthz/leader"))[0] == 200
        for f in others:
            code, body, secs = curl(f.url("/healthz/leader?timeout=1s"),
                                    "-H", "Accept: application/json")
            j = json.loads(body)
            assert code == 503 and j["role"] == "follower", body
            assert j["leader_id"] == lead.id and secs < 0.5, (body, secs)
            # A follower is ready: it knows the leader and reads through it.
            code, body, _ = curl(f.url("/readyz?verbose"))
            assert code == 200, body

    def t_status_members():
        s = others[0].status()
        ids = sorted(m["id"] for m in s["members"])
        assert ids == [1, 2, 3], s
        for m in s["members"]:
            node = c.nodes[m["id"] - 1]
            assert m["http"] == "127.0.0.1:%d" % node.http_port, m
        assert s["leader_id"] == lead.id

    def t_sigstop():
        # The election timeout (3 s) is longer than this whole block, so
        # the leader keeps its role and only verification can fail.
        for f in others:
            f.stop()
        try:
            # A probe whose client gives up leaves nothing behind.
            before = lead.status()["pending_reads"]
            code, _, secs = curl(lead.url("/healthz/leader?timeout=5s"), timeout=0.3)
            assert code == 0 and secs < 1, (code, secs)
            time.sleep(0.1)
            s = lead.status()
            assert s["role"] == "leader", s
            assert s["pending_reads"] == before == 0, (before, s["pending_reads"])
            code, body, secs = curl(lead.url("/healthz/leader?timeout=1s"))
            print("# SIGSTOP: /healthz/leader?timeout=1s -> %d in %.3f s (%s)"
                  % (code, secs, body.strip()))
            assert code == 503 and "timed out" in body, (code, body)
            assert 0.95 <= secs <= 1.1, secs
            code, body, secs = curl(lead.url("/readyz?timeout=300ms&verbose"))
            assert code == 503 and "[-]linearizable-read failed" in body, body
            assert secs <= 0.4, secs
            code, body, _ = curl(lead.url("/metrics"))
            assert "raftkv_verify_timeouts_total" in body
        finally:
            for f in others:
                f.cont()
        end = time.time() + 10
        code = 0
        while time.time() < end:
            code = probe(lead.url("/healthz/leader?timeout=1s"))
            if code == 200:
                break
            time.sleep(0.1)
        assert code == 200, code

    def t_transfer():
        target = others[0]
        code, body, _ = curl(lead.url("/admin/api/transfer?id=%d" % target.id),
                             "-X", "POST", "-H", "Authorization: Bearer " + TOKEN)
        assert code == 200 and json.loads(body)["ok"], (code, body)
        wait_for(lambda: probe(target.url("/healthz/leader")) == 200, 10,
                 "node %d to lead" % target.id)
        assert curl(lead.url("/healthz/leader"))[0] == 503

    tap.run("cluster: leader 200, followers 503 at once, followers ready", t_roles)
    tap.run("cluster: /status lists every member with its HTTP address", t_status_members)
    tap.run("cluster: followers SIGSTOPped -> 503 within 1.1 s; 200 after SIGCONT",
            t_sigstop)
    tap.run("cluster: transfer leadership through the operator API", t_transfer)


def main():
    if not SERVER:
        print("1..0 # SKIP RAFTKV_SERVER not set")
        return 0
    one = Cluster(1)
    try:
        one.start()
        single_node_tests(one)
    except Exception:
        tap.run("single: start", lambda: (_ for _ in ()).throw(
            AssertionError(traceback.format_exc())))
    finally:
        try:
            one.close()
            tap.run("single: graceful shutdown", lambda: None)
        except Exception:
            err = traceback.format_exc()
            tap.run("single: graceful shutdown",
                    lambda: (_ for _ in ()).throw(AssertionError(err)))
    three = Cluster(3, ["--election-ms", "3000", "--heartbeat-ms", "100"])
    try:
        lead = three.start()
        cluster_tests(three, lead)
    except Exception:
        err = traceback.format_exc()
        tap.run("cluster: start", lambda: (_ for _ in ()).throw(AssertionError(err)))
    finally:
        try:
            three.close()
            tap.run("cluster: graceful shutdown", lambda: None)
        except Exception:
            err = traceback.format_exc()
            tap.run("cluster: graceful shutdown",
                    lambda: (_ for _ in ()).throw(AssertionError(err)))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
