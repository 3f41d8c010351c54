#!/usr/bin/python3
"""WATCH / UNWATCH with MULTI/EXEC against one raftkv-server: every scripted
scenario (two connections interleaved, RESP2 and RESP3) gets the same
replies as a reference redis-server 7, and redis-py's check-and-set idiom
(pipeline.watch / multi / execute, WatchError) works, also under
contention from many threads."""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

import redis  # noqa: E402

# Each scenario: steps of (connection 0 or 1, command...). Both servers run
# them from a clean keyspace and must answer every step alike.
SCENARIOS = {
    "watch, other client writes, exec is null": [
        (0, "SET", "k", "1"), (0, "WATCH", "k"), (1, "SET", "k", "2"),
        (0, "MULTI"), (0, "SET", "k", "3"), (0, "EXEC"), (0, "GET", "k")],
    "watch, nothing changes, exec runs": [
        (0, "SET", "k", "1"), (0, "WATCH", "k"), (0, "GET", "k"),
        (0, "MULTI"), (0, "SET", "k", "3"), (0, "INCR", "n"), (0, "EXEC"),
        (0, "GET", "k")],
    "watch an absent key, another client creates it": [
        (0, "WATCH", "a"), (1, "SET", "a", "x"), (0, "MULTI"),
        (0, "SET", "a", "y"), (0, "EXEC"), (0, "GET", "a")],
    "watch, own write after watch aborts too": [
        (0, "WATCH", "k"), (0, "SET", "k", "mine"), (0, "MULTI"),
        (0, "GET", "k"), (0, "EXEC")],
    "same value rewritten still counts": [
        (0, "SET", "k", "v"), (0, "WATCH", "k"), (1, "SET", "k", "v"),
        (0, "MULTI"), (0, "GET", "k"), (0, "EXEC")],
    "unwatch forgets": [
        (0, "WATCH", "k"), (1, "SET", "k", "2"), (0, "UNWATCH"),
        (0, "MULTI"), (0, "SET", "k", "3"), (0, "EXEC"), (0, "GET", "k")],
    "discard forgets": [
        (0, "WATCH", "k"), (1, "SET", "k", "2"), (0, "MULTI"),
        (0, "DISCARD"), (0, "MULTI"), (0, "SET", "k", "3"), (0, "EXEC")],
    "exec forgets, aborted or not": [
        (0, "WATCH", "k"), (1, "SET", "k", "2"), (0, "MULTI"), (0, "EXEC"),
        (1, "SET", "k", "4"), (0, "MULTI"), (0, "GET", "k"), (0, "EXEC")],
    "watch inside multi is refused, transaction goes on": [
        (0, "MULTI"), (0, "WATCH", "k"), (0, "SET", "k", "1"), (0, "EXEC")],
    "unwatch inside multi is queued": [
        (0, "WATCH", "k"), (0, "MULTI"), (0, "UNWATCH"), (0, "SET", "k", "1"),
        (0, "EXEC")],
    "arity errors": [
        (0, "WATCH"), (0, "UNWATCH", "x"), (0, "MULTI"), (0, "EXEC")],
    "empty transaction with a touched watch": [
        (0, "WATCH", "k"), (1, "SET", "k", "1"), (0, "MULTI"), (0, "EXEC"),
        (0, "WATCH", "k"), (0, "MULTI"), (0, "EXEC")],
    "several keys, one touched": [
        (0, "MSET", "a", "1", "b", "2"), (0, "WATCH", "a", "b", "c"),
        (0, "WATCH", "d"), (1, "DEL", "d"), (1, "APPEND", "b", "x"),
        (0, "MULTI"), (0, "SET", "a", "9"), (0, "EXEC"), (0, "GET", "a")],
    "expire, persist, rename, copy, flushall touch": [
        (0, "SET", "a", "1"), (0, "WATCH", "a"), (1, "EXPIRE", "a", "100"),
        (0, "MULTI"), (0, "GET", "a"), (0, "EXEC"),
        (0, "WATCH", "a"), (1, "PERSIST", "a"), (0, "MULTI"), (0, "EXEC"),
        (0, "WATCH", "b"), (1, "COPY", "a", "b"), (0, "MULTI"), (0, "EXEC"),
        (0, "WATCH", "a"), (1, "RENAME", "a", "c"), (0, "MULTI"),
        (0, "EXEC"), (0, "WATCH", "c"), (1, "FLUSHALL"), (0, "MULTI"),
        (0, "EXEC")],
    "refused writes do not touch": [
        (0, "SET", "a", "1"), (0, "WATCH", "a"), (1, "SET", "a", "2", "NX"),
        (1, "PERSIST", "a"), (1, "EXPIRE", "a", "10", "XX"),
        (1, "GET", "a"), (0, "MULTI"), (0, "INCR", "a"), (0, "EXEC")],
    "list pushes and pops touch, reads do not": [
        (0, "RPUSH", "l", "a", "b"), (0, "WATCH", "l"), (1, "LRANGE", "l", "0", "-1"),
        (1, "LLEN", "l"), (1, "LPUSHX", "nol", "x"), (0, "MULTI"),
        (0, "LLEN", "l"), (0, "EXEC"), (0, "WATCH", "l"), (1, "RPUSH", "l", "c"),
        (0, "MULTI"), (0, "LLEN", "l"), (0, "EXEC"), (0, "WATCH", "l"),
        (1, "LPOP", "l", "0"), (0, "MULTI"), (0, "LLEN", "l"), (0, "EXEC"),
        (0, "WATCH", "l"), (1, "RPOP", "l"), (0, "MULTI"), (0, "LLEN", "l"),
        (0, "EXEC"), (0, "WATCH", "l"), (1, "LPOP", "l", "5"), (0, "MULTI"),
        (0, "LLEN", "l"), (0, "EXEC")],
    "watched key expires before exec": [
        (0, "SET", "a", "1", "PX", "30"), (0, "WATCH", "a"),
        (0, "SLEEP", "0.1"), (0, "MULTI"), (0, "SET", "b", "1"),
        (0, "EXEC"), (0, "GET", "b")],
}


