#!/usr/bin/python3
"""The RESP wire protocol as raftkv speaks it: inline commands, deep
pipelines, requests split at every byte, large values, protocol errors
(compared byte for byte with redis-server, and the connection closed after
them), proto-max-bulk-len, QUIT, many concurrent connections, maxclients."""

import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Err, Resp, Simple, encode  # noqa: E402


def exchange(port, data, timeout=3.0, chunk=None):
    """Sends data (optionally in chunks), returns (bytes received, closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        if chunk is None:
            s.sendall(data)
        else:
            for i in range(0, len(data), chunk):
                s.sendall(data[i:i + chunk])
        out = bytearray()
        end = time.time() + timeout
        while time.time() < end:
            # once something arrived, 0.3 s of silence means "stays open"
            wait = end - time.time() if not out else min(0.3, end - time.time())
            s.settimeout(max(0.05, wait))
            try:
                d = s.recv(65536)
            except socket.timeout:
                return bytes(out), False
            except ConnectionResetError:
                return bytes(out), True
            if not d:
                return bytes(out), True
            out += d
        return bytes(out), False
    finally:
        s.close()


def main():
    tap = harness.Tap()
    ref = harness.RedisServer(extra=["--proto-max-bulk-len", "1mb"]).start()
    kv = harness.RaftkvServer(extra=["--log-level", "warn", "--proto-max-bulk-len", "1mb"]).start()
    try:
        run(tap, ref, kv)
    finally:
        ref.close()
        kv.close()
    tap.finish()


def run(tap, ref, kv):
    def t_inline():
        c = kv.resp()
        for line, want in ((b"PING\r\n", Simple("PONG")),
                           (b"SET ik iv\r\n", Simple("OK")),
                           (b"GET ik\r\n", b"iv"),
                           (b"  GET   ik  \r\n", b"iv"),
                           (b"SET \"a b\" \"c\\x41\\n\"\r\n", Simple("OK")),
                           (b"GET \"a b\"\r\n", b"cA\n"),
                           (b"SET 'q k' 'it''s'\r\n", Err("ERR Protocol error: unbalanced quotes in request")),
                           ):
            c.send_raw(line)
            got = c.read()
            assert harness.same(got, want), (line, got, want)
            if isinstance(want, Err):
                break
        c.close()
        c = kv.resp()
        c.send_raw(b"PING\n")  # LF only
        assert c.read() == "PONG"
        c.send_raw(b"\r\n\r\nPING\r\n")  # empty lines are ignored
        assert c.read() == "PONG"
        c.send_raw(b"ECHO hello\r\nECHO world\r\n")
        assert c.read() == b"hello" and c.read() == b"world"
        c.close()

    def t_inline_vs_redis():
        cases = [b"PING\r\n", b"ECHO \"x\\ty\"\r\n", b"ECHO 'single'\r\n", b"ECHO \"\\xzz\"\r\n",
                 b"ECHO \"unterminated\r\n", b"ECHO \"a\"b\r\n", b"SET k\r\n", b"NOSUCH a b\r\n",
                 b"\r\n\r\nPING\r\n", b"PING\n", b"ECHO \"\\x41\\x42\"\r\nPING\r\n", b"get\r\n",
                 b"ECHO ''\r\n", b"ECHO \"\"\r\n"]
        bad = []
        for data in cases:
            a = exchange(ref.port, data, timeout=1.0)
            b = exchange(kv.port, data, timeout=1.0)
            if a != b:
                bad.append("%r\n  redis:  %r\n  raftkv: %r" % (data, a, b))
        assert not bad, "\n".join(bad)

    def t_pipeline_10000():
        c = kv.resp()
        buf = bytearray()
        for i in range(10000):
            if i % 2 == 0:
                buf += encode("SET", "pl:%d" % i, "v%d" % i)
            else:
                buf += encode("GET", "pl:%d" % (i - 1))
        c.send_raw(bytes(buf))
        for i in range(10000):
            r = c.read()
            if i % 2 == 0:
                assert r == "OK", (i, r)
            else:
                assert r == ("v%d" % (i - 1)).encode(), (i, r)
        assert c.call("GET", "pl:9998") == b"v9998"
        c.close()

    def t_byte_by_byte():
        for data, want in ((encode("SET", "bb", "byte-by-byte"), Simple("OK")),
                           (encode("GET", "bb"), b"byte-by-byte"),
                           (b"ECHO split-inline\r\n", b"split-inline"),
                           (encode("MSET", "x1", "a" * 40, "x2", "\r\n$*"), Simple("OK")),
                           (encode("MGET", "x1", "x2"), [b"a" * 40, b"\r\n$*"])):
            c = kv.resp()
            for i in range(len(data)):
                c.send_raw(data[i:i + 1])
                if i % 16 == 0:
                    time.sleep(0.001)
            got = c.read()
            assert harness.same(got, want), (data, got)
            c.close()

    def t_random_chunks():
        rnd = random.Random(7)
        args = ["MSET"]
        for i in range(2000):
            args += ["ck:%d" % i, "%d:" % i + "z" * rnd.randrange(0, 300)]
        data = encode(*args) + encode("MGET", *["ck:%d" % i for i in range(2000)])
        c = kv.resp()
        pos = 0
        while pos < len(data):
            n = rnd.randrange(1, 5000)
            c.send_raw(data[pos:pos + n])
            pos += n
        assert c.read() == "OK"
        vals = c.read()
        assert vals == [args[2 + 2 * i].encode() for i in range(2000)]
        c.close()

    def t_big_value():
        # 10 MB value on a server with the default proto-max-bulk-len
        big = harness.RaftkvServer(extra=["--log-level", "warn"]).start()
        try:
            val = bytes(random.Random(1).getrandbits(8) for _ in range(1 << 16)) * 160
            assert len(val) == 10 * 1024 * 1024
            c = big.resp(timeout=60)
            assert c.call("SET", "big", val) == "OK"
            assert c.call("STRLEN", "big") == len(val)
            assert c.call("GET", "big") == val
            assert c.call("APPEND", "big", "!") == len(val) + 1
            c.close()
        finally:
            big.close()

    errors = [
        b"*abc\r\n",
        b"*1\r\nx\r\n",
        b"*1\r\n$abc\r\n",
        b"*1\r\n$-5\r\n",
        b"*3000000000\r\n",
        b"*1\r\n$2000000\r\n",
        b"*2\r\n$4\r\nECHO\r\n$1048577\r\n",
        b"*2\r\n$4\r\nECHO\r\n:5\r\n",
        b"SET 'a\r\n",
        b"ECHO \"x\"y\r\n",
        b"*" + b"1" * 70000,
        b"*1\r\n$" + b"1" * 70000,
        b"GET " + b"k" * 70000,
        b"*1\r\n$1a\r\n",
        b"*-1\r\nPING\r\n",
        b"*0\r\nPING\r\n",
        b"*1\r\n$0\r\n\r\n",
        b"*2\r\n$4\r\nECHO\r\n$-1\r\n",
        b"*1\r\n$4\r\nPING\r\n*x\r\n",
        b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n",
        b"*+1\r\n$4\r\nPING\r\n",
        b"* 1\r\n$4\r\nPING\r\n",
        b"*01\r\n$04\r\nPING\r\n",
    ]

    def t_protocol_errors():
        bad = []
        for data in errors:
            a = exchange(ref.port, data, timeout=1.5)
            b = exchange(kv.port, data, timeout=1.5)
            if a != b:
                bad.append("%r\n  redis:  %r\n  raftkv: %r" % (data[:60], a, b))
        assert not bad, "\n".join(bad)
        assert kv.alive()

    def t_error_then_closed():
        c = kv.resp()
        c.send_raw(b"*1\r\n$abc\r\n")
        r = c.read()
        assert isinstance(r, Err) and r.startswith("ERR Protocol error:"), r
        assert c.is_closed(3), "connection still open after a protocol error"
        c.close()

    def t_max_bulk_len():
        c = kv.resp()
        ok = b"a" * (1024 * 1024)
        assert c.call("SET", "m", ok) == "OK"
        assert c.call("STRLEN", "m") == len(ok)
        c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nm\r\n$%d\r\n" % (1024 * 1024 + 1))
        r = c.read()
        assert r == Err("ERR Protocol error: invalid bulk length"), r
        assert c.is_closed(3)
        c.close()
        # CONFIG SET raises it at runtime for every connection, the one
        # that sent it included, as in redis
        for srv in (ref, kv):
            c = srv.resp()
            r = c.call("CONFIG", "SET", "proto-max-bulk-len", "2mb")
            assert r == "OK", r
            try:
                r = c.call("SET", "m2", b"b" * (1024 * 1024 + 1))
            except (harness.Closed, OSError) as e:
                r = e
            c.close()
            with srv.resp() as c2:
                assert c2.call("CONFIG", "SET", "proto-max-bulk-len", "1mb") == "OK"
            assert r == "OK", "%s: SET of 1mb+1 after CONFIG SET proto-max-bulk-len 2mb " \
                "on the same connection: %r" % (type(srv).__name__, r)

    def t_quit():
        a = exchange(ref.port, encode("QUIT") + encode("PING"))
        b = exchange(kv.port, encode("QUIT") + encode("PING"))
        assert a == b == (b"+OK\r\n", True), (a, b)
        b = exchange(kv.port, b"QUIT\r\n")
        assert b == (b"+OK\r\n", True), b

    def t_200_connections():
        conns = [kv.resp() for _ in range(200)]
        try:
            for i, c in enumerate(conns):
                c.send("SET", "conn:%d" % i, str(i))
            for c in conns:
                assert c.read() == "OK"
            for i, c in enumerate(conns):
                c.send("INCR", "conn:%d" % i)
            for i, c in enumerate(conns):
                assert c.read() == i + 1
            info = harness.parse_info(conns[0].call("INFO", "clients"))
            assert int(info.get("connected_clients", "0")) >= 200, info
        finally:
            for c in conns:
                c.close()

    def t_maxclients():
        srv = harness.RaftkvServer(extra=["--log-level", "warn", "--maxclients", "5"]).start()
        conns = []
        try:
            # start() pinged on a connection that is now closing: wait until
            # the server has forgotten it
            def five_fit():
                for c in conns:
                    c.close()
                conns.clear()
                try:
                    for _ in range(5):
                        c = srv.resp(timeout=5)
                        conns.append(c)
                        if c.call("PING") != "PONG":
                            return False
                    return True
                except (harness.Closed, OSError):
                    return False
            harness.wait_for(five_fit, 10, "5 clients connected")
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            data = b""
            end = time.time() + 5
            while time.time() < end and b"\r\n" not in data:
                d = s.recv(1024)
                if not d:
                    break
                data += d
            assert data == b"-ERR max number of clients reached\r\n", data
            s.settimeout(3)
            try:
                assert s.recv(1024) == b"", "6th client not disconnected"
            except ConnectionResetError:
                pass
            s.close()
            for c in conns:
                assert c.call("PING") == "PONG"
            conns.pop().close()

            def sixth_fits():
                try:
                    with srv.resp(timeout=2) as c:
                        return c.call("PING") == "PONG"
                except (harness.Closed, OSError):
                    return False
            harness.wait_for(sixth_fits, 10, "a free slot after a client left")
        finally:
            for c in conns:
                c.close()
            srv.close()

    tap.run("inline commands", t_inline)
    tap.run("inline parsing same as redis-server", t_inline_vs_redis)
    tap.run("10,000 pipelined commands in one send", t_pipeline_10000)
    tap.run("requests sent byte by byte", t_byte_by_byte)
    tap.run("long command in random chunks", t_random_chunks)
    tap.run("10 MB value", t_big_value)
    tap.run("protocol errors: same bytes and close as redis-server", t_protocol_errors)
    tap.run("protocol error closes the connection", t_error_then_closed)
    tap.run("bulk beyond proto-max-bulk-len: error and close", t_max_bulk_len)
    tap.run("QUIT", t_quit)
    tap.run("200 concurrent connections", t_200_connections)
    tap.run("--maxclients 5: the 6th client is refused", t_maxclients)
    tap.check("server still running", kv.alive(), kv.log_tail())


if __name__ == "__main__":
    main()
