"""Jepsen-style fault runs against real raftkv-server processes.

A run starts N nodes (3 by default, or 5), drives concurrent client
workers over RESP (redis-py connections with short timeouts, each worker a
thread that sends every operation to a random node, so writes also go
through followers), records every operation with monotonic timestamps,
injects faults on a schedule, heals, waits for the cluster to serve again,
reads every key through every node and hands the history to checker.py.

Faults: kill -9 and restart (the leader, a follower), SIGSTOP/SIGCONT (the
leader, a minority, a majority), leadership transfer (RAFTKV TRANSFER)
under load, a membership change (a follower removed with RAFTKV NODE
REMOVE, its data wiped, then joining again with --join and an empty data
dir), and network partitions (netns.py: each node in its own
network namespace, as root). Runs without partitions, and every run where
namespaces cannot be made, use 127.0.0.1 only.

Every run has a seed; the fault schedule and the workload choices come
from it (timing still varies). Command line (see also campaign.sh):

  python3 tests/jepsen/harness.py --scenario register-kill-transfer --seed 42
  python3 tests/jepsen/harness.py --workload counter --faults stop-leader,partition-halves \\
      --nodes 5 --time 60 --seed 7
"""

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import checker  # noqa: E402
import testlib  # noqa: E402
from netns import Net, cleanup_leftovers, RUN_PREFIX  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# Scenarios of the short suite (test_jepsen.py) and of the campaign.
SCENARIOS = {
    "register-kill-transfer": ("register", ["kill-leader", "kill-follower", "transfer",
                                            "membership"]),
    "counter-stop": ("counter", ["stop-leader", "stop-minority"]),
    "append-partition": ("append", ["partition-leader"]),
    # Campaign only.
    "register-partition": ("register", ["partition-leader", "partition-halves", "transfer"]),
    "counter-kill": ("counter", ["kill-leader", "kill-follower", "stop-majority"]),
    "append-kill-stop": ("append", ["kill-leader", "stop-leader", "stop-majority", "transfer",
                                    "membership"]),
    "register-mixed": ("register", ["kill-leader", "stop-minority", "partition-halves",
                                    "transfer", "stop-majority", "membership"]),
    "counter-partition": ("counter", ["partition-leader", "partition-halves", "kill-follower"]),
}
PARTITIONS = ("partition-leader", "partition-halves")
ALL_FAULTS = ("kill-leader", "kill-follower", "stop-leader", "stop-minority",
              "stop-majority", "transfer", "membership") + PARTITIONS

# Every server process started here is killed at exit, and on meson's
# SIGTERM (testlib).
free_ports, track = testlib.free_ports, testlib.track


def call(host, port, *args, timeout=1.0):
    """One command on a fresh connection; raises on any error."""
    c = redis.Connection(host=host, port=port, socket_timeout=timeout,
                         socket_connect_timeout=timeout)
    try:
        c.send_command(*args)
        return c.read_response()
    finally:
        c.disconnect()


# ---------------------------------------------------------------------------
# Nodes and the cluster
# ---------------------------------------------------------------------------

