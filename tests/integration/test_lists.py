#!/usr/bin/python3
"""Lists against one raftkv-server: every scripted command gets the same
reply as a reference redis-server 7 (RESP2 and RESP3), WRONGTYPE both ways,
generic key commands on lists, lists surviving a restart (snapshot and log),
and redis-py's list API."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CASES = [
    ("RPUSH", "l", "a", "b", "c"), ("LPUSH", "l", "z", "y"),
    ("LRANGE", "l", "0", "-1"), ("LRANGE", "l", "1", "2"),
    ("LRANGE", "l", "-2", "-1"), ("LRANGE", "l", "-100", "100"),
    ("LRANGE", "l", "3", "1"), ("LRANGE", "l", "5", "10"),
    ("LRANGE", "l", "-1", "-100"), ("LRANGE", "l", "x", "1"),
    ("LRANGE", "nol", "0", "-1"), ("LRANGE", "nol", "a", "b"),
    ("LLEN", "l"), ("LLEN", "nol"),
    ("LINDEX", "l", "0"), ("LINDEX", "l", "-1"), ("LINDEX", "l", "-6"),
    ("LINDEX", "l", "5"), ("LINDEX", "l", "x"), ("LINDEX", "nol", "x"),
    ("LPUSHX", "nol", "a"), ("RPUSHX", "nol", "a", "b"), ("EXISTS", "nol"),
    ("LPUSHX", "l", "p1", "p2"), ("RPUSHX", "l", "q"),
    ("LRANGE", "l", "0", "-1"),
    ("LPOP", "l"), ("RPOP", "l"), ("LPOP", "l", "2"), ("RPOP", "l", "1"),
    ("LPOP", "l", "0"), ("LPOP", "l", "-1"), ("LPOP", "l", "x"),
    ("LPOP", "l", "1", "2"), ("LPOP", "nol"), ("LPOP", "nol", "0"),
    ("RPOP", "nol", "3"), ("LPOP", "l", "100"), ("EXISTS", "l"),
    ("TYPE", "l"),
    # WRONGTYPE both ways
    ("SET", "s", "v"), ("LPUSH", "s", "a"), ("RPUSHX", "s", "a"),
    ("LPOP", "s"), ("LPOP", "s", "0"), ("LLEN", "s"), ("LRANGE", "s", "0", "1"),
    ("LINDEX", "s", "0"), ("RPUSH", "w", "1", "2"), ("GET", "w"),
    ("APPEND", "w", "x"), ("INCR", "w"), ("STRLEN", "w"), ("SETRANGE", "w", "0", "a"),
    ("GETRANGE", "w", "0", "1"), ("SETBIT", "w", "1", "1"), ("GETDEL", "w"),
    ("GETEX", "w"), ("GETSET", "w", "x"), ("BITCOUNT", "w"), ("MGET", "s", "w"),
    ("LPOP", "s", "x"), ("LINDEX", "s", "x"), ("LCS", "s", "w"),
    # generic key commands
    ("TYPE", "w"), ("OBJECT", "ENCODING", "w"), ("EXISTS", "w", "s"),
    ("EXPIRE", "w", "100"), ("TTL", "w"), ("PERSIST", "w"), ("TTL", "w"),
    ("COPY", "w", "w2"), ("LRANGE", "w2", "0", "-1"), ("RPUSH", "w2", "3"),
    ("LRANGE", "w", "0", "-1"), ("RENAME", "w2", "w3"), ("EXISTS", "w2"),
    ("LRANGE", "w3", "0", "-1"), ("RENAME", "w3", "s"), ("TYPE", "s"),
    ("LRANGE", "s", "0", "-1"), ("SET", "s", "str"), ("TYPE", "s"),
    ("DEL", "w"), ("RPUSH", "u", "1"), ("UNLINK", "u"), ("EXISTS", "u"),
    ("RPUSH", "e", "x"), ("PEXPIRE", "e", "1"), ("SLEEP", "0.05"),
    ("LLEN", "e"), ("LPUSHX", "e", "y"), ("EXISTS", "e"),
    ("RPUSH", "k1", "a"), ("SET", "k2", "b"), ("SCAN", "0", "TYPE", "list"),
    ("SCAN", "0", "TYPE", "string"), ("SCAN", "0", "TYPE", "hash"),
    ("KEYS", "k*"), ("SET", "k1", "over"), ("TYPE", "k1"),
    ("RPUSH", "bin", "a\x00b", "\xff"), ("LRANGE", "bin", "0", "-1"),
    ("RPUSH", "empty", ""), ("LRANGE", "empty", "0", "-1"),
    ("LPUSH",), ("LPUSH", "x"), ("LLEN",), ("LRANGE", "x", "0"),
    ("LINDEX", "x"), ("RPOP",),
    ("MULTI",), ("RPUSH", "t", "1", "2"), ("LPOP", "t"), ("LRANGE", "t", "0", "-1"),
    ("EXEC",),
]


def run(port, proto):
    import time
    c = harness.Resp(port)
    try:
        c.call("FLUSHALL")
        if proto == 3:
            c.call("HELLO", "3")
        out = []
        for cmd in CASES:
            if cmd[0] == "SLEEP":
                time.sleep(float(cmd[1]))
                continue
            r = c.call(*cmd)
            if cmd[0] in ("KEYS",) or (cmd[0] == "SCAN" and isinstance(r, list)):
                r = sorted(r) if cmd[0] == "KEYS" else [r[0], sorted(r[1])]
            out.append((cmd, r))
        return out
    finally:
        c.close()


def main():
    tap = harness.Tap()
    # Small snapshot thresholds, so the restart below loads lists from a
    # snapshot (and trailing log).
    srv = harness.RaftkvServer(extra=["--log-level", "warn",
                                      "--snapshot-threshold", "64",
                                      "--snapshot-trailing", "16"]).start()
    ref = harness.RedisServer().start()

    def compare(proto):
        got = run(srv.port, proto)
        want = run(ref.port, proto)
        bad = []
        for (cmd, g), (_, w) in zip(got, want):
            if not harness.same(g, w):
                bad.append("%s: raftkv %r, redis %r" % (" ".join(cmd), g, w))
        assert not bad, "\n".join(bad)

    def t_command_info():
        c, w = harness.Resp(srv.port), harness.Resp(ref.port)
        try:
            for name in ("lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop",
                         "llen", "lrange", "lindex"):
                got = c.call("COMMAND", "INFO", name)[0]
                want = w.call("COMMAND", "INFO", name)[0]
                # name, arity, flags, first/last/step, ACL categories
                assert harness.same(got[:7], want[:7]), (got, want)
                got = dict(zip(*[iter(c.call("COMMAND", "DOCS", name)[1])] * 2))
                want = dict(zip(*[iter(w.call("COMMAND", "DOCS", name)[1])] * 2))
                for k in (b"summary", b"since", b"group", b"complexity"):
                    assert got[k] == want[k], (name, k, got[k], want[k])
        finally:
            c.close()
            w.close()

    def t_redis_py():
        r = srv.client()
        r.flushall()
        assert r.rpush("q", *range(10)) == 10
        assert r.lpush("q", "first") == 11
        assert r.lrange("q", 0, 2) == [b"first", b"0", b"1"]
        assert r.lindex("q", -1) == b"9"
        assert r.lpop("q") == b"first"
        assert r.rpop("q", 3) == [b"9", b"8", b"7"]
        assert r.llen("q") == 7
        p = r.pipeline(transaction=True)
        p.rpush("q", "x").lrange("q", -1, -1)
        assert p.execute() == [8, [b"x"]]
        r.close()

    def t_big_list_and_budget():
        c = harness.Resp(srv.port)
        try:
            vals = ["v%d" % i for i in range(5000)]
            for i in range(0, 50000, 5000):
                assert c.call("RPUSH", "big", *vals) == i + 5000
            assert c.call("LLEN", "big") == 50000
            assert c.call("LINDEX", "big", "25000") == b"v0"
            got = c.call("LRANGE", "big", "49990", "-1")
            assert got == [("v%d" % i).encode() for i in range(4990, 5000)]
            old = c.call("CONFIG", "GET", "heavy-command-budget")
            assert c.call("CONFIG", "SET", "heavy-command-budget", "1000") == "OK"
            e = c.call("LRANGE", "big", "0", "-1")
            assert isinstance(e, harness.Err) and e.startswith("BUSY"), e
            assert len(c.call("LRANGE", "big", "0", "999")) == 1000
            assert c.call("CONFIG", "SET", "heavy-command-budget",
                          old[1].decode()) == "OK"
            assert c.call("OBJECT", "ENCODING", "big") == b"quicklist"
            mem = harness.parse_info(c.call("INFO", "memory").decode())
            assert int(mem["used_memory"]) > 50000 * 8, mem["used_memory"]
            assert c.call("DEL", "big") == 1
        finally:
            c.close()

    def t_maxmemory_denies_pushes_not_pops():
        c = harness.Resp(srv.port)
        try:
            c.call("RPUSH", "m", "a", "b")
            assert c.call("CONFIG", "SET", "maxmemory", "1") == "OK"
            e = c.call("RPUSH", "m", "c")
            assert isinstance(e, harness.Err) and e.startswith("OOM"), e
            e = c.call("LPUSHX", "m", "c")
            assert isinstance(e, harness.Err) and e.startswith("OOM"), e
            assert c.call("LPOP", "m") == b"a"
            assert c.call("LRANGE", "m", "0", "-1") == [b"b"]
        finally:
            c.call("CONFIG", "SET", "maxmemory", "0")
            c.close()

    def t_restart_keeps_lists():
        c = harness.Resp(srv.port)
        c.call("FLUSHALL")
        c.call("RPUSH", "keep", "a", "b", "c")
        c.call("LPUSH", "keep", "z")
        c.call("RPUSH", "ttl", "x")
        c.call("EXPIRE", "ttl", "1000")
        for i in range(200):
            c.call("RPUSH", "many", "e%d" % i)
        c.call("LPOP", "many", "50")
        harness.wait_for(lambda: int(srv.info("raft").get("snapshots", "0")) > 0,
                         20, "a snapshot")
        c.close()
        srv.stop()
        srv.start()
        c = harness.Resp(srv.port)
        try:
            assert c.call("LRANGE", "keep", "0", "-1") == [b"z", b"a", b"b", b"c"]
            assert c.call("TYPE", "ttl") == "list"
            assert 0 < c.call("TTL", "ttl") <= 1000
            assert c.call("LRANGE", "many", "0", "-1") == [
                ("e%d" % i).encode() for i in range(50, 200)]
        finally:
            c.close()

    try:
        tap.run("lists like redis-server 7 (RESP2)", compare, 2)
        tap.run("lists like redis-server 7 (RESP3)", compare, 3)
        tap.run("COMMAND INFO/DOCS of the list commands", t_command_info)
        tap.run("redis-py list API", t_redis_py)
        tap.run("a 50k-element list; LRANGE within heavy-command-budget",
                t_big_list_and_budget)
        tap.run("maxmemory refuses pushes, not pops", t_maxmemory_denies_pushes_not_pops)
        tap.run("lists survive a restart", t_restart_keeps_lists)
        tap.check("server still running", srv.alive(), srv.log_tail())
    finally:
        srv.close()
        ref.close()
    tap.finish()


if __name__ == "__main__":
    main()
