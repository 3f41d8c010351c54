#!/usr/bin/python3
"""What an application does with redis-py (Debian's 4.3.4) against raftkv."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

import redis  # noqa: E402


def main():
    tap = harness.Tap()
    srv = harness.RaftkvServer(extra=["--log-level", "warn"]).start()
    r = srv.client()

    def t_set_get():
        assert r.set("greeting", "hello") is True
        assert r.get("greeting") == b"hello"
        assert r.get("nope") is None
        assert r.set("greeting", "x", nx=True) is None
        assert r.set("greeting", "bye", xx=True, get=True) == b"hello"
        assert r.exists("greeting", "nope") == 1
        assert r.delete("greeting") == 1
        assert r.get("greeting") is None

    def t_mget_mset():
        assert r.mset({"a": "1", "b": "2", "c": "3"}) is True
        assert r.mget("a", "b", "missing", "c") == [b"1", b"2", None, b"3"]
        assert r.msetnx({"c": "x", "d": "4"}) is False
        assert r.get("d") is None

    def t_incr():
        assert r.incr("counter") == 1
        assert r.incr("counter", 10) == 11
        assert r.decr("counter", 2) == 9
        assert r.incrbyfloat("f", 1.25) == 1.25
        assert r.incrbyfloat("f", 0.25) == 1.5
        r.set("text", "abc")
        try:
            r.incr("text")
            raise AssertionError("INCR on text did not raise")
        except redis.ResponseError as e:
            assert "not an integer" in str(e), e

    def t_pipeline():
        p = r.pipeline(transaction=False)
        for i in range(500):
            p.set("p:%d" % i, i)
        for i in range(500):
            p.get("p:%d" % i)
        p.incr("p:count")
        p.get("missing")
        out = p.execute()
        assert out[:500] == [True] * 500
        assert out[500:1000] == [str(i).encode() for i in range(500)]
        assert out[1000] == 1 and out[1001] is None
        # an error inside a pipeline does not break the others
        p = r.pipeline(transaction=False)
        p.set("x", "1")
        p.incr("text")
        p.get("x")
        out = p.execute(raise_on_error=False)
        assert out[0] is True and isinstance(out[1], redis.ResponseError) and out[2] == b"1", out

    def t_scan_iter():
        r.flushall()
        want = set()
        p = r.pipeline(transaction=False)
        for i in range(1200):
            k = "scan:%d" % i
            want.add(k.encode())
            p.set(k, "v")
        p.set("other", "v")
        p.execute()
        got = set(r.scan_iter(match="scan:*", count=100))
        assert got == want, (len(got), len(want))
        assert set(r.scan_iter(count=7)) == want | {b"other"}
        assert len(r.keys("scan:1*")) == 1 + 10 + 100 + 200
        assert r.dbsize() == 1201

    def t_expire_ttl():
        r.set("e", "v", ex=100)
        assert 98 <= r.ttl("e") <= 100
        assert r.expire("e", 50) is True
        assert 48 <= r.ttl("e") <= 50
        assert 40000 < r.pttl("e") <= 50000
        assert r.persist("e") is True
        assert r.ttl("e") == -1
        assert r.ttl("missing") == -2
        r.set("short", "v", px=200)
        end = time.time() + 5
        while r.get("short") is not None and time.time() < end:
            time.sleep(0.05)
        assert r.get("short") is None
        assert r.exists("short") == 0
        r.setex("sx", 30, "v")
        assert 28 <= r.ttl("sx") <= 30
        r.set("at", "v")
        assert r.expireat("at", 4102444800) is True
        assert r.execute_command("EXPIRETIME", "at") == 4102444800

    def t_binary():
        blob = bytes(range(256)) * 40
        key = b"bin\x00key\xff\r\n"
        assert r.set(key, blob)
        assert r.get(key) == blob
        assert r.strlen(key) == len(blob)
        assert r.append(key, b"\x00\x00") == len(blob) + 2
        assert r.getrange(key, 0, 3) == b"\x00\x01\x02\x03"
        assert r.setbit("bits", 7, 1) == 0
        assert r.get("bits") == b"\x01"
        assert r.bitcount(key) > 0

    def t_decode_responses():
        d = srv.client(decode_responses=True)
        d.set("u", "héllo wörld ✓")
        assert d.get("u") == "héllo wörld ✓"
        assert d.mget("u", "none") == ["héllo wörld ✓", None]
        info = d.info("raft")
        assert info.get("role") == "leader", info
        assert d.type("u") == "string"
        assert d.ping() is True
        assert d.echo("e") == "e"
        assert d.client_setname("app") is True and d.client_getname() == "app"
        d.close()

    def t_misc_api():
        r.set("k1", "v")
        assert r.rename("k1", "k2") is True
        assert r.renamenx("k2", "k3") is True
        assert r.copy("k3", "k4") is True
        assert r.getdel("k4") == b"v"
        assert r.getex("k3", ex=100) == b"v" and r.ttl("k3") > 0
        assert r.getset("k3", "w") == b"v"
        assert r.object("encoding", "k3") in (b"embstr", "embstr")
        assert r.randomkey() is not None
        assert isinstance(r.time(), tuple)
        assert r.lcs("k3", "k3") == b"w" if hasattr(r, "lcs") else True
        assert r.bitfield("bf").set("u8", 0, 255).get("u8", 0).execute() == [0, 255]
        cfg = r.config_get("maxmemory")
        assert cfg == {"maxmemory": "0"}, cfg

    def t_pool_threads():
        pool = redis.ConnectionPool(host="127.0.0.1", port=srv.port, max_connections=16,
                                    socket_timeout=30)
        errors = []
        n_threads, n_ops = 8, 150

        def worker(t):
            try:
                c = redis.Redis(connection_pool=pool)
                for i in range(n_ops):
                    c.set("th:%d:%d" % (t, i), i)
                    c.incr("th:total")
                    if c.get("th:%d:%d" % (t, i)) != str(i).encode():
                        errors.append("thread %d read back a wrong value at %d" % (t, i))
            except Exception as e:  # noqa: BLE001
                errors.append("thread %d: %r" % (t, e))

        ths = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(n_threads)]
        for th in ths:
            th.start()
        for th in ths:
            th.join(120)
        assert not any(th.is_alive() for th in ths), "workers did not finish in 120 s"
        assert not errors, errors[:5]
        assert int(r.get("th:total")) == n_threads * n_ops
        keys = set(r.scan_iter(match="th:*:*", count=500))
        assert len(keys) == n_threads * n_ops, len(keys)
        pool.disconnect()

    def t_resp3_not_needed():
        # redis-py 4.3 speaks RESP2; HELLO 3 via execute_command must still work
        v = r.execute_command("HELLO", "2")
        assert v, v

    try:
        tap.run("set/get/delete", t_set_get)
        tap.run("mset/mget/msetnx", t_mget_mset)
        tap.run("incr/decr/incrbyfloat", t_incr)
        tap.run("pipeline (transaction=False)", t_pipeline)
        tap.run("scan_iter / keys / dbsize", t_scan_iter)
        tap.run("expire/ttl/persist/setex", t_expire_ttl)
        tap.run("binary keys and values", t_binary)
        tap.run("decode_responses=True", t_decode_responses)
        tap.run("misc API helpers", t_misc_api)
        tap.run("connection pool with 8 threads", t_pool_threads)
        tap.run("HELLO 2", t_resp3_not_needed)
        tap.check("server still running", srv.alive(), srv.log_tail())
    finally:
        r.close()
        srv.close()
    tap.finish()


if __name__ == "__main__":
    main()
