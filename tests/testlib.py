"""What every Python test harness here shares: free 127.0.0.1 ports, the
processes a test started (all killed at exit, stopped ones included, and
on meson's SIGTERM), temporary directories removed at exit, waiting for a
condition, and the TAP reporter (one line per test, the plan last;
TAP_ONLY=<substring> runs only the tests whose names contain it).

A harness adds the tests/ folder to sys.path and imports this module."""

import atexit
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback

_procs = []    # every process track() was given
_tmpdirs = []  # every directory tmpdir() made


def cleanup():
    """Kills every tracked process still running (SIGCONT first, so that a
    stopped one dies too) and removes the temporary directories."""
    for p in _procs:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait(timeout=5)
            except Exception:
                pass
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(cleanup)


def _on_sigterm(signum, frame):
    # meson sends SIGTERM on timeout: unwind so finally blocks and atexit run.
    raise SystemExit(128 + signum)


if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _on_sigterm)


def track(proc):
    """Registers @proc to be killed at exit; returns it."""
    _procs.append(proc)
    return proc


def tmpdir(prefix="raftkv-test-"):
    """A new temporary directory, removed at exit."""
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


def free_ports(n, host="127.0.0.1"):
    """n distinct free TCP ports on @host (bound, read back, released)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind((host, 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def wait_for(cond, timeout, what):
    """Polls @cond every 50 ms until it is true; raises after @timeout s."""
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out (%ss) waiting for %s" % (timeout, what))


class Tap:
    """Runs named test functions and prints TAP; the plan comes last."""

    def __init__(self):
        self.results = []

    def comment(self, text):
        for line in str(text).splitlines():
            print("# " + line)
        sys.stdout.flush()

    def _emit(self, ok, name, diag):
        self.results.append(ok)
        print("%s %d - %s" % ("ok" if ok else "not ok", len(self.results),
                              name.replace("\n", " ")))
        self.comment(diag)

    def run(self, name, fn, *args):
        """Runs fn(*args) as test @name; returns what it returned (None when
        it failed or TAP_ONLY left it out)."""
        only = os.environ.get("TAP_ONLY")  # local runs: a substring of names
        if only and only not in name:
            return None
        try:
            value = fn(*args)
        except Exception:
            self._emit(False, name, traceback.format_exc())
            return None
        self._emit(True, name, "")
        return value

    def check(self, name, ok, diag=""):
        """Records a test whose outcome is already known."""
        self._emit(bool(ok), name, "" if ok else diag)

    def done(self):
        """Prints the plan; returns the exit status (1 if any test failed or
        none ran)."""
        print("1..%d" % len(self.results))
        sys.stdout.flush()
        return 0 if self.results and all(self.results) else 1

    def finish(self):
        """done(), then cleanup() and exit with its status at once: a worker
        thread a failed test left running cannot hold the process (and the
        suite) until meson's timeout."""
        status = self.done()
        cleanup()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
