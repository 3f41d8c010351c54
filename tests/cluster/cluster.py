"""A small harness for multi-node raftkv tests: real raftkv-server processes
on 127.0.0.1 with free ports and temporary data dirs, a TAP reporter, and
helpers to find the leader and wait for conditions. Every process started
here is killed at exit, whatever happens."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib  # noqa: E402

SERVER = os.environ.get("RAFTKV_SERVER") or (sys.argv[1] if len(sys.argv) > 1 else None)

free_ports, track, wait_for, Tap = (testlib.free_ports, testlib.track, testlib.wait_for,
                                    testlib.Tap)


class Node:
    def __init__(self, cluster, nid, redis_port, peer_port, http_port):
        self.cluster = cluster
        self.id = nid
        self.redis_port = redis_port
        self.peer_port = peer_port
        self.http_port = http_port
        self.dir = os.path.join(cluster.root, "n%d" % nid)
        self.log = os.path.join(cluster.root, "n%d.log" % nid)
        self.proc = None
        self.cluster_args = None  # default: --cluster <the bootstrap list>
        self.extra = []  # this node's own extra options

    def start(self):
        args = [SERVER, "--id", str(self.id), "--data-dir", self.dir,
                "--redis", "127.0.0.1:%d" % self.redis_port,
                "--peer", "127.0.0.1:%d" % self.peer_port,
                "--http", "127.0.0.1:%d" % self.http_port]
        args += self.cluster_args if self.cluster_args is not None else [
            "--cluster", self.cluster.spec]
        args += self.cluster.extra + self.extra
        env = os.environ.copy()
        if "ASAN_OPTIONS" in env:
            env["LSAN_OPTIONS"] = "suppressions=" + os.path.join(
                os.path.dirname(os.path.abspath(__file__)), "lsan-libraft.supp")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "ab"), env=env)
        track(self.proc)

    def client(self, timeout=10):
        return redis.Redis(host="127.0.0.1", port=self.redis_port,
                           socket_timeout=timeout, socket_connect_timeout=2)

    def info(self):
        try:
            raw = self.client(timeout=2).execute_command("INFO", "raft")
        except Exception:
            return {}
        text = raw.decode() if isinstance(raw, bytes) else raw
        if isinstance(text, dict):
            return {k: str(v) for k, v in text.items()}
        out = {}
        for line in text.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def cont(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_seconds(self):
        """User + system CPU time the process has used so far."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def log_tail(self, n=20):
        try:
            with open(self.log, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""


class Cluster:
    def __init__(self, n, extra=None):
        self.root = tempfile.mkdtemp(prefix="raftkv-cluster-")
        ports = free_ports(3 * n)
        self.nodes = [Node(self, i + 1, ports[3 * i], ports[3 * i + 1], ports[3 * i + 2])
                      for i in range(n)]
        self.spec = ",".join("%d=127.0.0.1:%d" % (x.id, x.peer_port) for x in self.nodes)
        self.extra = extra or []

    def start(self):
        for node in self.nodes:
            node.start()
        return self.wait_leader()

    def leader(self, among=None):
        """The node that says it leads and that the others agree on."""
        for node in among or self.nodes:
            if node.proc is None or node.proc.poll() is not None:
                continue
            i = node.info()
            if i.get("role") == "leader" and i.get("ready") == "1":
                return node
        return None

    def wait_leader(self, timeout=15, among=None):
        end = time.time() + timeout
        while time.time() < end:
            node = self.leader(among)
            if node is not None:
                return node
            time.sleep(0.05)
        raise AssertionError("no leader within %ss\n%s" % (
            timeout, "\n".join(x.log_tail(5) for x in self.nodes)))

    def close(self):
        """Stops every running node with SIGTERM. A node must then exit 0:
        a graceful shutdown that fails, or a sanitizer report at exit
        (leaks, undefined behaviour), fails the test."""
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
