#!/usr/bin/python3
"""Durability: kill -9 under load loses no acknowledged write; graceful
stop and restart; snapshots; TTLs across restarts; the data dir lock; and
damaged raft files (torn tail repaired, damage in the middle refused)."""

import os
import random
import signal
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RaftkvServer, encode  # noqa: E402


def raft_dir(srv):
    return os.path.join(srv.data_dir, "raft")


def segment_batches(path):
    """(start, end) of each batch of a raft_uv segment, by framing only (no
    checksum check): u64 version, then per batch u32 crc, u32 crc, u64 n,
    n * 16-byte entry headers (u32 length at offset 12), data padded to 8."""
    with open(path, "rb") as f:
        buf = f.read()
    out = []
    if len(buf) < 8 or struct.unpack_from("<Q", buf, 0)[0] != 1:
        return out
    pos = 8
    while pos + 16 <= len(buf):
        n = struct.unpack_from("<Q", buf, pos + 8)[0]
        if n == 0 or n > (1 << 20):
            break
        hdr = 8 + 16 * n
        if pos + 8 + hdr > len(buf):
            break
        data = 0
        for i in range(n):
            ln = struct.unpack_from("<I", buf, pos + 16 + 16 * i + 12)[0]
            data += (ln + 7) & ~7
        end = pos + 8 + hdr + data
        if end > len(buf):
            break
        out.append((pos, end))
        pos = end
    return out


def open_segments_with_data(srv):
    d = raft_dir(srv)
    segs = []
    for name in os.listdir(d):
        if name.startswith("open-"):
            b = segment_batches(os.path.join(d, name))
            if b:
                segs.append((int(name[5:]), os.path.join(d, name), b))
    return sorted(segs)


def closed_segments(srv):
    d = raft_dir(srv)
    out = []
    for name in os.listdir(d):
        parts = name.split("-")
        if len(parts) == 2 and all(p.isdigit() and len(p) == 16 for p in parts):
            out.append(os.path.join(d, name))
    return sorted(out)


def flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x5A]))
        f.flush()
        os.fsync(f.fileno())


def expect_startup_failure(srv, timeout=15):
    """Starts srv and expects it to exit non-zero without serving."""
    srv.spawn()
    try:
        srv.proc.wait(timeout=timeout)
    except Exception:
        up = harness.ping_ok(srv.port)
        srv.kill9()
        raise AssertionError("server did not exit on damaged data (serving: %s)\n%s"
                             % (up, srv.log_tail()))
    return srv.proc.returncode


def last_start_log(srv):
    text = srv.log_text()
    return text[text.rfind("--- start"):]


# ---------------------------------------------------------------------------
# (a) kill -9 under load
# ---------------------------------------------------------------------------

class Writer(threading.Thread):
    def __init__(self, srv, rnd, t, stop):
        threading.Thread.__init__(self, daemon=True)
        self.srv, self.rnd, self.t, self.stop_ev = srv, rnd, t, stop
        self.sets = {}          # acknowledged SETs key -> value
        self.incr_acked = 0     # acknowledged INCRs
        self.incr_last = 0      # last value an INCR returned
        self.incr_inflight = 0  # 1 if an INCR was sent and not answered
        self.appended = b""     # acknowledged APPENDs, concatenated
        self.append_inflight = b""
        self.error = None

    @property
    def cnt_key(self):
        return "cnt:%d:%d" % (self.rnd, self.t)

    @property
    def app_key(self):
        return "app:%d:%d" % (self.rnd, self.t)

    def run(self):
        try:
            c = harness.Resp(self.srv.port, timeout=20)
        except OSError as e:
            self.error = e
            return
        i = 0
        try:
            while not self.stop_ev.is_set():
                k = "w:%d:%d:%d" % (self.rnd, self.t, i)
                v = "v%d-%s" % (i, "x" * (i % 50))
                if c.call("SET", k, v) != "OK":
                    raise AssertionError("SET failed")
                self.sets[k] = v.encode()
                self.incr_inflight = 1
                r = c.call("INCR", self.cnt_key)
                if type(r) is not int:
                    raise AssertionError("INCR replied %r" % (r,))
                self.incr_inflight = 0
                self.incr_acked += 1
                self.incr_last = r
                chunk = ("%d," % i).encode()
                self.append_inflight = chunk
                r = c.call("APPEND", self.app_key, chunk)
                if type(r) is not int:
                    raise AssertionError("APPEND replied %r" % (r,))
                self.appended += chunk
                self.append_inflight = b""
                i += 1
        except (harness.Closed, OSError):
            pass  # the server was killed
        except Exception as e:  # noqa: BLE001
            self.error = e
        finally:
            c.close()