def run_scenario(port, steps, proto):
    import time
    conns = [harness.Resp(port), harness.Resp(port)]
    try:
        for c in conns:
            c.call("FLUSHALL")
            if proto == 3:
                c.call("HELLO", "3")
        out = []
        for who, *cmd in steps:
            if cmd[0] == "SLEEP":
                time.sleep(float(cmd[1]))
                continue
            out.append((who, cmd, conns[who].call(*cmd)))
        return out
    finally:
        for c in conns:
            c.close()


def main():
    tap = harness.Tap()
    srv = harness.RaftkvServer(extra=["--log-level", "warn"]).start()
    ref = harness.RedisServer().start()
    r = srv.client()

    def compare(steps, proto):
        got = run_scenario(srv.port, steps, proto)
        want = run_scenario(ref.port, steps, proto)
        for (who, cmd, g), (_, _, w) in zip(got, want):
            assert harness.same(g, w), "%d %s: raftkv %r, redis %r" % (
                who, " ".join(cmd), g, w)

    def t_redis_py_cas():
        r.set("acct", 10)
        with r.pipeline() as p:
            p.watch("acct")
            v = int(p.get("acct"))
            p.multi()
            p.set("acct", v + 5)
            assert p.execute() == [True]
        assert r.get("acct") == b"15"
        other = srv.client()
        with r.pipeline() as p:
            p.watch("acct")
            v = int(p.get("acct"))
            other.set("acct", 100)
            p.multi()
            p.set("acct", v + 5)
            try:
                p.execute()
                raise AssertionError("EXEC ran although the key changed")
            except redis.WatchError:
                pass
        assert r.get("acct") == b"100"
        other.close()

    def t_redis_py_transaction_helper():
        r.set("ctr", 0)

        def incr(pipe):
            v = int(pipe.get("ctr"))
            pipe.multi()
            pipe.set("ctr", v + 1)
        for _ in range(20):
            r.transaction(incr, "ctr")
        assert r.get("ctr") == b"20"

    def t_contended_increments():
        # Many clients increment one key with WATCH/GET/MULTI/SET/EXEC and
        # retry on WatchError: no increment may be lost or doubled.
        r.set("hot", 0)
        n_threads, per = 6, 25
        pool = redis.ConnectionPool(host="127.0.0.1", port=srv.port,
                                    socket_timeout=30)
        errors = []
        aborts = [0]

        def worker():
            c = redis.Redis(connection_pool=pool)
            try:
                for _ in range(per):
                    while True:
                        with c.pipeline() as p:
                            try:
                                p.watch("hot")
                                v = int(p.get("hot"))
                                p.multi()
                                p.set("hot", v + 1)
                                p.execute()
                                break
                            except redis.WatchError:
                                aborts[0] += 1
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
        ts = [threading.Thread(target=worker) for _ in range(n_threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        pool.disconnect()
        assert not errors, errors
        assert r.get("hot") == str(n_threads * per).encode(), r.get("hot")
        harness.note("contended CAS: %d aborts for %d increments" %
                     (aborts[0], n_threads * per))

    def t_watch_limit():
        c = harness.Resp(srv.port)
        try:
            keys = ["w%d" % i for i in range(4096)]
            assert c.call("WATCH", *keys) == "OK"
            e = c.call("WATCH", "one-more")
            assert isinstance(e, harness.Err) and "too many watched keys" in e
            assert c.call("UNWATCH") == "OK"
            big = "x" * (1024 * 1024 + 1)
            e = c.call("WATCH", big)
            assert isinstance(e, harness.Err), e
            assert c.call("WATCH", "k") == "OK"
        finally:
            c.close()

    def t_command_info():
        c = harness.Resp(srv.port)
        w = harness.Resp(ref.port)
        try:
            for name in ("watch", "unwatch"):
                got = c.call("COMMAND", "INFO", name)[0]
                want = w.call("COMMAND", "INFO", name)[0]
                # name, arity, flags, first/last/step, ACL categories
                assert harness.same(got[:7], want[:7]), (got, want)
                got = c.call("COMMAND", "DOCS", name)
                want = w.call("COMMAND", "DOCS", name)
                assert got[1][1] == want[1][1], (got, want)  # summary
            assert c.call("COMMAND", "GETKEYS", "WATCH", "a", "b") == \
                [b"a", b"b"]
        finally:
            c.close()
            w.close()

    try:
        for name, steps in SCENARIOS.items():
            for proto in (2, 3):
                tap.run("%s (RESP%d)" % (name, proto), compare, steps, proto)
        tap.run("redis-py watch/multi/execute and WatchError", t_redis_py_cas)
        tap.run("redis-py transaction() helper", t_redis_py_transaction_helper)
        tap.run("contended check-and-set increments", t_contended_increments)
        tap.run("watch limits", t_watch_limit)
        tap.run("COMMAND INFO/DOCS/GETKEYS for watch, unwatch", t_command_info)
        tap.check("server still running", srv.alive(), srv.log_tail())
    finally:
        r.close()
        srv.close()
        ref.close()
    tap.finish()


if __name__ == "__main__":
    main()
