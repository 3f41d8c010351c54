"""Network namespaces for partitions in the Jepsen-style runs.

Each node runs in its own namespace (ip netns exec), joined to a bridge in
the root namespace by a veth pair, with an address in a private
10.x.y.0/24 chosen here; clients connect from the root namespace over the
bridge, so all traffic stays on that bridge. A partition between two nodes
is a pair of permanent neighbour (ARP) entries, one in each node's
namespace, giving the other's address a MAC no interface has: packets
between them vanish silently, as with a DROP rule, while clients still
reach both. (This needs neither iptables/nft, absent here, nor kernel
modules for tc; blackhole routes would fail sends at once with EINVAL
instead of dropping them.) Healing deletes the entries.

Names carry the owning process id: namespaces rkvj-<pid>-n<i>, links
rkvj<pid>b (bridge), rkvj<pid>h<i> / rkvj<pid>p<i> (veth ends). They are
removed in teardown(), at exit and (through the callers' finally blocks)
on SIGTERM; cleanup_leftovers() removes those of a run whose process is
gone, with any server left running inside, and its data dirs.
"""

import atexit
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

PREFIX = "rkvj"
RUN_PREFIX = "raftkv-jepsen-run"  # data dirs: <tmp>/raftkv-jepsen-run<pid>-XXXX

_nets = []  # every live Net


def _teardown_all():
    for net in list(_nets):
        net.teardown()


atexit.register(_teardown_all)


# ---------------------------------------------------------------------------
# Network namespaces
# ---------------------------------------------------------------------------

def _ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=10)
    if check and r.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def _owner_alive(pid):
    # Any live process with that pid counts: a reused pid only delays the
    # cleanup, while a wrong "dead" would break a concurrent run.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def cleanup_leftovers():
    """Removes what earlier runs left behind when their process died
    (kill -9, a crash): servers still running from their data dirs, the
    data dirs, and their namespaces (with any process inside) and links."""
    tmp = tempfile.gettempdir()
    mine = re.compile(r"^%s(\d+)-" % RUN_PREFIX)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        for a in argv:
            m = mine.match(os.path.basename(os.path.dirname(a.decode(errors="replace"))))
            if m and a.startswith(tmp.encode()) and not _owner_alive(int(m.group(1))):
                try:
                    os.kill(int(pid), signal.SIGCONT)
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
                break
    for name in os.listdir(tmp):
        m = mine.match(name)
        if m and not _owner_alive(int(m.group(1))):
            shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)
    if shutil.which("ip") is None:
        return
    for line in _ip("netns", "list", check=False).splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(r"^%s-(\d+)-n\d+$" % PREFIX, name)
        if not m or _owner_alive(int(m.group(1))):
            continue
        for pid in _ip("netns", "pids", name, check=False).split():
            try:
                os.kill(int(pid), signal.SIGCONT)
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        _ip("netns", "del", name, check=False)
    for line in _ip("-o", "link", "show", check=False).splitlines():
        parts = line.split(":")
        if len(parts) < 2:
            continue
        name = parts[1].strip().split("@")[0]
        m = re.match(r"^%s(\d+)[bhp]\d*$" % PREFIX, name)
        if m and not _owner_alive(int(m.group(1))):
            _ip("link", "del", name, check=False)


# A locally administered unicast MAC that no interface has. A frame sent to
# it is flooded by the bridge and discarded by every receiver (not its
# address), so a packet sent there vanishes silently, as with a DROP rule.
BLACK_MAC = "02:72:6b:76:6a:00"


class Net:
    """A bridge in the root namespace and one namespace per node."""

    def __init__(self, n):
        self.n = n
        self.tag = "%s%d" % (PREFIX, os.getpid())
        self.bridge = self.tag + "b"
        self.ns = ["%s-%d-n%d" % (PREFIX, os.getpid(), i + 1) for i in range(n)]
        self.cuts = set()  # (i, j): node i drops packets to node j
        self.prefix = None
        self.up = False

    def _pick_subnet(self):
        used = _ip("-o", "addr", "show", check=False) + _ip("route", "show", "table", "all",
                                                            check=False)
        rng = random.Random(os.getpid())
        for _ in range(200):
            cand = "10.%d.%d." % (rng.randrange(100, 250), rng.randrange(1, 250))
            if cand not in used:
                return cand
        raise RuntimeError("no free 10.x.y.0/24")

    def addr(self, i):
        return self.prefix + str(11 + i)

    def setup(self):
        if os.geteuid() != 0:
            raise RuntimeError("not root")
        if shutil.which("ip") is None:
            raise RuntimeError("no ip command")
        _nets.append(self)
        self.up = True
        self.prefix = self._pick_subnet()
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", self.prefix + "1/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for i, ns in enumerate(self.ns):
            host, peer = "%sh%d" % (self.tag, i + 1), "%sp%d" % (self.tag, i + 1)
            _ip("netns", "add", ns)
            _ip("link", "add", host, "type", "veth", "peer", "name", peer)
            _ip("link", "set", peer, "netns", ns)
            _ip("link", "set", host, "master", self.bridge)
            _ip("link", "set", host, "up")
            _ip("-n", ns, "addr", "add", self.addr(i) + "/24", "dev", peer)
            _ip("-n", ns, "link", "set", peer, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        # The bridge forwards once its ports are up; check every node can be
        # reached from here before trusting it.
        deadline = time.monotonic() + 10
        for i in range(self.n):
            while True:
                if self._reachable(i):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("namespace %s not reachable over the bridge" % self.ns[i])
                time.sleep(0.1)

    def _reachable(self, i):
        # A listener inside the namespace would need a process; a connect
        # that is refused (RST) proves the path works just as well.
        s = socket.socket()
        s.settimeout(0.5)
        try:
            s.connect((self.addr(i), 9))
            return True
        except ConnectionRefusedError:
            return True
        except OSError:
            return False
        finally:
            s.close()

    def exec_prefix(self, i):
        return ["ip", "netns", "exec", self.ns[i]]

    def dev(self, i):
        return "%sp%d" % (self.tag, i + 1)

    def cut(self, a, b):
        """Drops traffic between nodes a and b (indexes), both ways: each
        side's neighbour entry for the other points at BLACK_MAC."""
        for i, j in ((a, b), (b, a)):
            if (i, j) not in self.cuts:
                _ip("-n", self.ns[i], "neigh", "replace", self.addr(j), "lladdr", BLACK_MAC,
                    "dev", self.dev(i), "nud", "permanent")
                self.cuts.add((i, j))

    def heal(self):
        for i, j in sorted(self.cuts):
            _ip("-n", self.ns[i], "neigh", "del", self.addr(j), "dev", self.dev(i), check=False)
        self.cuts.clear()

    def teardown(self):
        if not self.up:
            return
        self.up = False
        for ns in self.ns:
            for pid in _ip("netns", "pids", ns, check=False).split():
                try:
                    os.kill(int(pid), signal.SIGCONT)
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
            _ip("netns", "del", ns, check=False)  # takes the veth pair with it
        for i in range(self.n):
            _ip("link", "del", "%sh%d" % (self.tag, i + 1), check=False)
        _ip("link", "del", self.bridge, check=False)
        if self in _nets:
            _nets.remove(self)