def verify_writers(srv, writers):
    c = srv.resp(timeout=60)
    problems = []
    try:
        for w in writers:
            keys = list(w.sets)
            for i in range(0, len(keys), 500):
                part = keys[i:i + 500]
                vals = c.call("MGET", *part)
                for k, v in zip(part, vals):
                    if v != w.sets[k]:
                        problems.append("acked SET %s=%r lost: got %r" % (k, w.sets[k], v))
            cnt = c.call("GET", w.cnt_key)
            cnt = int(cnt) if cnt is not None else 0
            if not (max(w.incr_acked, w.incr_last) <= cnt <= w.incr_acked + w.incr_inflight):
                problems.append("%s = %d, acked %d (last reply %d, in flight %d)"
                                % (w.cnt_key, cnt, w.incr_acked, w.incr_last, w.incr_inflight))
            app = c.call("GET", w.app_key) or b""
            if not (app == w.appended or app == w.appended + w.append_inflight):
                problems.append("%s = %r..., acked prefix %r... (%d vs %d bytes)"
                                % (w.app_key, app[-40:], w.appended[-40:], len(app),
                                   len(w.appended)))
    finally:
        c.close()
    return problems


def t_crash_rounds():
    srv = RaftkvServer(extra=["--log-level", "warn"]).start()
    all_writers = []
    try:
        for rnd in range(3):
            stop = threading.Event()
            writers = [Writer(srv, rnd, t, stop) for t in range(8)]
            for w in writers:
                w.start()
            time.sleep(2.0)
            srv.kill9()
            stop.set()
            for w in writers:
                w.join(30)
            assert not any(w.is_alive() for w in writers), "writers stuck after kill -9"
            errs = [w.error for w in writers if w.error]
            assert not errs, errs
            acked = sum(len(w.sets) for w in writers)
            assert acked > 0, "no write acknowledged in 2 s"
            all_writers += writers
            harness.note("round %d: %d SETs acknowledged before kill -9" % (rnd, acked))
            srv.start(timeout=30)
            problems = verify_writers(srv, all_writers)
            assert not problems, "round %d (%d acked SETs this round):\n%s" % (
                rnd, acked, "\n".join(problems[:20]))
    finally:
        srv.close()


# ---------------------------------------------------------------------------
# (b) SIGTERM, (c) snapshots, (d) TTLs, (e) lock
# ---------------------------------------------------------------------------

def t_sigterm():
    srv = RaftkvServer(extra=["--log-level", "info"]).start()
    try:
        c = srv.resp()
        for i in range(200):
            assert c.call("SET", "t:%d" % i, "v%d" % i) == "OK"
        assert c.call("INCRBY", "t:n", "42") == 42
        c.close()
        rc = srv.stop(signal.SIGTERM)
        assert rc == 0, "exit code %r after SIGTERM\n%s" % (rc, srv.log_tail())
        srv.start()
        c = srv.resp()
        assert c.call("MGET", *["t:%d" % i for i in range(200)]) == [
            b"v%d" % i for i in range(200)]
        assert c.call("GET", "t:n") == b"42"
        assert c.call("DBSIZE") == 201
        c.close()
        assert srv.stop(signal.SIGTERM) == 0
    finally:
        srv.close()


def load_keys(srv, n, prefix, depth=50):
    c = srv.resp(timeout=60)
    try:
        for base in range(0, n, depth):
            buf = b"".join(encode("SET", "%s%d" % (prefix, i), "val-%d" % i)
                           for i in range(base, min(n, base + depth)))
            c.send_raw(buf)
            for _ in range(base, min(n, base + depth)):
                r = c.read()
                assert r == "OK", r
    finally:
        c.close()