class Node:
    def __init__(self, cluster, idx, host, ports):
        self.cluster = cluster
        self.idx = idx
        self.id = idx + 1
        self.host = host
        self.redis_port, self.peer_port, self.http_port = ports
        self.dir = os.path.join(cluster.root, "n%d" % self.id)
        self.log = os.path.join(cluster.root, "n%d.log" % self.id)
        self.proc = None
        self.killed = False    # by us, with kill -9, not yet restarted
        self.stopped = False   # SIGSTOPped by us

    def start(self, join=None):
        """Starts the node; with @join (a member's HOST:PEERPORT) and an empty
        data dir it joins the running cluster instead of bootstrapping."""
        c = self.cluster
        args = [c.server, "--id", str(self.id), "--data-dir", self.dir,
                "--redis", "%s:%d" % (self.host, self.redis_port),
                "--peer", "%s:%d" % (self.host, self.peer_port),
                "--http", "%s:%d" % (self.host, self.http_port)]
        args += ["--join", join] if join else ["--cluster", c.spec]
        args += c.extra
        if c.net is not None:
            args = c.net.exec_prefix(self.idx) + args
        env = os.environ.copy()
        if "ASAN_OPTIONS" in env:
            env["LSAN_OPTIONS"] = "suppressions=" + os.path.join(
                HERE, "..", "cluster", "lsan-libraft.supp")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, env=env)
        track(self.proc)
        self.killed = False
        self.stopped = False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.killed = True

    def stop(self):
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.stopped = True

    def cont(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGCONT)
        self.stopped = False

    def info(self):
        try:
            raw = call(self.host, self.redis_port, "INFO", "raft", timeout=0.5)
        except Exception:
            return {}
        out = {}
        for line in raw.decode(errors="replace").splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                out[k] = v.strip()
        return out

    def log_tail(self, n=20):
        try:
            with open(self.log, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""


class Cluster:
    def __init__(self, server, n, net=None, extra=None):
        self.server = server
        self.net = net
        self.root = tempfile.mkdtemp(prefix="%s%d-" % (RUN_PREFIX, os.getpid()))
        if net is not None:
            self.nodes = [Node(self, i, net.addr(i), (6379, 7379, 8379)) for i in range(n)]
        else:
            ports = free_ports(3 * n)
            self.nodes = [Node(self, i, "127.0.0.1", ports[3 * i:3 * i + 3])
                          for i in range(n)]
        self.spec = ",".join("%d=%s:%d" % (x.id, x.host, x.peer_port) for x in self.nodes)
        self.extra = extra or []

    def start(self):
        for node in self.nodes:
            node.start()
        return self.wait_leader(20)

    def leader(self):
        for node in self.nodes:
            if node.alive() and not node.stopped:
                i = node.info()
                if i.get("role") == "leader" and i.get("ready") == "1":
                    return node
        return None

    def wait_leader(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            node = self.leader()
            if node is not None:
                return node
            time.sleep(0.1)
        return None

    def close(self):
        """SIGTERM to every node; returns complaints about exit codes."""
        bad = []
        live = [node for node in self.nodes if node.alive()]
        for node in live:
            node.cont()
            node.proc.terminate()
        for node in live:
            try:
                rc = node.proc.wait(timeout=15)
            except Exception:
                node.proc.kill()
                node.proc.wait()
                rc = "hung"
            if rc != 0:
                bad.append("node %d exited %s at shutdown:\n%s" % (
                    node.id, rc, node.log_tail(20)))
        return bad

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------------------
# Workloads: what a worker sends and how the reply reads as an Op
# ---------------------------------------------------------------------------

class Workload:
    model = None
    nkeys = 4

    def read_args(self, key):
        """The command that reads @key (the final reads use it too)."""
        return ("GET", key)

    def perform(self, c, op, args, sent):
        """Runs @op's command(s) on connection @c; returns the reply. Sets
        sent[0] once a command that may change state was sent."""
        sent[0] = op.f != "read"
        c.send_command(*args)
        return c.read_response()

    def keys(self):
        return ["%s%d" % (self.model[0], i) for i in range(self.nkeys)]

    def next(self, rng, wid, seq):
        """Returns (f, key, value, command args)."""
        raise NotImplementedError

    @staticmethod
    def decode(resp):
        return resp.decode() if isinstance(resp, bytes) else resp


class RegisterWorkload(Workload):
    # The register is exercised with GET, SET, SET ... GET (an atomic swap)
    # and compare-and-set done the Redis way: WATCH k; GET k; if the value
    # is the expected one, MULTI; SET k new; EXEC. A value other than the
    # expected one is a failed cas (the GET is a linearizable read inside
    # the operation); a null EXEC is a definite no-op that says nothing
    # about the value (a WATCH on a lagging follower may abort spuriously),
    # so it is recorded as failed; an error or timeout once EXEC was sent
    # leaves the outcome unknown. The expected value is the last value any
    # worker saw for the key, so many cas operations can succeed.
    model = "register"
    nkeys = 5

    def __init__(self):
        self.last_seen = {}

    def next(self, rng, wid, seq):
        key = rng.choice(self.keys())
        x = rng.random()
        val = "%d.%d" % (wid, seq)
        if x < 0.4:
            return "read", key, None, ("GET", key)
        if x < 0.65:
            return "write", key, val, ("SET", key, val)
        if x < 0.8:
            return "swap", key, val, ("SET", key, val, "GET")
        return "cas", key, (self.last_seen.get(key), val), None

    def perform(self, c, op, args, sent):
        if op.f != "cas":
            sent[0] = op.f != "read"
            c.send_command(*args)
            return c.read_response()
        key, (old, new) = op.key, op.value
        c.send_command("WATCH", key)
        c.read_response()
        c.send_command("GET", key)
        cur = self.decode(c.read_response())
        self.last_seen[key] = cur
        if cur != old:
            c.send_command("UNWATCH")
            c.read_response()
            return False
        c.send_command("MULTI")
        c.read_response()
        c.send_command("SET", key, new)
        c.read_response()
        sent[0] = True
        c.send_command("EXEC")
        res = c.read_response()
        if res is None:
            raise CasAborted()
        self.last_seen[key] = new
        return True

    def out(self, f, resp):
        if f == "write":
            return None
        if f == "cas":
            return resp
        v = self.decode(resp)
        return v


class CasAborted(Exception):
    """EXEC answered a null array: a watched key changed; nothing ran."""


class CounterWorkload(Workload):
    model = "counter"
    nkeys = 3

    def next(self, rng, wid, seq):
        key = rng.choice(self.keys())
        if rng.random() < 0.6:
            return "incr", key, None, ("INCR", key)
        return "read", key, None, ("GET", key)

    def out(self, f, resp):
        if resp is None:
            return None
        return int(resp)


class AppendWorkload(Workload):
    # A list per key: RPUSH of unique tokens "c<worker>:<seq>;" (the reply
    # is the new length in elements) and LRANGE 0 -1 reads. The checker's
    # append model then wants every acknowledged token present exactly
    # once, at the offset its RPUSH returned, in real-time (so per-client)
    # order, and every read a prefix of the final list.
    model = "append"
    nkeys = 3

    def next(self, rng, wid, seq):
        key = rng.choice(self.keys())
        if rng.random() < 0.7:
            tok = "c%d:%d;" % (wid, seq)
            return "push", key, tok, ("RPUSH", key, tok)
        return "read", key, None, self.read_args(key)

    def read_args(self, key):
        return ("LRANGE", key, "0", "-1")

    def out(self, f, resp):
        if f == "push":
            return int(resp)
        return tuple(self.decode(x) for x in resp or ())


WORKLOADS = {"register": RegisterWorkload, "counter": CounterWorkload,
             "append": AppendWorkload}

# Replies that promise nothing was applied.
NO_EFFECT = ("CLUSTERDOWN", "BUSY")


def classify_error(f, msg):
    """'fail' (certainly no effect) or 'info' (unknown) for an error reply."""
    if f == "read":
        return "fail"
    if msg.startswith(NO_EFFECT):
        return "fail"
    return "info"  # UNKNOWN / "outcome unknown", TIMEOUT, anything else


class Worker(threading.Thread):
    def __init__(self, run, wid):
        super().__init__(daemon=True)
        self.run_ = run
        self.wid = wid
        self.process = wid
        self.rng = random.Random("%s:worker:%d" % (run.seed, wid))
        self.conns = {}
        self.errors = {}

    def conn(self, node):
        c = self.conns.get(node.idx)
        if c is None:
            c = redis.Connection(host=node.host, port=node.redis_port,
                                 socket_timeout=self.run_.op_timeout,
                                 socket_connect_timeout=0.5)
            c.connect()
            try:
                # Reads give up (TIMEOUT) well before the socket does.
                c.send_command("RAFTKV", "TIMEOUT", str(self.run_.read_deadline_ms))
                c.read_response()
            except redis.exceptions.ResponseError:
                pass
            self.conns[node.idx] = c
        return c

    def drop(self, node):
        c = self.conns.pop(node.idx, None)
        if c is not None:
            c.disconnect()

    def run(self):
        run, rng = self.run_, self.rng
        seq = 0
        while not run.stop_workers.is_set():
            f, key, value, args = run.workload.next(rng, self.wid, seq)
            seq += 1
            node = rng.choice(run.cluster.nodes)
            try:
                c = self.conn(node)
            except Exception:
                self.drop(node)
                self.errors["connect"] = self.errors.get("connect", 0) + 1
                time.sleep(0.05)
                continue
            op = checker.Op(self.process, key, f, value, node=node.id)
            op.invoke = time.monotonic()
            sent = [False]
            try:
                resp = run.workload.perform(c, op, args, sent)
                op.complete = time.monotonic()
                op.out = run.workload.out(f, resp)
                op.type = "ok"
            except CasAborted:
                # A definite no-op (EXEC ran nothing).
                op.complete = time.monotonic()
                op.type = "fail"
                self.errors["exec-nil"] = self.errors.get("exec-nil", 0) + 1
            except redis.exceptions.ResponseError as e:
                t = time.monotonic()
                msg = str(e)
                word = msg.split(" ")[0] if msg else "?"
                self.errors[word] = self.errors.get(word, 0) + 1
                op.type = classify_error(f, msg) if sent[0] else "fail"
                op.complete = t if op.type == "fail" else None
                if f == "cas":
                    self.drop(node)  # it may be left inside MULTI
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                    OSError) as e:
                t = time.monotonic()
                word = type(e).__name__
                self.errors[word] = self.errors.get(word, 0) + 1
                op.type = "info" if sent[0] else "fail"
                op.complete = t if op.type == "fail" else None
                self.drop(node)
            run.history.append(op)
            if op.type == "info":
                # A process with an operation in doubt is never reused.
                self.process += run.nworkers
            time.sleep(rng.random() * run.think)
        for idx in list(self.conns):
            self.conns.pop(idx).disconnect()


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------

def make_schedule(rng, kinds, duration):
    """[(start offset, kind, hold seconds)]: every kind once in a shuffled
    order, then random kinds, until the load phase ends."""
    order = list(kinds)
    rng.shuffle(order)
    events, t = [], rng.uniform(2.0, 3.0)
    while True:
        kind = order.pop(0) if order else rng.choice(kinds)
        hold = 0.0 if kind == "transfer" else rng.uniform(2.0, 5.0)
        if t + hold > duration - 2.0 and events:
            break
        events.append((t, kind, hold))
        t += hold + rng.uniform(1.5, 3.0)
    return events


class Nemesis(threading.Thread):
    def __init__(self, run, schedule):
        super().__init__(daemon=True)
        self.run_ = run
        self.schedule = schedule
        self.rng = random.Random("%s:nemesis" % run.seed)
        self.log = []      # what was injected, readable
        self.injected = 0
        self.abort = threading.Event()

    def note(self, text):
        self.log.append("t=%5.1f %s" % (time.monotonic() - self.run_.t0, text))

    def sleep(self, secs):
        self.abort.wait(secs)

    def leader_or_any(self):
        c = self.run_.cluster
        lead = c.wait_leader(3)
        if lead is not None:
            return lead, "leader"
        live = [n for n in c.nodes if n.alive() and not n.stopped]
        return self.rng.choice(live or c.nodes), "node (no leader known)"

    def run(self):
        c = self.run_.cluster
        try:
            for at, kind, hold in self.schedule:
                delay = self.run_.t0 + at - time.monotonic()
                if delay > 0:
                    self.sleep(delay)
                if self.abort.is_set():
                    return
                self.inject(c, kind, hold)
                self.injected += 1
        except Exception as e:  # a fault that could not be injected
            self.note("nemesis error: %r" % e)
        finally:
            self.heal_all()

    def inject(self, c, kind, hold):
        n = len(c.nodes)
        if kind in ("kill-leader", "kill-follower"):
            lead, what = self.leader_or_any()
            if kind == "kill-follower":
                others = [x for x in c.nodes if x is not lead and x.alive()] or [lead]
                victim, what = self.rng.choice(others), "follower"
            else:
                victim = lead
            self.note("kill -9 %s n%d for %.1fs" % (what, victim.id, hold))
            victim.kill9()
            self.sleep(hold)
            victim.start()
            self.note("restarted n%d" % victim.id)
        elif kind in ("stop-leader", "stop-minority", "stop-majority"):
            if kind == "stop-leader":
                lead, what = self.leader_or_any()
                victims = [lead]
            else:
                k = (n - 1) // 2 if kind == "stop-minority" else n // 2 + 1
                victims = self.rng.sample(c.nodes, k)
                what = kind[5:]
            self.note("SIGSTOP %s %s for %.1fs" % (
                what, ",".join("n%d" % v.id for v in victims), hold))
            for v in victims:
                v.stop()
            self.sleep(hold)
            for v in victims:
                v.cont()
            self.note("SIGCONT")
        elif kind == "transfer":
            lead, _ = self.leader_or_any()
            target = self.rng.choice([x for x in c.nodes if x is not lead])
            try:
                r = call(lead.host, lead.redis_port, "RAFTKV", "TRANSFER", str(target.id),
                         timeout=2)
                res = Workload.decode(r)
            except Exception as e:
                res = "error: %s" % e
            self.note("RAFTKV TRANSFER %d on n%d: %s" % (target.id, lead.id, res))
        elif kind == "membership":
            lead, _ = self.leader_or_any()
            victim = self.rng.choice([x for x in c.nodes if x is not lead])
            try:
                r = call(lead.host, lead.redis_port, "RAFTKV", "NODE", "REMOVE",
                         str(victim.id), timeout=3)
                res = Workload.decode(r)
            except Exception as e:
                res = "error: %s" % e
            self.note("RAFTKV NODE REMOVE %d on n%d: %s" % (victim.id, lead.id, res))
            if res != "OK":
                return  # still a member: nothing to rejoin
            victim.kill9()
            shutil.rmtree(victim.dir, ignore_errors=True)
            self.note("n%d killed, data dir wiped, out for %.1fs" % (victim.id, hold))
            self.sleep(hold)
            via = self.rng.choice([x for x in c.nodes if x is not victim])
            victim.start(join="%s:%d" % (via.host, via.peer_port))
            self.note("n%d joins again through n%d" % (victim.id, via.id))
        elif kind in PARTITIONS:
            net = c.net
            if kind == "partition-leader":
                lead, what = self.leader_or_any()
                side = [lead]
            else:
                side = self.rng.sample(c.nodes, (n - 1) // 2)
                what = "minority"
            rest = [x for x in c.nodes if x not in side]
            for a in side:
                for b in rest:
                    net.cut(a.idx, b.idx)
            self.note("partition %s {%s} | {%s} for %.1fs" % (
                what, ",".join("n%d" % x.id for x in side),
                ",".join("n%d" % x.id for x in rest), hold))
            self.sleep(hold)
            net.heal()
            self.note("healed partition")
        else:
            raise ValueError("unknown fault %r" % kind)

    def heal_all(self):
        c = self.run_.cluster
        if c.net is not None and c.net.cuts:
            c.net.heal()
            self.note("healed partition")
        for node in c.nodes:
            if node.stopped:
                node.cont()
                self.note("SIGCONT n%d" % node.id)
            if node.killed:
                join = None
                if not os.path.exists(node.dir):  # removed, wiped: join again
                    via = next(x for x in c.nodes if x is not node and x.alive())
                    join = "%s:%d" % (via.host, via.peer_port)
                node.start(join=join)
                self.note("restarted n%d%s" % (node.id, " (joining)" if join else ""))


# ---------------------------------------------------------------------------
# A run
# ---------------------------------------------------------------------------

class Run:
    """One scenario: workload + faults + seed. run() returns a Result."""

    def __init__(self, server, workload, faults, seed, duration=28.0, nodes=3,
                 workers=6, think=0.02, name=None, keep=False, use_net=None,
                 max_steps=1_500_000, check_time=60.0):
        self.server = server
        self.workload = WORKLOADS[workload]()
        self.faults = list(faults)
        self.seed = seed
        self.duration = duration
        self.n = nodes
        self.nworkers = workers
        self.think = think
        self.name = name or "%s/%s" % (workload, "+".join(faults))
        self.keep = keep
        self.use_net = any(f in PARTITIONS for f in faults) if use_net is None else use_net
        self.max_steps = max_steps
        self.check_time = check_time
        self.op_timeout = 2.5
        self.read_deadline_ms = 1000
        self.history = []
        self.stop_workers = threading.Event()
        self.notes = []
        self.cluster = None
        self.t0 = time.monotonic()

    def run(self):
        t_start = time.monotonic()
        cleanup_leftovers()
        res = Result(self)
        phase = [t_start]

        def lap(name):
            now = time.monotonic()
            res.phases.append("%s %.1fs" % (name, now - phase[0]))
            phase[0] = now

        rng = random.Random("%s:%s:schedule" % (self.seed, self.name))
        net = None
        if self.use_net:
            net = Net(self.n)
            try:
                net.setup()
            except Exception as e:
                net.teardown()
                net = None
                self.faults = [f for f in self.faults if f not in PARTITIONS] or [
                    "kill-leader", "stop-majority"]
                res.notes.append("partitions skipped (no network namespaces: %s); faults "
                                 "instead: %s" % (e, ", ".join(self.faults)))
        self.cluster = Cluster(self.server, self.n, net,
                               ["--election-ms", "500", "--heartbeat-ms", "50",
                                # Also bounds a leader's hand-over at shutdown
                                # when its peers are already gone.
                                "--verify-timeout-ms", str(self.read_deadline_ms)])
        nemesis = None
        workers = []
        try:
            try:
                if self.cluster.start() is None:
                    res.problems.append("no leader after start:\n" + "\n".join(
                        n.log_tail(5) for n in self.cluster.nodes))
                    return res.done(t_start)
                if net is not None:
                    res.notes.append("nodes in namespaces on %s0/24" % net.prefix)
                lap("start")
                schedule = make_schedule(rng, self.faults, self.duration)
                self.t0 = time.monotonic()
                nemesis = Nemesis(self, schedule)
                workers = [Worker(self, w) for w in range(self.nworkers)]
                for w in workers:
                    w.start()
                nemesis.start()
                end = self.t0 + self.duration
                while time.monotonic() < end:
                    time.sleep(0.2)
                # Stop the workers first (their last ops may be in doubt),
                # then heal and let the cluster recover.
                self.stop_workers.set()
                for w in workers:
                    w.join(timeout=30)
                if any(w.is_alive() for w in workers):
                    # Its op would land after the final reads, which the
                    # counter and append checks take as the last word.
                    raise RuntimeError("harness: a worker did not stop within 30 s")
                nemesis.join(timeout=15)
                nemesis.abort.set()
                nemesis.join(timeout=15)
                lap("load")
                res.faults = nemesis.log
                res.injected = nemesis.injected
                self.crashes(res)
                self.final_reads(res)
                lap("recovery and final reads")
                for w in workers:
                    for k, v in w.errors.items():
                        res.errors[k] = res.errors.get(k, 0) + v
            finally:
                self.stop_workers.set()
                if nemesis is not None:
                    nemesis.abort.set()
                    nemesis.join(timeout=15)
                res.problems += self.cluster.close()
                if net is not None:
                    net.teardown()
                lap("shutdown")
            self.check(res)
            lap("check")
            if res.verdict == "fail" or self.keep:
                res.artifacts = self.save(res)
        except BaseException:
            res.artifacts = self.save(res)
            raise
        finally:
            self.cluster.remove()
        return res.done(t_start)

    def crashes(self, res):
        for node in self.cluster.nodes:
            if node.proc.poll() is not None and not node.killed:
                res.problems.append("node %d exited by itself with %s:\n%s" % (
                    node.id, node.proc.returncode, node.log_tail(30)))

    def final_reads(self, res):
        """Every key read through every node once the cluster serves again;
        a node that cannot serve within the limit is a problem."""
        c = self.cluster
        if c.wait_leader(30) is None:
            res.problems.append("no leader 30 s after healing")
            return
        fid = 10_000
        for node in c.nodes:
            for key in self.workload.keys():
                deadline = time.monotonic() + 20
                while True:
                    op = checker.Op(fid, key, "read", node=node.id, final=True)
                    op.invoke = time.monotonic()
                    try:
                        resp = call(node.host, node.redis_port,
                                    *self.workload.read_args(key), timeout=3)
                        op.complete = time.monotonic()
                        op.out = self.workload.out("read", resp)
                        self.history.append(op)
                        break
                    except Exception as e:
                        if time.monotonic() > deadline:
                            res.problems.append("node %d could not serve a read of %s 20 s after "
                                                "healing: %s" % (node.id, key, e))
                            break
                        time.sleep(0.2)
                fid += 1

    def check(self, res):
        t = time.monotonic()
        rep = checker.check_history(self.history, self.workload.model,
                                    max_steps=self.max_steps, time_limit=self.check_time)
        res.check_time = time.monotonic() - t
        cas = [o for o in self.history if o.f == "cas"]
        if cas:
            res.notes.append("cas: %d won, %d lost (value differed), %d aborted "
                             "(null EXEC), %d unknown" % (
                                 sum(o.type == "ok" and o.out is True for o in cas),
                                 sum(o.type == "ok" and o.out is False for o in cas),
                                 sum(o.type == "fail" for o in cas),
                                 sum(o.type == "info" for o in cas)))
        res.report = rep
        res.verdict = rep.verdict
        if res.problems:
            res.verdict = "fail"

    def save(self, res):
        d = tempfile.mkdtemp(prefix="raftkv-jepsen-%s-%s-" % (
            self.name.replace("/", "_").replace("+", "_"), self.seed))
        checker.save_history(self.history, os.path.join(d, "history.jsonl"))
        for node in self.cluster.nodes:
            if os.path.exists(node.log):
                shutil.copy(node.log, d)
        with open(os.path.join(d, "report.txt"), "w") as f:
            f.write("\n".join(res.lines(verbose=True)) + "\n")
        return d


class Result:
    def __init__(self, run):
        self.run = run
        self.verdict = "fail"
        self.report = None
        self.problems = []
        self.notes = []
        self.faults = []
        self.injected = 0
        self.errors = {}
        self.phases = []
        self.check_time = 0.0
        self.duration = 0.0
        self.artifacts = None

    def done(self, t_start):
        self.duration = time.monotonic() - t_start
        if self.report is None:
            self.verdict = "fail"
        return self

    def lines(self, verbose=False):
        r = self.run
        out = ["scenario %s, seed %s, %d nodes, %d workers, %.0f s load" % (
            r.name, r.seed, r.n, r.nworkers, r.duration)]
        out.append("reproduce: python3 tests/jepsen/harness.py --workload %s --faults %s "
                   "--seed %s --time %g --nodes %d" % (r.workload.model, ",".join(r.faults),
                                                       r.seed, r.duration, r.n))
        out += r.notes + self.notes
        if self.report is not None:
            out.append("checked " + self.report.summary())
            st = sum(k.states for k in self.report.keys)
            out.append("search: %d states in %.1fs" % (st, self.check_time))
        out.append("faults injected: %d" % self.injected)
        out += ["  " + x for x in self.faults]
        if self.errors:
            out.append("client errors: " + ", ".join(
                "%s %d" % kv for kv in sorted(self.errors.items())))
        out.append("whole run %.1fs: %s" % (self.duration, ", ".join(self.phases)))
        if self.verdict != "ok" or verbose:
            if self.report is not None and self.report.verdict != "ok":
                out.append(self.report.text())
            out += self.problems
        if self.artifacts:
            out.append("history, report and server logs kept in " + self.artifacts)
        return out


def default_server():
    s = os.environ.get("RAFTKV_SERVER")
    if s:
        return s
    for cand in ("build/server/raftkv-server", "build-jepsen/server/raftkv-server"):
        p = os.path.join(HERE, "..", "..", cand)
        if os.path.exists(p):
            return os.path.abspath(p)
    sys.exit("set RAFTKV_SERVER to the raftkv-server binary")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--workload", choices=sorted(WORKLOADS))
    ap.add_argument("--faults", help="comma list of: " + ", ".join(ALL_FAULTS))
    ap.add_argument("--seed", type=int)
    ap.add_argument("--time", type=float, default=28.0, help="seconds of load")
    ap.add_argument("--nodes", type=int, default=3, choices=(3, 5))
    ap.add_argument("--workers", type=int, default=6)
    ap.add_argument("--keep", action="store_true", help="keep history and logs")
    a = ap.parse_args()
    if a.scenario:
        workload, faults = SCENARIOS[a.scenario]
    else:
        workload = a.workload or "register"
        faults = a.faults.split(",") if a.faults else ["kill-leader", "transfer"]
    for f in faults:
        if f not in ALL_FAULTS:
            ap.error("unknown fault %r" % f)
    seed = a.seed if a.seed is not None else random.randrange(1 << 31)
    print("seed %d" % seed, flush=True)
    res = Run(default_server(), workload, faults, seed, duration=a.time, nodes=a.nodes,
              workers=a.workers, name=a.scenario, keep=a.keep).run()
    print("\n".join(res.lines()))
    print("RESULT %s %s seed=%d" % (res.verdict, a.scenario or "%s/%s" % (
        workload, "+".join(faults)), seed))
    sys.exit(0 if res.verdict == "ok" else 1)


if __name__ == "__main__":
    main()
