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

    def ext4_disk():
        """A fresh 256 MiB ext4 image loop-mounted in a temp dir: its mount
        point, or None (with a SKIP note) where that cannot be done."""
        if os.geteuid() != 0 or shutil.which("mkfs.ext4") is None:
            harness.note("SKIP: needs root and mkfs.ext4")
            return None
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
            return None
        return mnt

    def t_disk_failstop():
        mnt = ext4_disk()
        if mnt is None:
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

    def t_output_buffer_limit():
        srv = RaftkvServer(extra=["--client-output-buffer-limit", "normal 64mb 4mb 1"]).start()
        try:
            c = srv.client()
            assert c.config_get("client-output-buffer-limit")["client-output-buffer-limit"] \
                .startswith("normal 67108864 4194304 1 "), c.config_get("client-output-buffer-limit")
            c.set("big", b"x" * (1 << 20))
            rss0 = srv.rss_kb()

            def slow_reader(n):
                sock = socket.create_connection(("127.0.0.1", srv.port))
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.sendall(harness.encode("GET", "big") * n)
                return sock

            def closed_by_server(sock, timeout):
                # Read nothing until the deadline, then drain: a closed
                # connection ends in EOF or a reset.
                end = time.time() + timeout
                while time.time() < end:
                    if events_of("client_output_buffer_limit") > seen:
                        break
                    time.sleep(0.1)
                sock.settimeout(5)
                try:
                    while sock.recv(1 << 20):
                        pass
                    return True
                except (ConnectionResetError, socket.timeout):
                    return False if isinstance(sys.exc_info()[1], socket.timeout) else True

            def events_of(name):
                return len(events(srv, name))

            # Soft: ~20 MB pending, under hard, over soft for > 1 s.
            seen = 0
            sock = slow_reader(20)
            assert closed_by_server(sock, 10)
            ev = events(srv, "client_output_buffer_limit")
            assert len(ev) == 1 and ev[0]["limit"] == "soft", ev
            # Hard: 300 MB of replies asked for, never read.
            seen = 1
            assert c.config_set("client-output-buffer-limit", "normal 16mb 0 0") is True
            sock = slow_reader(300)
            assert closed_by_server(sock, 10)
            ev = events(srv, "client_output_buffer_limit")
            assert len(ev) == 2 and ev[1]["limit"] == "hard", ev
            assert int(srv.info("stats")["client_output_buffer_limit_disconnections"]) == 2
            assert srv.rss_kb() - rss0 < 200 * 1024, (rss0, srv.rss_kb())
            # A client that reads keeps getting big replies.
            for _ in range(40):
                assert len(c.get("big")) == 1 << 20
            try:
                c.config_set("client-output-buffer-limit", "normal 1mb")
                raise AssertionError("a malformed limit was accepted")
            except Exception as e:
                assert "client-output-buffer-limit" in str(e), e
        finally:
            srv.close()

    def t_per_ip_cap():
        srv = RaftkvServer(extra=["--maxclients-per-ip", "3"]).start()
        try:
            held = [srv.resp() for _ in range(3)]
            for r in held:
                assert r.call("PING") == "PONG"
            extra = srv.resp()
            e = extra.read()
            assert isinstance(e, harness.Err) and e == "ERR max number of clients per IP reached", e
            assert extra.is_closed()
            held.pop().close()
            time.sleep(0.2)
            again = srv.resp()
            assert again.call("PING") == "PONG"
            assert int(again.call("INFO", "stats").decode().split(
                "rejected_connections_per_ip:")[1].split()[0]) == 1
            assert again.call("CONFIG", "SET", "maxclients-per-ip", "0") == "OK"
            more = [srv.resp() for _ in range(5)]
            for r in more:
                assert r.call("PING") == "PONG"
        finally:
            srv.close()

    def t_heavy_budget():
        srv = RaftkvServer().start()
        try:
            c = srv.client()
            assert c.config_get("heavy-command-budget") == {"heavy-command-budget": "100000"}
            p = c.pipeline(transaction=False)
            for i in range(500):
                p.set("h%d" % i, "v")
            p.execute()
            assert len(c.keys("*")) == 500
            assert c.config_set("heavy-command-budget", "100") is True
            import redis
            try:
                c.keys("*")
                raise AssertionError("KEYS ran over the budget")
            except redis.exceptions.ResponseError as e:
                # redis-py keeps the BUSY prefix for this error class.
                assert str(e) == ("BUSY KEYS would examine 500 keys, more than "
                                  "heavy-command-budget (100); use SCAN"), e
            cur, keys = c.scan(0, count=10 ** 9)
            assert cur != 0 and len(keys) < 500, (cur, len(keys))
            seen = set(keys)
            while cur != 0:
                cur, keys = c.scan(cur, count=10 ** 9)
                seen.update(keys)
            assert len(seen) == 500
            assert int(srv.info("stats")["heavy_command_rejections"]) == 1
            c.set("la", "a" * 2000)
            c.set("lb", "a" * 2000)
            try:
                c.execute_command("LCS", "la", "lb")
                raise AssertionError("LCS ran over the budget")
            except redis.exceptions.ResponseError as e:
                assert str(e).startswith("BUSY LCS would fill"), e
            assert c.config_set("heavy-command-budget", "0") is True
            assert len(c.keys("*")) == 502
            # FLUSHALL of many keys returns at once; the memory comes back.
            p = c.pipeline(transaction=False)
            for i in range(50000):
                p.set("f%d" % i, "v" * 100)
            p.execute()
            assert c.flushall() is True
            assert c.dbsize() == 0
            harness.wait_for(lambda: int(srv.info("memory")["used_memory_dataset"]) < 1 << 20,
                             10, "the flushed keyspace to be freed")
        finally:
            srv.close()

    def snapshot_run(extra, nkeys):
        srv = RaftkvServer(extra=["--snapshot-threshold", "40", "--snapshot-trailing", "10",
                                  "--loop-monitor-interval-ms", "500"] + extra).start()
        c = srv.client(socket_timeout=60)
        p = c.pipeline(transaction=False)
        for b in range(nkeys // 1000):
            p.mset({"s%012d" % (b * 1000 + i): "v%d" % i for i in range(1000)})
            if b % 20 == 19:
                p.execute()
        p.execute()
        for i in range(120):  # past the threshold again with the keyspace loaded
            c.incr("ctr")
        return srv, c

    def t_snapshot_by_child():
        srv, c = snapshot_run([], 200000)
        try:
            harness.wait_for(lambda: any("200001 keys" in e.get("msg", "") or
                                         "200000 keys" in e.get("msg", "")
                                         for e in events(srv, "snapshot_taken")),
                             30, "a snapshot of the loaded keyspace")
            harness.wait_for(lambda: len(events(srv, "snapshot_written")) >= 1, 30,
                             "the child to write a snapshot")
            taken = events(srv, "snapshot_taken")
            assert all("written by a child" in e["msg"] for e in taken), taken
            gaps = [e for e in events(srv, "heartbeat_gap") if e.get("duty") == "snapshot"]
            assert not gaps, gaps
            assert not events(srv, "snapshot_failed"), events(srv, "snapshot_failed")
            srv.kill9()
            srv.start(timeout=30)
            c = srv.client()
            assert c.dbsize() == 200001
            assert c.get("ctr") == b"120"
            assert c.get("s000000123456") == b"v456"
            log = srv.log_text().split("--- start")[-1]
            assert "snapshot" in log
        finally:
            srv.close()
        # No snapshot writer outlives its server.
        out = subprocess.run(["pgrep", "-f", srv.data_dir], stdout=subprocess.PIPE)
        assert out.stdout.strip() == b"", out.stdout

    def t_snapshot_on_loop():
        srv, c = snapshot_run(["--snapshot-fork", "no"], 20000)
        try:
            harness.wait_for(lambda: len(events(srv, "snapshot_taken")) >= 1, 30,
                             "a snapshot")
            taken = events(srv, "snapshot_taken")
            assert all("on the loop" in e["msg"] and "child" not in e["msg"] for e in taken), taken
            srv.kill9()
            srv.start(timeout=30)
            assert srv.client().get("ctr") == b"120"
        finally:
            srv.close()

    def blkio_group():
        """A cgroup v1 blkio group to throttle writes, or None."""
        base = "/sys/fs/cgroup/blkio"
        if os.geteuid() != 0 or not os.path.isdir(base):
            return None
        path = os.path.join(base, "raftkv-test-%d" % os.getpid())
        try:
            os.mkdir(path)
        except OSError:
            return None
        return path

    def t_slow_disk():
        grp = blkio_group()
        if grp is None:
            harness.note("SKIP: no cgroup v1 blkio controller to slow a disk down")
            return
        mnt = ext4_disk()
        if mnt is None:
            os.rmdir(grp)
            return
        dev = subprocess.run(["findmnt", "-n", "-o", "SOURCE", mnt], stdout=subprocess.PIPE,
                             check=True).stdout.decode().strip()
        majmin = subprocess.run(["lsblk", "-dno", "MAJ:MIN", dev], stdout=subprocess.PIPE,
                                check=True).stdout.decode().strip()
        srv = None
        try:
            srv = RaftkvServer(data_dir=os.path.join(mnt, "data"),
                               extra=["--disk-slow-warn-ms", "50",
                                      "--disk-stall-timeout-ms", "3000"]).start()
            c = srv.client(socket_timeout=30)
            c.set("fast", "1")
            # Slow: 4 writes per second on the node's disk. Writes still
            # complete; each slow append is counted and warned about.
            with open(os.path.join(grp, "blkio.throttle.write_iops_device"), "w") as f:
                f.write("%s 4\n" % majmin)
            with open(os.path.join(grp, "cgroup.procs"), "w") as f:
                f.write(str(srv.proc.pid))
            for i in range(6):
                assert c.set("slow%d" % i, "v") is True
            harness.wait_for(lambda: events(srv, "slow_disk"), 5, "a slow_disk warning")
            ev = events(srv, "slow_disk")[0]
            assert ev["level"] == "warn" and ev["latency_ms"] >= 50, ev
            assert int(srv.info("memory")["slow_disk_appends"]) >= 1
            assert "raftkv_slow_disk_appends_total" in metrics(srv)
            # Stalled: one write every 10 s, and a queue of appends behind
            # it. The oldest outstanding append passes disk-stall-timeout-ms:
            # fail-stop, exit 3, instead of a leader that hangs.
            with open(os.path.join(grp, "blkio.throttle.write_iops_device"), "w") as f:
                f.write("%s 0\n" % majmin)
            with open(os.path.join(grp, "blkio.throttle.write_bps_device"), "w") as f:
                f.write("%s 512\n" % majmin)
            writers = [subprocess.Popen(
                ["redis-benchmark", "-p", str(srv.port), "-c", "8", "-n", "100000",
                 "-t", "set", "-d", "4096", "-q"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
            try:
                harness.wait_for(lambda: events(srv, "disk_error"), 30, "the disk_error line")
                err = events(srv, "disk_error")
                assert "outstanding" in err[0]["msg"], srv.log_tail()
                # The process has called _exit; the kernel finishes its exit
                # once the direct I/O it still has queued completes, so the
                # throttle goes before waiting for the status.
                with open(os.path.join(grp, "blkio.throttle.write_bps_device"), "w") as f:
                    f.write("%s 0\n" % majmin)
                rc = wait_exit(srv, 30)
            finally:
                for p in writers:
                    p.kill()
                    p.wait()
            assert rc == 3, (rc, srv.log_tail())
        finally:
            if srv is not None:
                srv.close()
            subprocess.run(["umount", "-l", mnt], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            try:
                os.rmdir(grp)
            except OSError:
                pass

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
    tap.run("client-output-buffer-limit: slow readers disconnected (soft, hard)",
            t_output_buffer_limit)
    tap.run("maxclients-per-ip refuses the extra connection", t_per_ip_cap)
    tap.run("heavy-command-budget: KEYS/LCS -BUSY, SCAN capped; lazy FLUSHALL", t_heavy_budget)
    tap.run("snapshots of 200k keys are written by a child: no heartbeat gap, restart restores",
            t_snapshot_by_child)
    tap.run("snapshot-fork no: snapshots on the loop still restore", t_snapshot_on_loop)
    tap.run("a slow disk warns (slow_disk); a stalled disk is fail-stop (exit 3)", t_slow_disk)
    tap.finish()


if __name__ == "__main__":
    main()
