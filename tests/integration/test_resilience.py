#!/usr/bin/python3
"""Issue 5: the stall watch and the node's self-defence, on a real process.

- event_loop_lag lines and their /metrics series;
- a synchronous stall (DEBUG SLEEP) longer than the election timeout logs
  heartbeat_gap severity=critical for libraft's tick; a control run without
  a stall logs none;
- DEBUG is refused unless enable-debug-command allows it;
- maxmemory: writes refused with -OOM, reads and deletes still served;
- the memory watch: above the threshold at start, or crossing it under
  load, exactly one graceful shutdown with exit status 2, no acknowledged
  write lost;
- a failing disk (ext4 image shut down under the node) is fail-stop: exit
  status 3 with a disk_error line naming the failure.
"""

import fcntl
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RaftkvServer  # noqa: E402


def events(srv, name):
    return [e for e in srv.log_events() if e.get("event") == name]


def metrics(srv):
    url = "http://127.0.0.1:%d/metrics" % srv.http_port
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def wait_exit(srv, timeout):
    try:
        return srv.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("still running after %ss\n%s" % (timeout, srv.log_tail()))


def main():
    tap = harness.Tap()

    def t_lag_line():
        srv = RaftkvServer(extra=["--loop-monitor-interval-ms", "200"]).start()
        try:
            harness.wait_for(lambda: len(events(srv, "event_loop_lag")) >= 2, 10,
                             "two event_loop_lag lines")
            e = events(srv, "event_loop_lag")[-1]
            for k in ("p50_ms", "p99_ms", "max_ms", "mean_ms", "utilization", "samples"):
                assert k in e, e
            assert e["samples"] > 0, e
            assert 0 <= float(e["utilization"]) <= 1, e
            m = metrics(srv)
            for name in ("raftkv_event_loop_lag_window_seconds{quantile=\"0.99\"}",
                         "raftkv_event_loop_utilization_ppm",
                         "raftkv_duty_late_max_seconds{duty=\"raft_tick\"}",
                         "raftkv_heartbeat_gaps_total{duty=\"raft_tick\",severity=\"critical\"}",
                         "raftkv_slow_disk_appends_total",
                         "raftkv_used_memory_bytes"):
                assert name in m, (name, m[:3000])
            info = srv.info("memory")
            for k in ("event_loop_lag_p99_ms", "event_loop_utilization",
                      "heartbeat_gaps_critical", "maxmemory", "memory_shutdown_threshold_mb"):
                assert k in info, info
        finally:
            srv.close()

    def t_control_no_gap():
        # A busy but unstalled node, for several election timeouts.
        srv = RaftkvServer(extra=["--heartbeat-ms", "250", "--election-ms", "2500",
                                  "--loop-monitor-interval-ms", "500"]).start()
        try:
            c = srv.client()
            end = time.time() + 6
            i = 0
            while time.time() < end:
                p = c.pipeline(transaction=False)
                for _ in range(50):
                    p.set("k%d" % (i % 1000), "v")
                    i += 1
                p.execute()
            assert not events(srv, "heartbeat_gap"), events(srv, "heartbeat_gap")
            info = srv.info("memory")
            assert int(info["heartbeat_gaps_critical"]) == 0, info
            assert int(info["heartbeat_gaps_warn"]) == 0, info
        finally:
            srv.close()

    def t_stall_critical():
        srv = RaftkvServer(extra=["--heartbeat-ms", "100", "--election-ms", "500",
                                  "--enable-debug-command", "local",
                                  "--loop-monitor-interval-ms", "200"]).start()
        try:
            r = srv.resp()
            assert r.call("SET", "a", "1") == "OK"
            t0 = time.time()
            assert r.call("DEBUG", "SLEEP", "1.2") == "OK"
            assert time.time() - t0 >= 1.2
            assert r.call("GET", "a") == b"1"
            harness.wait_for(lambda: any(e.get("duty") == "raft_tick" and
                                         e.get("severity") == "critical"
                                         for e in events(srv, "heartbeat_gap")),
                             5, "a critical heartbeat_gap for raft_tick")
            gap = [e for e in events(srv, "heartbeat_gap") if e.get("duty") == "raft_tick"][0]
            assert gap["late_ms"] >= 500, gap
            assert gap["level"] == "error", gap
            harness.wait_for(lambda: any(e["max_ms"] >= 1000 for e in events(srv, "event_loop_lag")),
                             5, "the stall in an event_loop_lag line")
            info = srv.info("memory")
            assert int(info["heartbeat_gaps_critical"]) >= 1, info
            m = metrics(srv)
            line = [x for x in m.splitlines()
                    if x.startswith("raftkv_heartbeat_gaps_total{duty=\"raft_tick\",severity=\"critical\"")][0]
            assert float(line.split()[-1]) >= 1, line
            r.close()
        finally:
            srv.close()

    def t_debug_gated():
        srv = RaftkvServer().start()
        try:
            r = srv.resp()
            e = r.call("DEBUG", "SLEEP", "0")
            assert isinstance(e, harness.Err) and "DEBUG command not allowed" in e, e
            r.close()
        finally:
            srv.close()
        srv = RaftkvServer(extra=["--enable-debug-command", "yes"]).start()
        try:
            r = srv.resp()
            assert r.call("DEBUG", "SLEEP", "0") == "OK"
            h = r.call("DEBUG", "HELP")
            assert isinstance(h, list) and any("SLEEP" in x for x in h), h
            e = r.call("DEBUG", "NOPE")
            assert isinstance(e, harness.Err) and "unknown subcommand" in e, e
            e = r.call("DEBUG", "SLEEP", "abc")
            assert isinstance(e, harness.Err) and "not a valid float" in e, e
            r.close()
        finally:
            srv.close()
        p = subprocess.run([harness.SERVER, "--enable-debug-command", "maybe"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=15,
                           cwd=harness.tmpdir())
        assert p.returncode == 1 and b"no|yes|local" in p.stderr, p

    def t_maxmemory():
        srv = RaftkvServer().start()
        try:
            c = srv.client()
            c.set("keep", "x" * 1000)
            c.set("gone", "y")
            assert c.config_set("maxmemory", "1") is True
            assert c.config_get("maxmemory") == {"maxmemory": "1"}
            import redis
            for cmd in (lambda: c.set("new", "v"), lambda: c.incr("n"),
                        lambda: c.append("keep", "z"), lambda: c.rpush("l", "a")
                        if hasattr(c, "rpush") else c.set("new2", "v")):
                try:
                    cmd()
                    raise AssertionError("write accepted above maxmemory")
                except redis.exceptions.ResponseError as e:
                    if "unknown command" in str(e):
                        continue
                    assert str(e).startswith("OOM command not allowed when used memory > "
                                             "'maxmemory'"), e
            assert c.get("keep") == b"x" * 1000
            assert c.delete("gone") == 1
            assert c.exists("gone") == 0
            assert int(srv.info("stats")["oom_rejections"]) >= 3
            assert int(srv.info("memory")["maxmemory"]) == 1
            assert c.config_set("maxmemory", "0") is True
            assert c.set("new", "v") is True
            assert c.get("new") == b"v"
        finally:
            srv.close()
        srv = RaftkvServer(extra=["--maxmemory", "1mb"]).start()
        try:
            c = srv.client()
            assert int(srv.info("memory")["maxmemory"]) == 1048576
            import redis
            try:
                for i in range(100):
                    c.set("big%d" % i, "v" * 65536)
                raise AssertionError("2 MB of values accepted under maxmemory 1mb")
            except redis.exceptions.ResponseError as e:
                assert str(e).startswith("OOM "), e
            assert c.get("big0") == b"v" * 65536
        finally:
            srv.close()

    def t_memory_threshold_at_start():
        srv = RaftkvServer(extra=["--memory-shutdown-threshold-mb", "1"])
        srv.spawn()
        rc = wait_exit(srv, 15)
        assert rc == 2, (rc, srv.log_tail())
        ev = events(srv, "memory_threshold_exceeded")
        assert len(ev) == 1, srv.log_tail()
        # The data dir is intact: a start without the threshold serves.
        srv.extra = []
        srv.start()
        try:
            assert srv.resp().call_close("PING") == "PONG"
        finally:
            srv.close()

    def t_memory_threshold_crossing():
        srv = RaftkvServer().start()
        base_mb = srv.rss_kb() // 1024
        srv.stop()
        limit = base_mb + 48
        srv.extra = ["--memory-shutdown-threshold-mb", str(limit),
                     "--memory-poll-interval-ms", "20"]
        srv.start()
        acked = []
        try:
            c = srv.client(socket_timeout=10)
            val = b"m" * (256 * 1024)
            try:
                for i in range(2000):  # up to 500 MB: far past the threshold
                    c.set("mem%d" % i, val)
                    acked.append(i)
            except Exception:
                pass
            rc = wait_exit(srv, 20)
            assert rc == 2, (rc, srv.log_tail())
            assert len(acked) >= 10, (len(acked), limit)
            ev = events(srv, "memory_threshold_exceeded")
            assert len(ev) == 1, ev
            assert ev[0]["threshold_bytes"] == limit << 20 and ev[0]["rss_bytes"] >= limit << 20, ev
            # Graceful: the shutdown line follows, and nothing acknowledged is lost.
            srv.extra = []
            srv.start()
            c = srv.client()
            missing = [i for i in acked if c.strlen("mem%d" % i) != len(val)]
            assert not missing, (len(missing), len(acked))
        finally:
            srv.close()

    def t_disk_failstop():
        if os.geteuid() != 0 or shutil.which("mkfs.ext4") is None:
            harness.note("SKIP: needs root and mkfs.ext4")
            return
        root = harness.tmpdir("raftkv-disk-")
        img = os.path.join(root, "disk.img")
        mnt = os.path.join(root, "mnt")
        os.mkdir(mnt)
        with open(img, "wb") as f:
            f.truncate(256 << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", img], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        m = subprocess.run(["mount", "-o", "loop", img, mnt], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if m.returncode != 0:
            harness.note("SKIP: cannot loop-mount here: %s" % m.stderr.decode().strip())
            return
        try:
            srv = RaftkvServer(data_dir=os.path.join(mnt, "data")).start()
            try:
                c = srv.client(socket_timeout=10)
                c.set("before", "1")
                # EXT4_IOC_SHUTDOWN with EXT4_GOING_FLAGS_NOLOGFLUSH: every
                # later write on this filesystem fails with EIO.
                fd = os.open(mnt, os.O_RDONLY)
                try:
                    fcntl.ioctl(fd, 0x8004587D, struct.pack("I", 2))
                finally:
                    os.close(fd)
                try:
                    c.set("after", "2")
                    raise AssertionError("a write was acknowledged on a dead disk")
                except Exception as e:
                    if isinstance(e, AssertionError):
                        raise
                rc = wait_exit(srv, 15)
                assert rc == 3, (rc, srv.log_tail())
                ev = events(srv, "disk_error")
                assert ev, srv.log_tail()
                assert ev[0]["level"] == "error", ev
            finally:
                srv.close()
        finally:
            subprocess.run(["umount", "-l", mnt], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)

    tap.run("event_loop_lag lines, /metrics series and INFO fields", t_lag_line)
    tap.run("control run: no heartbeat_gap without a stall", t_control_no_gap)
    tap.run("a stall past the election timeout: heartbeat_gap critical (raft_tick)",
            t_stall_critical)
    tap.run("DEBUG is gated by enable-debug-command", t_debug_gated)
    tap.run("maxmemory: -OOM on writes, reads and deletes served", t_maxmemory)
    tap.run("memory watch: above the threshold at start exits 2", t_memory_threshold_at_start)
    tap.run("memory watch: crossing under load, one shutdown, exit 2, nothing lost",
            t_memory_threshold_crossing)
    tap.run("a failing disk is fail-stop: exit 3 with disk_error", t_disk_failstop)
    tap.finish()


if __name__ == "__main__":
    main()