def check_keys(srv, n, prefix):
    c = srv.resp(timeout=60)
    try:
        missing = 0
        for base in range(0, n, 1000):
            ks = ["%s%d" % (prefix, i) for i in range(base, min(n, base + 1000))]
            vals = c.call("MGET", *ks)
            for i, v in zip(range(base, base + 1000), vals):
                if v != b"val-%d" % i:
                    missing += 1
        assert missing == 0, "%d of %d keys lost or wrong" % (missing, n)
        assert c.call("DBSIZE") >= n
    finally:
        c.close()


def t_snapshots_and_garbage_snapshot():
    srv = RaftkvServer(extra=["--log-level", "info", "--snapshot-threshold", "500",
                              "--snapshot-trailing", "100"]).start()
    try:
        load_keys(srv, 30000, "s:", depth=20)

        def snapshotted():
            return int(srv.info("raft").get("snapshots", "0")) > 0
        harness.wait_for(snapshotted, 20, "INFO raft snapshots > 0")
        info = srv.info("raft")
        assert srv.stop() == 0
        snaps = [n for n in os.listdir(raft_dir(srv)) if n.startswith("snapshot-")]
        assert snaps, "no snapshot file in %s after %s" % (os.listdir(raft_dir(srv)), info)
        srv.start(timeout=30)
        check_keys(srv, 30000, "s:")
        # kill -9 and restart once more (snapshot + log replay)
        load_keys(srv, 2000, "s2:")
        srv.kill9()
        srv.start(timeout=30)
        check_keys(srv, 30000, "s:")
        check_keys(srv, 2000, "s2:")
        assert srv.stop() == 0
        # the newest snapshot's bytes replaced by garbage: refuse to start
        d = raft_dir(srv)
        snaps = [n for n in os.listdir(d) if n.startswith("snapshot-") and not n.endswith(".meta")]

        def key(n):
            p = n.split("-")
            return (int(p[1]), int(p[2]), int(p[3]))
        newest = os.path.join(d, max(snaps, key=key))
        size = os.path.getsize(newest)
        with open(newest, "r+b") as f:
            f.write(bytes(random.Random(3).getrandbits(8) for _ in range(size)))
        rc = expect_startup_failure(srv)
        assert rc != 0, "started on a garbage snapshot"
        log = last_start_log(srv)
        harness.note("info before: snapshots=%s snapshot_index=%s; refused with: %s"
                     % (info.get("snapshots"), info.get("snapshot_index"), log.strip()[-400:]))
        assert rc == 1, rc
        assert "snapshot" in log.lower(), log[-2000:]
        GARBAGE_SNAPSHOT.append((os.path.basename(newest), log))
    finally:
        srv.close()


GARBAGE_SNAPSHOT = []


def t_garbage_snapshot_named():
    assert GARBAGE_SNAPSHOT, "the garbage-snapshot case did not run"
    name, log = GARBAGE_SNAPSHOT[0]
    assert name in log, "the startup error does not name the damaged snapshot %s:\n%s" % (
        name, log.strip()[-1500:])


def t_ttl_restart():
    srv = RaftkvServer(extra=["--log-level", "warn"]).start()
    try:
        c = srv.resp()
        assert c.call("SET", "ttl:ex", "v", "EX", "100") == "OK"
        assert c.call("SET", "ttl:px", "v", "PX", "300") == "OK"
        assert c.call("SET", "ttl:none", "v") == "OK"
        c.close()
        assert srv.stop() == 0
        srv.start()
        c = srv.resp()
        ttl = c.call("TTL", "ttl:ex")
        assert 95 <= ttl <= 100, ttl
        assert c.call("TTL", "ttl:none") == -1
        time.sleep(1.0)
        assert c.call("GET", "ttl:px") is None
        assert c.call("EXISTS", "ttl:px") == 0
        c.close()
        # and after kill -9
        srv.kill9()
        srv.start()
        c = srv.resp()
        ttl = c.call("TTL", "ttl:ex")
        assert 90 <= ttl <= 100, ttl
        assert c.call("GET", "ttl:px") is None
        c.close()
    finally:
        srv.close()


def t_lock():
    srv = RaftkvServer(extra=["--log-level", "warn"]).start()
    try:
        other = RaftkvServer(data_dir=srv.data_dir, extra=["--log-level", "warn"])
        other.spawn()
        try:
            rc = other.proc.wait(timeout=15)
        finally:
            other.kill9()
        assert rc == 1, "second server on the same data dir: exit %r\n%s" % (rc, other.log_tail())
        assert "locked" in other.log_text(), other.log_text()[-2000:]
        assert srv.resp().call_close("PING") == "PONG"
    finally:
        srv.close()


# ---------------------------------------------------------------------------
# (f) damaged files
# ---------------------------------------------------------------------------

def t_torn_tail():
    srv = RaftkvServer(extra=["--log-level", "info"]).start()
    try:
        c = srv.resp()
        assert c.call("SET", "sentinel", "here") == "OK"
        c.close()
        stop = threading.Event()
        writers = [Writer(srv, 9, t, stop) for t in range(4)]
        for w in writers:
            w.start()
        time.sleep(1.0)
        srv.kill9()
        stop.set()
        for w in writers:
            w.join(30)
        segs = open_segments_with_data(srv)
        assert segs, "no open segment with data: %s" % os.listdir(raft_dir(srv))
        _, path, batches = segs[-1]
        assert len(batches) >= 2, batches
        start, end = batches[-1]
        cut = start + max(1, (end - start) // 2)
        os.truncate(path, cut)
        srv.start(timeout=30)
        log = last_start_log(srv)
        harness.note("cut %s at %d (last batch %d..%d)" % (os.path.basename(path), cut, start, end))
        assert "torn_tail" in log, log[-3000:]
        assert os.path.basename(path) in log
        c = srv.resp()
        assert c.call("GET", "sentinel") == b"here"
        assert c.call("SET", "after", "repair") == "OK"
        c.close()
        srv.kill9()
        srv.start(timeout=30)
        assert srv.resp().call_close("GET", "after") == b"repair"
    finally:
        srv.close()


def t_flip_open_segment():
    srv = RaftkvServer(extra=["--log-level", "info"]).start()
    try:
        c = srv.resp()
        for i in range(40):  # one at a time: one batch each
            assert c.call("SET", "f:%d" % i, "value-%d" % i) == "OK"
        c.close()
        srv.kill9()
        segs = open_segments_with_data(srv)
        assert segs, os.listdir(raft_dir(srv))
        _, path, batches = segs[-1]
        assert len(batches) >= 10, batches
        start, end = batches[1]  # early: the second batch of the file
        flip_byte(path, end - 8 if end - 8 > start + 24 else start + 20)
        rc = expect_startup_failure(srv)
        assert rc == 1, rc
        log = last_start_log(srv)
        harness.note("refused with: " + log.strip()[-400:])
        assert os.path.basename(path) in log, log[-3000:]
    finally:
        srv.close()


def t_flip_closed_segment():
    srv = RaftkvServer(extra=["--log-level", "info"]).start()
    try:
        c = srv.resp()
        for i in range(100):
            assert c.call("SET", "c:%d" % i, "value-%d-%s" % (i, "y" * 100)) == "OK"
        c.close()
        assert srv.stop() == 0  # closes the open segment
        closed = closed_segments(srv)
        assert closed, os.listdir(raft_dir(srv))
        path = max(closed, key=os.path.getsize)
        size = os.path.getsize(path)
        assert size > 1000, (path, size)
        flip_byte(path, size // 2)
        rc = expect_startup_failure(srv)
        assert rc == 1, rc
        log = last_start_log(srv)
        harness.note("refused with: " + log.strip()[-400:])
        assert os.path.basename(path) in log or raft_dir(srv) in log, log[-3000:]
    finally:
        srv.close()


def main():
    tap = harness.Tap()
    tap.run("kill -9 under load x3: every acknowledged write survives", t_crash_rounds)
    tap.run("SIGTERM exits 0 and restart keeps data", t_sigterm)
    tap.run("30k keys with snapshots survive restarts; garbage snapshot refused",
            t_snapshots_and_garbage_snapshot)
    tap.run("garbage snapshot: the startup error names the file", t_garbage_snapshot_named)
    tap.run("TTLs survive restart; short TTLs expire", t_ttl_restart)
    tap.run("second server on the same data dir exits 1 (locked)", t_lock)
    tap.run("torn last batch of the open segment is dropped (torn_tail)", t_torn_tail)
    tap.run("flipped byte early in an open segment: startup refused naming the file",
            t_flip_open_segment)
    tap.run("flipped byte in a closed segment: startup refused naming the file",
            t_flip_closed_segment)
    tap.finish()


if __name__ == "__main__":
    main()
